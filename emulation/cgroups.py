"""Cgroup plumbing for the CPU quota and the memory limit (v1 and v2).

The suite only ever creates child groups named ``continuum-bench-<pid>`` below
the group this process already belongs to (per controller, as /proc/self/cgroup
names it), and removes them again. Nothing else in the hierarchy is written,
except moving this very process back to the group it came from.

    place = locate_controller("cpu")        # raises CgroupUnavailable with the reason
    group = create_group(place)             # <own group>/continuum-bench-<pid>
    write_cpu_quota(place, group, 0.5)
    move_pid(place, group, os.getpid())
    ...
    move_pid(place, place.own_group, os.getpid()); remove_group(group)
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass
from pathlib import Path

#: Name prefix of every group the suite creates; the owner's pid follows it.
GROUP_PREFIX = "continuum-bench-"
#: CFS period written with a quota [us] (the kernel default).
CFS_PERIOD_US = 100_000
#: v1 reports "no memory limit" as a huge page-aligned number; anything above is unlimited [B].
V1_UNLIMITED_BYTES = 2**62
#: How long remove_group retries while the kernel finishes tearing down exited tasks [s].
RMDIR_RETRY_S = 2.0
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
DEFAULT_ROOT = Path("/sys/fs/cgroup")

#: Groups this process created and has not removed: a group named after this process's pid
#: that is not here was left by an earlier process with the same pid (pids repeat in containers).
_created: set[Path] = set()


class CgroupUnavailable(RuntimeError):
    """The controller cannot be used from this process; the message says why."""


@dataclass(frozen=True)
class ControllerPlace:
    """Where one controller lives for this process.

    ``version`` 1 or 2; ``mount`` the hierarchy's mount point; ``own_group`` the
    directory of the group this process is in (children are created below it).
    """

    controller: str
    version: int
    mount: Path
    own_group: Path

    def to_dict(self) -> dict:
        return {"controller": self.controller, "version": self.version, "mount": str(self.mount),
                "own_group": str(self.own_group)}


def _read_proc_cgroup(pid: int | str = "self") -> list[tuple[str, list[str], str]]:
    with open(f"/proc/{pid}/cgroup") as fh:
        rows = []
        for line in fh:
            hid, controllers, path = line.rstrip("\n").split(":", 2)
            rows.append((hid, controllers.split(",") if controllers else [], path))
        return rows


def _mounts() -> list[tuple[str, Path, str, list[str]]]:
    """(fstype, mount point, root inside the hierarchy, super options) of cgroup mounts."""
    out = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            left, _, right = line.partition(" - ")
            fields, rfields = left.split(), right.split()
            if rfields and rfields[0] in ("cgroup", "cgroup2"):
                opts = rfields[2].split(",") if len(rfields) > 2 else []
                out.append((rfields[0], Path(fields[4]), fields[3], opts))
    return out


def _join(mount: Path, mount_root: str, group_path: str) -> Path:
    rel = os.path.relpath(group_path, mount_root) if mount_root != "/" else group_path.lstrip("/")
    if rel.startswith(".."):
        raise CgroupUnavailable(f"this process's group {group_path} is outside the mounted hierarchy {mount_root}")
    return mount / rel if rel not in ("", ".") else mount


def locate_controller(controller: str, cgroup_root: Path | str | None = None) -> ControllerPlace:
    """Find ``controller`` ("cpu" or "memory") for this process, v1 first, then v2.

    ``cgroup_root`` (default: the mounts in /proc/self/mountinfo) points at a
    tree laid out like /sys/fs/cgroup; tests pass a missing directory to get
    the not-enforced path. Raises :class:`CgroupUnavailable` with the reason.
    """
    if not os.path.exists("/proc/self/cgroup"):
        raise CgroupUnavailable("no /proc/self/cgroup: not Linux, or cgroups are not mounted")
    rows = _read_proc_cgroup()
    v1_path = next((p for _, ctl, p in rows if controller in ctl), None)
    v2_path = next((p for hid, ctl, p in rows if hid == "0" and not ctl), None)

    if cgroup_root is None:
        mounts = _mounts()
        v1 = next(((m, r) for fs, m, r, o in mounts if fs == "cgroup" and controller in o), None)
        v2 = next(((m, r) for fs, m, r, _ in mounts if fs == "cgroup2"), None)
    else:
        root = Path(cgroup_root)
        v1 = (root / controller, "/") if (root / controller / "cgroup.procs").exists() else None
        v2 = None
        for cand in (root, root / "unified"):
            if (cand / "cgroup.controllers").exists():
                v2 = (cand, "/")
                break
        if v1 is None and v2 is None:
            raise CgroupUnavailable(f"no cgroup hierarchy with a {controller} controller under {root}")

    if v1 is not None and v1_path is not None:
        own = _join(v1[0], v1[1], v1_path)
        if not own.is_dir():
            raise CgroupUnavailable(f"{controller} (cgroup v1): this process's group {own} does not exist")
        return ControllerPlace(controller, 1, v1[0], own)
    if v2 is not None and v2_path is not None:
        own = _join(v2[0], v2[1], v2_path)
        try:
            available = (own / "cgroup.controllers").read_text().split()
            delegated = (own / "cgroup.subtree_control").read_text().split()
        except OSError as exc:
            raise CgroupUnavailable(f"{controller} (cgroup v2): cannot read {own}: {exc}") from None
        if controller not in available or controller not in delegated:
            raise CgroupUnavailable(
                f"{controller} (cgroup v2): controller not delegated to {own} "
                f"(cgroup.controllers={available}, cgroup.subtree_control={delegated}); "
                "run under a delegated group, e.g. systemd-run --user --scope -p Delegate=yes"
            )
        return ControllerPlace(controller, 2, v2[0], own)
    raise CgroupUnavailable(f"no mounted cgroup hierarchy has the {controller} controller")


def group_name(pid: int | None = None) -> str:
    return f"{GROUP_PREFIX}{os.getpid() if pid is None else pid}"


def create_group(place: ControllerPlace, pid: int | None = None) -> Path:
    """mkdir ``<own group>/continuum-bench-<pid>``; raises CgroupUnavailable on failure."""
    group = place.own_group / group_name(pid)
    try:
        group.mkdir()
    except OSError as exc:
        raise CgroupUnavailable(f"{place.controller}: cannot create {group}: {exc.strerror}") from None
    _created.add(group)
    return group


def _write(path: Path, value: str) -> None:
    with open(path, "w") as fh:
        fh.write(value)


def write_cpu_quota(place: ControllerPlace, group: Path, quota: float, period_us: int = CFS_PERIOD_US) -> None:
    """Limit ``group`` to ``quota`` CPU-seconds per second [CPU-s/s]."""
    quota_us = max(1000, round(quota * period_us))
    if place.version == 1:
        _write(group / "cpu.cfs_period_us", str(period_us))
        _write(group / "cpu.cfs_quota_us", str(quota_us))
    else:
        _write(group / "cpu.max", f"{quota_us} {period_us}")


def read_cpu_quota(place: ControllerPlace, group: Path) -> tuple[int | None, int]:
    """(quota [us] or None for unlimited, period [us]) as the kernel reports them."""
    if place.version == 1:
        quota = int((group / "cpu.cfs_quota_us").read_text())
        period = int((group / "cpu.cfs_period_us").read_text())
        return (None if quota < 0 else quota), period
    quota_s, period_s = (group / "cpu.max").read_text().split()
    return (None if quota_s == "max" else int(quota_s)), int(period_s)


def write_memory_limit(place: ControllerPlace, group: Path, limit_bytes: int) -> None:
    """Limit ``group``'s memory to ``limit_bytes`` [B]."""
    _write(group / ("memory.limit_in_bytes" if place.version == 1 else "memory.max"), str(limit_bytes))


