"""Fixtures shared by the tests: writable cgroups (or the reason to skip)."""

from __future__ import annotations

import os

import pytest

from emulation import cgroups


def _cgroup_skip_reason() -> str | None:
    """Why profiles cannot be enforced here, or None when cpu and memory groups can be created."""
    for controller in ("cpu", "memory"):
        try:
            place = cgroups.locate_controller(controller)
        except (cgroups.CgroupUnavailable, OSError) as exc:
            return f"no usable {controller} cgroup: {exc}"
        if not os.access(place.own_group, os.W_OK):
            return f"{place.own_group} is not writable by this user"
    return None


@pytest.fixture(scope="session")
def cgroup_places() -> dict[str, cgroups.ControllerPlace]:
    reason = _cgroup_skip_reason()
    if reason:
        pytest.skip(f"needs a writable cgroup cpu/memory hierarchy: {reason}")
    return {c: cgroups.locate_controller(c) for c in ("cpu", "memory")}


def _swap_bytes() -> int:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("SwapTotal:"):
                return int(line.split()[1]) * 1024
    return 0


@pytest.fixture(scope="session")
def oom_at_the_limit(cgroup_places) -> None:
    """Skip unless a process over the memory limit is killed: with swap it is swapped out instead
    (the profile limits memory, not memory + swap)."""
    swap = _swap_bytes()
    if swap:
        pytest.skip(f"this host has {swap / 2**30:.1f} GiB of swap: a process over the memory limit is swapped, not killed")
