"""apply_profile in a child process: the limits are real, read back, recorded and always removed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from emulation import cgroups
from tests.emulation.conftest import REPO_ROOT, our_groups

#: Wall time of the two-thread workload [s]: a few CFS periods of 100 ms.
WORKLOAD_S = 1.5
#: CPU time / wall time allowed above the limit: CFS accounting slack and start-up.
SLACK = 1.1


@pytest.mark.cgroup
def test_device_gets_at_most_one_cpu_second_per_second(child, cgroup_places):
    c = child({"profile": "device", "workload_s": WORKLOAD_S})
    ready = c.event()
    assert c.finish()[0] == 0
    enforced = ready["record"]["enforced"]
    assert enforced["affinity"]["enforced"] and len(enforced["affinity"]["value"]) == 1
    assert enforced["affinity"]["value"] == [sorted(os.sched_getaffinity(0))[-1]]
    assert enforced["memory_limit"] == {**enforced["memory_limit"], "enforced": True, "value": 4 * 1024**3}
    assert enforced["cpu_quota"]["requested"] is False and enforced["cpu_quota"]["enforced"] is False
    assert ready["workload"]["cpu_per_wall"] <= 1.0 * SLACK
    assert not our_groups(cgroup_places, [ready["pid"]])


@pytest.mark.cgroup
def test_half_a_core_quota_gets_at_most_half(child, cgroup_places):
    c = child({"profile": "device", "overrides": {"cpu_quota": 0.5}, "workload_s": WORKLOAD_S})
    ready = c.event()
    assert c.finish()[0] == 0
    quota = ready["record"]["enforced"]["cpu_quota"]
    assert quota["enforced"] and quota["value"] == 0.5 and quota["period_us"] == cgroups.CFS_PERIOD_US
    assert quota["effective"] == 0.5
    assert ready["workload"]["cpu_per_wall"] <= 0.5 * SLACK
    released = c.event()
    assert released["event"] == "released" and not released["record"]["released"]["errors"]
    assert not our_groups(cgroup_places, [ready["pid"]])


def test_unenforceable_limit_raises_with_the_remedy(child, tmp_path):
    c = child({"profile": "device", "cgroup_root": str(tmp_path / "missing")})
    event = c.event()
    assert c.finish()[0] == 2
    assert event["event"] == "not_enforced"
    assert "memory_limit" in event["reasons"] and "--allow-unenforced" in event["message"]


def test_allowed_unenforced_limit_is_recorded_as_such(child, tmp_path):
    c = child({"profile": "device", "overrides": {"cpu_quota": 0.5}, "allow_unenforced": True,
               "cgroup_root": str(tmp_path / "missing")})
    ready = c.event()
    assert c.finish()[0] == 0
    record = ready["record"]
    for key in ("cpu_quota", "memory_limit"):
        assert record["enforced"][key]["requested"] is True
        assert record["enforced"][key]["enforced"] is False
        assert "missing" in record["enforced"][key]["reason"]
    assert record["all_enforced"] is False
    assert record["enforced"]["affinity"]["enforced"] is True  # what could be applied still was
    json.dumps(record)


@pytest.mark.cgroup
@pytest.mark.parametrize("how", ["exception", "sigint", "sigterm"])
def test_no_group_left_on_any_exit_path(child, cgroup_places, how):
    c = child({"profile": "device", "overrides": {"cpu_quota": 0.9}, "then": "raise" if how == "exception" else "wait"})
    ready = c.event()
    assert set(ready["groups"]) == {"cpu", "memory"}
    if how != "exception":  # (the raising child may already be gone)
        assert our_groups(cgroup_places, [ready["pid"]])  # the groups exist while it runs
        c.proc.send_signal(signal.SIGINT if how == "sigint" else signal.SIGTERM)
    rc, err = c.finish()
    # an uncaught KeyboardInterrupt ends Python by re-raising SIGINT (Python >= 3.8)
    expected = {"exception": 1, "sigint": -signal.SIGINT, "sigterm": -signal.SIGTERM}[how]
    assert rc == expected, err
    assert not our_groups(cgroup_places, [ready["pid"]])


@pytest.mark.cgroup
def test_stale_group_of_a_killed_run_is_removed_next_time(child, cgroup_places):
    c = child({"profile": "device", "overrides": {"cpu_quota": 0.9}, "then": "wait"})
    ready = c.event()
    c.proc.kill()
    c.finish()
    stale = our_groups(cgroup_places, [ready["pid"]])
    assert stale, "SIGKILL leaves the group behind (nothing can run on SIGKILL)"
    c2 = child({"profile": "edge-idle"})  # no quota: its cpu group is cleaned all the same
    ready2 = c2.event()
    assert c2.finish()[0] == 0
    removed = [s["group"] for s in ready2["record"]["environment"]["stale_groups"] if s["removed"]]
    assert set(stale) <= set(removed)
    assert not our_groups(cgroup_places, [ready["pid"], ready2["pid"]])


def test_tensorflow_pools_are_set_and_read_back(child, tmp_path):
    """TensorFlow in a fresh process (the one import of it in the unit tests' children: about 10 s on an
    idle 2-core host). Its pools take the profile's sizes before the first op, and a later request for
    other sizes reads back as not enforced. No cgroups are needed: the limits are allowed unenforced."""
    c = child({"profile": "device", "tf_threads": True, "tf_threads_after_first_op": {"tf_intra_op": 2, "tf_inter_op": 2},
               "allow_unenforced": True, "cgroup_root": str(tmp_path / "missing"), "env": {"TF_USE_LEGACY_KERAS": "1"}})
    ready = c.event(timeout_s=300)
    assert c.finish()[0] == 0, c.stderr
    assert ready["tf_threads"] == {"tensorflow_intra_op": 1, "tensorflow_inter_op": 1, "litert": 1, "enforced": True}
    assert ready["record"]["enforced"]["threads"]["tensorflow"]["enforced"] is True
    after = ready["tf_after_first_op"]
    assert (after["enforced"], after["intra_op_read_back"], after["inter_op_read_back"]) == (False, 1, 1)
    assert after["reason"] == "tf.config.threading reads back intra=1, inter=1 for a request of 2, 2"


def test_exit_guard_leaves_ignored_signals_ignored():
    """Under nohup (SIGHUP ignored) or as a shell's background job (SIGINT ignored) the signal
    does not end the run, so it must not tear the profile down under a run that goes on."""
    from emulation.guard import ExitGuard

    calls = []
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        guard = ExitGuard(lambda: calls.append("cleanup"), "test")
        try:
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) == guard._handler
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.05)
            assert calls == []
        finally:
            guard.disarm()
        assert signal.getsignal(signal.SIGTERM) != guard._handler
    finally:
        signal.signal(signal.SIGHUP, previous)


@pytest.mark.cgroup
def test_a_child_killed_by_the_memory_limit_is_seen_while_the_parent_lives(child, cgroup_places, oom_at_the_limit):
    """The OOM killer takes the largest process of the group: here a child, as it could be a load worker."""
    c = child({"profile": "device", "overrides": {"memory_bytes": 96 * 1024**2}, "then": "oom_child",
               "hog_bytes": 512 * 1024**2})
    ready = c.event()
    held = c.event()
    assert c.finish()[0] == 0
    assert held["hog_returncode"] == -signal.SIGKILL
    problem = held["problems"]["memory_limit"]
    assert "the memory limit (96 MiB) killed 1 process(es) of this run" in problem
    assert ready["groups"]["memory"] in problem
    assert not our_groups(cgroup_places, [ready["pid"]])


@pytest.mark.cgroup
def test_cleanup_names_the_profile_whose_memory_limit_killed_a_run(child, cgroup_places, oom_at_the_limit):
    """The process itself is killed: no clean-up runs; `python -m emulation cleanup` says what happened."""
    c = child({"profile": "device", "overrides": {"memory_bytes": 96 * 1024**2}, "then": "hog",
               "hog_bytes": 512 * 1024**2})
    ready = c.event()
    rc, err = c.finish()
    assert rc == -signal.SIGKILL, err
    group = ready["groups"]["memory"]
    done = subprocess.run([sys.executable, "-m", "emulation", "cleanup"], cwd=REPO_ROOT, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert (f"run {ready['pid']} (profile device) was killed by its memory limit: cgroup {group} counted 1 "
            f"OOM kill(s) at a limit of 96 MiB") in done.stdout, done.stdout
    assert f"removed the stale cgroup {group} of dead run {ready['pid']} (profile device)" in done.stdout
    assert not our_groups(cgroup_places, [ready["pid"]])


def test_affinity_that_no_longer_holds_is_named(child):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU allowed: widening the affinity changes nothing")
    c = child({"profile": "device", "allow_unenforced": True, "cgroup_root": "/nonexistent", "then": "escape"})
    c.event()
    held = c.event()
    assert c.finish()[0] == 0
    assert "outside" in held["problems"]["affinity"]


@pytest.mark.cgroup
def test_a_leftover_group_under_this_pid_does_not_block_the_run(child, cgroup_places):
    """A killed earlier holder of the child's pid left its groups: they are stale, not a reason to refuse."""
    c = child({"profile": "device", "overrides": {"cpu_quota": 0.9}, "plant": "own_groups"})
    ready = c.event()
    assert c.finish()[0] == 0, c.stderr
    assert ready["event"] == "ready", ready
    removed = {s["group"] for s in ready["record"]["environment"]["stale_groups"] if s["removed"]}
    assert set(ready["groups"].values()) <= removed
    assert ready["record"]["all_enforced"]
    assert not our_groups(cgroup_places, [ready["pid"]])