def read_memory_limit(place: ControllerPlace, group: Path) -> int | None:
    """The group's memory limit [B] as the kernel reports it, None for unlimited."""
    text = (group / ("memory.limit_in_bytes" if place.version == 1 else "memory.max")).read_text().strip()
    if text == "max":
        return None
    value = int(text)
    return None if value >= V1_UNLIMITED_BYTES else value


def effective_limit(place: ControllerPlace, group: Path, kind: str) -> float | int | None:
    """Tightest limit from ``group`` up to the mount: CPU quota [CPU-s/s] or memory [B]; None if none."""
    best = None
    path = group
    while True:
        try:
            if kind == "cpu":
                quota, period = read_cpu_quota(place, path)
                value = None if quota is None else quota / period
            else:
                value = read_memory_limit(place, path)
        except (OSError, ValueError):
            value = None
        if value is not None:
            best = value if best is None else min(best, value)
        if path == place.mount or place.mount not in path.parents:
            return best
        path = path.parent


def oom_kills(place: ControllerPlace, group: Path) -> int | None:
    """Processes of ``group`` the kernel's OOM killer ended at the group's memory limit.

    cgroup v1: ``oom_kill`` of ``memory.oom_control`` (Linux >= 4.13); v2: ``oom_kill``
    of ``memory.events``. None where the kernel keeps no such counter.
    """
    name = "memory.oom_control" if place.version == 1 else "memory.events"
    try:
        text = (group / name).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            return int(value)
    return None


