"""What a killed run leaves behind, and its removal (with what it says) at the next start.

A run ended by SIGKILL -- a user's, or the kernel's OOM killer at the profile's
memory limit -- runs no clean-up: its ``continuum-bench-<pid>`` cgroups stay
(empty, the workers die with their parent) and so does the background load's
temporary folder ``continuum-load-<pid>-*``. So that the next start can say
*which* profile was killed and why, every run that creates groups leaves a note
``<tmp>/continuum-bench-<pid>.json`` (its profile and memory limit), written
before its groups exist and removed with them on a normal release.

The temporary folder is shared with other users, so no name there is trusted:
the note is written to a fresh ``O_EXCL|O_NOFOLLOW`` file of a random name and
renamed over its final name (a planted symlink is replaced, never followed); a
note is read only from a regular file, without following a symlink; a load
folder is removed only when it is a real folder owned by this user.

    groups = remove_stale_groups()        # apply_profile and `python -m emulation cleanup`
    dirs = remove_stale_load_dirs()
    for line in stale_messages(groups, dirs):
        print(line)                       # "run 1234 (profile device) was killed by its memory limit: ..."
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

from emulation import cgroups

#: Name prefix of the background load's temporary folder; the owner's pid and a dash follow.
LOAD_DIR_PREFIX = "continuum-load-"
#: Largest note read back [B]: a note is a few hundred bytes; anything bigger is not ours.
MAX_NOTE_BYTES = 64 * 1024

#: Notes this process wrote: a note under this process's pid that is not here was left by an
#: earlier process that had the same pid (pids repeat, in containers especially).
_written: set[Path] = set()


class NoteNotWritable(ValueError):
    """The run's note cannot be left in the temporary folder; the message names the path and why."""


def _tmp(tmp: Path | str | None) -> Path:
    return Path(tmp) if tmp is not None else Path(tempfile.gettempdir())


def note_path(pid: int | None = None, tmp: Path | str | None = None) -> Path:
    """Where run ``pid`` (default: this process) keeps its note."""
    return _tmp(tmp) / f"{cgroups.group_name(pid)}.json"


def write_note(profile: str, memory_limit: int | None, tmp: Path | str | None = None) -> Path:
    """Leave this run's note: its profile and memory limit [B]; call before creating any group.

    Raises :class:`NoteNotWritable` naming the path when the temporary folder
    refuses it (e.g. a folder sits at the note's name); nothing is left then.
    """
    path = note_path(tmp=tmp)
    record = {"pid": os.getpid(), "profile": profile, "memory_limit": memory_limit}
    partial = None
    try:
        # mkstemp opens O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600, under a random name
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        partial = Path(name)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(record))
        os.replace(partial, path)  # rename replaces a symlink at ``path``; it never writes through it
    except OSError as exc:
        if partial is not None:
            partial.unlink(missing_ok=True)
        raise NoteNotWritable(f"cannot leave the run's note {path}: {exc.strerror or exc}; remove what is at that "
                              f"name or point TMPDIR at another folder") from None
    _written.add(path)
    return path


