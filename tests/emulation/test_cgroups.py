"""Cgroup plumbing: locating controllers, and which stale groups may be removed."""

from __future__ import annotations

import os
import subprocess

import pytest

from emulation import cgroups


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_missing_root_says_why(tmp_path):
    with pytest.raises(cgroups.CgroupUnavailable, match=r"no cgroup hierarchy with a cpu controller under .*nowhere"):
        cgroups.locate_controller("cpu", tmp_path / "nowhere")


def test_v2_without_delegation_says_why(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("pids\n")
    (tmp_path / "cgroup.procs").write_text("")
    own = cgroups._read_proc_cgroup()
    if not any(hid == "0" and path == "/" for hid, _, path in own):
        pytest.skip("this process is not in the v2 root group: the fake tree would need its path")
    with pytest.raises(cgroups.CgroupUnavailable, match="controller not delegated"):
        cgroups.locate_controller("cpu", tmp_path)


@pytest.mark.cgroup
def test_only_empty_groups_of_dead_owners_are_removed(cgroup_places):
    place = cgroup_places["memory"]
    dead = place.own_group / cgroups.group_name(_dead_pid())
    living = place.own_group / cgroups.group_name(1)  # pid 1 is alive
    dead.mkdir()
    living.mkdir()
    try:
        removed = cgroups.remove_stale_groups(place)
        assert [e for e in removed if e["group"] == str(dead)] == [
            {"group": str(dead), "pid": int(dead.name.rsplit("-", 1)[1]), "controller": "memory", "oom_kills": 0,
             "memory_limit": None, "removed": True}]
        assert not dead.exists() and living.exists()
    finally:
        for g in (dead, living):
            if g.exists():
                g.rmdir()


@pytest.mark.cgroup
def test_quota_and_memory_round_trip(cgroup_places):
    for controller, write, read, value, expected in [
        ("cpu", cgroups.write_cpu_quota, cgroups.read_cpu_quota, 0.25, (25_000, cgroups.CFS_PERIOD_US)),
        ("memory", cgroups.write_memory_limit, cgroups.read_memory_limit, 256 * 1024**2, 256 * 1024**2),
    ]:
        place = cgroup_places[controller]
        group = cgroups.create_group(place)
        try:
            write(place, group, value)
            assert read(place, group) == expected
        finally:
            cgroups.remove_group(group)


@pytest.mark.cgroup
def test_a_leftover_group_of_this_pid_is_stale_unless_this_process_made_it(cgroup_places):
    """pids repeat (in containers especially): a killed run's group may carry this process's pid."""
    for place in cgroup_places.values():
        leftover = place.own_group / cgroups.group_name()
        leftover.mkdir()  # made by "another" process: not through create_group
        try:
            found = [e for e in cgroups.remove_stale_groups(place) if e["group"] == str(leftover)]
            assert [(e["pid"], e["removed"]) for e in found] == [(os.getpid(), True)]
            assert not leftover.exists()
            mine = cgroups.create_group(place)
            assert not [e for e in cgroups.remove_stale_groups(place) if e["group"] == str(mine)]
            assert mine.is_dir()
        finally:
            cgroups.remove_group(leftover)
