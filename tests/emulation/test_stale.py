"""What a killed run leaves behind: its note, its load folder, and what the next start says."""

from __future__ import annotations

import subprocess

from emulation import cgroups, stale


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_note_round_trip_and_removal(tmp_path):
    path = stale.write_note("device", {"memory": "/sys/fs/cgroup/memory/x"}, 4 * 1024**3, tmp=tmp_path)
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