def move_pid(place: ControllerPlace, group: Path, pid: int) -> None:
    """Move process ``pid`` (all its threads) into ``group``."""
    _write(group / "cgroup.procs", str(pid))


def group_pids(group: Path) -> list[int]:
    try:
        return [int(x) for x in (group / "cgroup.procs").read_text().split()]
    except FileNotFoundError:
        return []


def remove_group(group: Path, retry_s: float = RMDIR_RETRY_S) -> None:
    """rmdir ``group``, retrying briefly on EBUSY; raises OSError naming the pids left in it."""
    deadline = time.monotonic() + retry_s
    while True:
        try:
            group.rmdir()
            _created.discard(group)
            return
        except FileNotFoundError:
            _created.discard(group)
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                raise OSError(exc.errno, f"cannot remove {group}: {exc.strerror}; pids in it: {group_pids(group)}") from None
            time.sleep(0.02)


def _read_or_none(read, place: ControllerPlace, group: Path):
    try:
        return read(place, group)
    except (OSError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_groups(place: ControllerPlace) -> list[dict]:
    """Remove ``continuum-bench-<pid>`` groups below this process's group whose owner is dead.

    A group named after this process's own pid that this process did not
    create is stale too: an earlier process had the pid and was killed. Only empty groups are removed (nothing is moved out of them); the others
    are returned with the reason they were kept. Each entry names the group,
    its owner ``pid`` and the ``controller``; a memory group's entry also has
    ``oom_kills`` (:func:`oom_kills`, read before removal) and ``memory_limit`` [B].
    """
    out = []
    try:
        entries = sorted(place.own_group.iterdir())
    except OSError:
        return out
    for entry in entries:
        suffix = entry.name[len(GROUP_PREFIX):]
        if not entry.name.startswith(GROUP_PREFIX) or not suffix.isdigit() or not entry.is_dir():
            continue
        pid = int(suffix)
        if entry in _created or (pid != os.getpid() and pid_alive(pid)):
            continue
        found = {"group": str(entry), "pid": pid, "controller": place.controller}
        if place.controller == "memory":
            found.update(oom_kills=oom_kills(place, entry), memory_limit=_read_or_none(read_memory_limit, place, entry))
        pids = group_pids(entry)
        if pids:
            out.append({**found, "removed": False, "reason": f"owner {pid} is dead but pids {pids} remain"})
            continue
        try:
            remove_group(entry)
            out.append({**found, "removed": True})
        except OSError as exc:
            out.append({**found, "removed": False, "reason": str(exc)})
    return out
