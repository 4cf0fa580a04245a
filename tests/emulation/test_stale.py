"""What a killed run leaves behind: its note, its load folder, and what the next start says."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from emulation import cgroups, stale


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_note_round_trip_and_removal(tmp_path):
    path = stale.write_note("device", 4 * 1024**3, tmp=tmp_path)
    assert path == tmp_path / f"{cgroups.group_name()}.json"
    note = stale.read_note(int(path.stem.rsplit("-", 1)[1]), tmp_path)
    assert note["profile"] == "device" and note["memory_limit"] == 4 * 1024**3
    stale.remove_note(tmp=tmp_path)
    assert not path.exists() and stale.read_note(0, tmp_path) is None


def test_only_load_folders_of_dead_owners_are_removed(tmp_path):
    dead = tmp_path / f"{stale.load_dir_prefix(_dead_pid())}abc123"
    living = tmp_path / f"{stale.load_dir_prefix(1)}def456"  # pid 1 is alive
    unowned = tmp_path / "continuum-load-xyz"  # no pid in the name: not ours to judge
    for d in (dead, living, unowned):
        d.mkdir()
        (d / "counters").write_bytes(b"\0" * 16)
    removed = stale.remove_stale_load_dirs(tmp_path)
    assert removed == [{"dir": str(dead), "pid": int(dead.name.split("-")[2]), "removed": True}]
    assert not dead.exists() and living.exists() and unowned.exists()


def test_an_oom_kill_is_said_first_with_the_group_and_the_profile():
    groups = [
        {"group": "/sys/fs/cgroup/cpu/continuum-bench-7", "pid": 7, "controller": "cpu", "removed": True,
         "profile": "device"},
        {"group": "/sys/fs/cgroup/memory/continuum-bench-7", "pid": 7, "controller": "memory", "removed": True,
         "profile": "device", "oom_kills": 1, "memory_limit": 300 * 1024**2},
    ]
    lines = stale.stale_messages(groups, [{"dir": "/tmp/continuum-load-7-ab", "pid": 7, "removed": True}])
    assert lines[0] == ("run 7 (profile device) was killed by its memory limit: cgroup "
                        "/sys/fs/cgroup/memory/continuum-bench-7 counted 1 OOM kill(s) at a limit of 300 MiB; "
                        "raise it with --profile-set memory_bytes=... or run a smaller preset")
    assert lines[1:] == [
        "removed the stale cgroup /sys/fs/cgroup/cpu/continuum-bench-7 of dead run 7 (profile device)",
        "removed the stale cgroup /sys/fs/cgroup/memory/continuum-bench-7 of dead run 7 (profile device)",
        "removed the background load folder /tmp/continuum-load-7-ab of dead run 7",
    ]


def test_a_symlink_planted_at_the_note_is_replaced_not_written_through(tmp_path):
    """Another user plants the note's names as symlinks to a file root may write: it stays as it was."""
    victim = tmp_path / "victim"
    victim.write_text("precious")
    final = stale.note_path(tmp=tmp_path)
    for name in (final, final.with_name(final.name + ".partial")):
        name.symlink_to(victim)
    stale.write_note("device", 4 * 1024**3, tmp=tmp_path)
    assert victim.read_text() == "precious"
    assert not final.is_symlink() and stale.read_note(int(final.stem.rsplit("-", 1)[1]), tmp_path)["profile"] == "device"


def test_a_folder_planted_at_the_note_is_refused_naming_it_and_leaves_nothing(tmp_path):
    final = stale.note_path(tmp=tmp_path)
    final.mkdir()
    final.with_name(final.name + ".partial").mkdir()
    before = sorted(tmp_path.iterdir())
    with pytest.raises(stale.NoteNotWritable, match=f"cannot leave the run's note {final}: "):
        stale.write_note("device", None, tmp=tmp_path)
    assert sorted(tmp_path.iterdir()) == before


def test_a_note_is_not_read_through_a_symlink(tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"profile": "not a note"}))
    pid = _dead_pid()
    stale.note_path(pid, tmp_path).symlink_to(secret)
    assert stale.read_note(pid, tmp_path) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a folder to another user")
def test_a_load_folder_of_another_user_is_not_removed(tmp_path):
    """Root cleaning the shared temporary folder removes only what its own runs made."""
    theirs = tmp_path / f"{stale.load_dir_prefix(_dead_pid())}abc123"
    theirs.mkdir()
    os.chown(theirs, 65534, 65534)
    assert stale.remove_stale_load_dirs(tmp_path) == []
    assert theirs.is_dir()


def test_a_note_of_this_pid_that_this_process_did_not_write_is_stale(tmp_path):
    """pids repeat: a note under this process's pid was left by an earlier, killed holder of the pid."""
    left = stale.note_path(tmp=tmp_path)
    left.write_text(json.dumps({"pid": os.getpid(), "profile": "device", "memory_limit": None}))
    stale.remove_stale_groups(cgroup_root=tmp_path / "no-hierarchy", tmp=tmp_path)
    assert not left.exists()
    mine = stale.write_note("device", None, tmp=tmp_path)
    stale.remove_stale_groups(cgroup_root=tmp_path / "no-hierarchy", tmp=tmp_path)
    assert mine.exists()
    stale.remove_note(tmp=tmp_path)



@pytest.mark.cgroup
def test_a_forged_note_cannot_put_control_characters_in_the_messages(tmp_path, cgroup_places):
    """A note's name is predictable, so another user may write one: its profile reaches root's terminal."""
    pid = _dead_pid()
    group = cgroup_places["cpu"].own_group / cgroups.group_name(pid)
    group.mkdir()
    stale.note_path(pid, tmp_path).write_text(json.dumps({"profile": "device\x1b]0;owned\x07\nfake line"}))
    try:
        found = [e for e in stale.remove_stale_groups(tmp=tmp_path) if e["group"] == str(group)]
    finally:
        cgroups.remove_group(group)
    assert [(e["removed"], e["profile"]) for e in found] == [(True, None)]