@pytest.mark.cgroup
def test_a_folder_at_the_note_refuses_the_run_before_any_group_exists(child, cgroup_places, tmp_path):
    """A folder planted at the note's name in the shared temporary folder: a clear refusal, nothing left."""
    c = child({"profile": "device", "overrides": {"cpu_quota": 0.9}, "plant": "note_dir",
               "env": {"TMPDIR": str(tmp_path)}})
    event = c.event()
    rc, err = c.finish()
    assert (rc, event["event"]) == (4, "refused"), err
    assert f"cannot leave the run's note {event['planted'][0]}" in event["message"]
    assert not our_groups(cgroup_places, [c.proc.pid])


@pytest.mark.cgroup
@pytest.mark.parametrize("limit, tamper, says", [
    ("cpu_quota", {"cpu_quota": 0.9}, "reads back a quota of 90000 us, not 50000"),
    ("memory_limit", {"memory_bytes": 512 * 1024**2}, f"reads back a memory limit of {512 * 1024**2} B, not {256 * 1024**2}"),
], ids=["cpu_quota", "memory_limit"])
def test_a_limit_rewritten_behind_the_profiles_back_is_named(child, cgroup_places, limit, tamper, says):
    """The child rewrites its own group's limit after the profile was applied: the run no longer holds it."""
    c = child({"profile": "device", "overrides": {"cpu_quota": 0.5, "memory_bytes": 256 * 1024**2}, "tamper": tamper})
    held = c.event()
    assert c.finish()[0] == 0, c.stderr
    assert set(held["problems"]) == {limit}
    assert says in held["problems"][limit]


@pytest.mark.cgroup
@pytest.mark.parametrize("limit, scale, request_, read_back", [
    ("cpu_quota", {"cpu_quota": 0.5}, 0.5, 0.25),
    ("memory_limit", {"memory_bytes": 0.5}, 256 * 1024**2, 128 * 1024**2),
], ids=["cpu_quota", "memory_limit"])
def test_a_limit_that_reads_back_other_than_requested_is_not_enforced(child, cgroup_places, limit, scale, request_,
                                                                      read_back):
    """The limit is written at half the request (as a clamping hierarchy would leave it): the read-back says so."""
    c = child({"profile": "device", "overrides": {"cpu_quota": 0.5, "memory_bytes": 256 * 1024**2},
               "write_scale": scale})
    event = c.event()
    assert c.finish()[0] == 2, c.stderr
    assert event["event"] == "not_enforced"
    assert event["reasons"] == {
        limit: f"read back {read_back!r} (process in group: True) for a request of {request_!r}"}
    assert not our_groups(cgroup_places, [c.proc.pid])