def read_note(pid: int, tmp: Path | str | None = None) -> dict | None:
    """The note of run ``pid``, or None when there is none, it is not a regular file, or unreadable."""
    try:
        fd = os.open(note_path(pid, tmp), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None  # a FIFO or device planted at the name would block or never end
        data = os.read(fd, MAX_NOTE_BYTES + 1)
        if len(data) > MAX_NOTE_BYTES:
            return None
        record = json.loads(data)
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    return record if isinstance(record, dict) else None


def remove_note(pid: int | None = None, tmp: Path | str | None = None) -> None:
    path = note_path(pid, tmp)
    path.unlink(missing_ok=True)
    _written.discard(path)


def load_dir_prefix(pid: int | None = None) -> str:
    """``continuum-load-<pid>-``: the prefix of run ``pid``'s (default: this process's) load folder."""
    return f"{LOAD_DIR_PREFIX}{os.getpid() if pid is None else pid}-"


def remove_stale_groups(cgroup_root: Path | str | None = None, tmp: Path | str | None = None) -> list[dict]:
    """Remove the empty groups of dead earlier runs below this process's cpu and memory groups.

    Each entry is :func:`emulation.cgroups.remove_stale_groups`' (group, pid,
    controller, removed, and for memory ``oom_kills``) plus the ``profile`` from
    the run's note (None when it left none). A dead run's note goes once none of
    its groups is left.
    """
    out = []
    for controller in ("cpu", "memory"):
        try:
            place = cgroups.locate_controller(controller, cgroup_root)
        except (cgroups.CgroupUnavailable, OSError):
            continue  # nothing to clean where there is no such hierarchy
        out += cgroups.remove_stale_groups(place)
    notes = {}
    for entry in out:
        if entry["pid"] not in notes:
            notes[entry["pid"]] = read_note(entry["pid"], tmp)
        profile = (notes[entry["pid"]] or {}).get("profile")
        # anyone may write a file at a note's name: only a plain short name goes into the messages
        entry["profile"] = profile if isinstance(profile, str) and profile.isprintable() and len(profile) <= 64 else None
    kept = {e["pid"] for e in out if not e["removed"]}
    for pid in _dead_note_pids(tmp):
        if pid not in kept:
            remove_note(pid, tmp)
    return out


def _dead_note_pids(tmp: Path | str | None) -> list[int]:
    prefix = cgroups.GROUP_PREFIX
    pids = []
    try:
        names = os.listdir(_tmp(tmp))
    except OSError:
        return pids
    for name in names:
        stem = name[len(prefix):-len(".json")] if name.startswith(prefix) and name.endswith(".json") else ""
        if not stem.isdigit() or os.path.isdir(_tmp(tmp) / name):
            continue  # a folder at a note's name is no note (write_note refuses it, naming it)
        pid = int(stem)
        if pid == os.getpid() and _tmp(tmp) / name not in _written:
            pids.append(pid)  # left by an earlier process with this pid
        elif pid != os.getpid() and not cgroups.pid_alive(pid):
            pids.append(pid)
    return pids


def remove_stale_load_dirs(tmp: Path | str | None = None) -> list[dict]:
    """Remove ``continuum-load-<pid>-*`` folders whose owner ``pid`` is dead; one entry per folder."""
    out = []
    try:
        names = sorted(os.listdir(_tmp(tmp)))
    except OSError:
        return out
    for name in names:
        owner = name[len(LOAD_DIR_PREFIX):].split("-", 1)[0] if name.startswith(LOAD_DIR_PREFIX) else ""
        if not owner.isdigit() or int(owner) == os.getpid() or cgroups.pid_alive(int(owner)):
            continue
        path = _tmp(tmp) / name
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            continue  # not a folder this user's run made (mkdtemp makes real 0700 folders): not ours to remove
        try:
            shutil.rmtree(path)
            out.append({"dir": str(path), "pid": int(owner), "removed": True})
        except OSError as exc:
            out.append({"dir": str(path), "pid": int(owner), "removed": False, "reason": str(exc)})
    return out


def stale_messages(groups: list[dict], dirs: list[dict] = ()) -> list[str]:
    """One line per finding: an OOM kill first (group, profile, limit), then what was removed or kept."""
    lines = []
    for g in groups:
        if g.get("oom_kills"):
            limit = g.get("memory_limit")
            lines.append(
                f"run {g['pid']} (profile {g.get('profile') or 'unknown'}) was killed by its memory limit: "
                f"cgroup {g['group']} counted {g['oom_kills']} OOM kill(s) at a limit of "
                f"{'unknown' if limit is None else f'{limit / 2**20:.0f} MiB'}; raise it with "
                f"--profile-set memory_bytes=... or run a smaller preset")
    for g in groups:
        who = f"dead run {g['pid']} (profile {g.get('profile') or 'unknown'})"
        if g["removed"]:
            lines.append(f"removed the stale cgroup {g['group']} of {who}")
        else:
            lines.append(f"kept the cgroup {g['group']} of {who}: {g.get('reason')}")
    for d in dirs:
        if d["removed"]:
            lines.append(f"removed the background load folder {d['dir']} of dead run {d['pid']}")
        else:
            lines.append(f"could not remove the background load folder {d['dir']} of dead run {d['pid']}: {d['reason']}")
    return lines
