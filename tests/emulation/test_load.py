"""The background load: ready behind a barrier, pinned, inside the profile's groups, always reaped."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import pytest

from emulation import stale
from emulation.load import BackgroundLoad, LoadNotReady, WorkerDied
from tests.emulation.conftest import alive, our_groups, wait_gone

LOADED_ONE_CPU = {"profile": "edge-loaded", "overrides": {"cpus": 1, "load_workers": 2}}


def _cgroup_of(pid: int, controller: str) -> str:
    with open(f"/proc/{pid}/cgroup") as fh:
        return next(line.rstrip().split(":", 2)[2] for line in fh if controller in line.split(":")[1].split(","))


@pytest.mark.cgroup
def test_workers_alive_pinned_and_in_the_group_while_running(child, cgroup_places, tiny_tflite):
    c = child({**LOADED_ONE_CPU, "model": str(tiny_tflite), "then": "wait"})
    ready = c.event()
    pids = ready["worker_pids"]
    cpus = ready["record"]["enforced"]["affinity"]["value"]
    assert len(pids) == 2 and alive(pids) == pids
    assert cpus == [sorted(os.sched_getaffinity(0))[-1]]
    assert [sorted(os.sched_getaffinity(p)) for p in pids] == [cpus, cpus]
    group = os.path.basename(ready["groups"]["memory"])
    assert all(_cgroup_of(p, "memory").endswith("/" + group) for p in pids)
    load = ready["load"]
    assert load["valid"] and load["runner"] and len(load["warmup_s"]) == 2
    c.proc.send_signal(signal.SIGTERM)
    assert c.finish()[0] == -signal.SIGTERM
    assert not wait_gone(pids)
    assert not our_groups(cgroup_places, [ready["pid"]])


@pytest.mark.cgroup
@pytest.mark.parametrize("to", ["process", "process-group"])
def test_ctrl_c_stops_the_load_and_removes_the_groups(child, cgroup_places, tiny_tflite, to):
    """A terminal's Ctrl-C signals the whole process group, workers included."""
    c = child({**LOADED_ONE_CPU, "model": str(tiny_tflite), "then": "wait"}, new_session=to == "process-group")
    ready = c.event()
    if to == "process":
        c.proc.send_signal(signal.SIGINT)
    else:
        os.killpg(c.proc.pid, signal.SIGINT)
    rc, err = c.finish()
    assert rc == -signal.SIGINT, err
    assert not wait_gone(ready["worker_pids"])
    assert not our_groups(cgroup_places, [ready["pid"]])


@pytest.mark.cgroup
def test_killed_worker_is_detected_and_everything_is_cleaned(child, cgroup_places, tiny_tflite):
    c = child({**LOADED_ONE_CPU, "model": str(tiny_tflite), "then": "check"})
    ready = c.event()
    os.kill(ready["worker_pids"][1], signal.SIGKILL)
    died = c.event()
    assert died["event"] == "worker_died" and died["index"] == 1 and died["returncode"] == -signal.SIGKILL
    assert "worker 1" in died["message"] and "killed by signal 9" in died["message"]
    assert c.finish()[0] == 3
    assert not wait_gone(ready["worker_pids"])
    assert not our_groups(cgroup_places, [ready["pid"]])


@pytest.mark.cgroup
def test_workers_die_with_a_killed_parent(child, cgroup_places, tiny_tflite):
    c = child({**LOADED_ONE_CPU, "model": str(tiny_tflite), "then": "wait"})
    ready = c.event()
    c.proc.kill()
    c.finish()
    assert not wait_gone(ready["worker_pids"]), "PR_SET_PDEATHSIG should have killed the workers"
    left = list(Path(tempfile.gettempdir()).glob(stale.load_dir_prefix(ready["pid"]) + "*"))
    assert len(left) == 1, "SIGKILL leaves the load's temporary folder behind"
    c2 = child({"profile": "edge-idle"})  # the next start removes the stale groups and the folder
    ready2 = c2.event()
    assert c2.finish()[0] == 0
    assert not our_groups(cgroup_places, [ready["pid"]])
    assert not left[0].exists()
    assert {"dir": str(left[0]), "pid": ready["pid"], "removed": True} in ready2["record"]["environment"]["stale_load_dirs"]


def test_load_report_in_process(tiny_tflite):
    with BackgroundLoad(tiny_tflite, 2, sample_interval_s=0.2) as load:
        load.check()
        time.sleep(0.6)  # a few clock ticks of CPU time and three samples
        sample = load.sample()
        assert sample["alive"] == [True, True]
    report = load.report()
    assert report["state"] == "stopped" and report["valid"] and report["died"] == []
    assert report["inferences_per_s"] > 0 and report["cpu_share_total"] > 0
    assert report["start_s"] > 0 and report["stop_s"] >= 0
    assert not alive(report["pids"])
    assert load.stop() == report  # idempotent


def test_worker_that_cannot_start_is_reported(tmp_path):
    bad = tmp_path / "not-a-model.tflite"
    bad.write_bytes(b"this is not a flatbuffer")
    load = BackgroundLoad(bad, 2, ready_timeout_s=60)
    with pytest.raises(WorkerDied, match=r"background load worker \d \(pid \d+\) exited with code 1"):
        load.start()
    assert not alive(load.pids)


def test_readiness_timeout_is_clear(tiny_tflite):
    load = BackgroundLoad(tiny_tflite, 2, ready_timeout_s=0.01)
    with pytest.raises(LoadNotReady, match="not ready after .* raise ready_timeout_s or lower load_workers"):
        load.start()
    assert not alive(load.pids)


def test_from_profile(tiny_tflite):
    from emulation.profiles import get_profile

    load = BackgroundLoad.from_profile(get_profile("edge-loaded", {"load_workers": 3, "load_threads": 2}), tiny_tflite)
    assert (load.workers, load.threads_per_worker) == (3, 2)
    assert "3 LiteRT workers x 2 thread(s), new" == load.describe()
    with pytest.raises(ValueError, match="profile 'edge-idle' has no background load"):
        BackgroundLoad.from_profile(get_profile("edge-idle"), tiny_tflite)


def test_bad_arguments(tiny_tflite, tmp_path):
    with pytest.raises(ValueError, match="workers must be >= 1, got 0"):
        BackgroundLoad(tiny_tflite, 0)
    with pytest.raises(ValueError, match="is not a file"):
        BackgroundLoad(tmp_path / "missing.tflite", 1)
