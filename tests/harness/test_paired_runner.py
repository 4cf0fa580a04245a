"""The paired gate's orchestration (harness/paired_runner.py) with a stand-in worker (no TensorFlow):
worktree and workers are gone after a normal end, a worker crash (its stderr in the error),
SIGTERM, SIGHUP, and a SIGKILLed coordinator (whose worktree the next run removes); a bad REF is
named; a REF older than the worker gets the candidate's copy; a reused environment whose marker
does not match REF's pins is rebuilt. Verdicts come from reports.paired on the measurement."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reports import paired as P
from harness import paired_runner as R
from tests.emulation.conftest import wait_gone

FAKE = Path(__file__).with_name("fake_paired_worker.py")
CONFIG = P.PairedConfig(pairs=12, min_pairs=10, block_s=0.005, cases=("full-litert", "pf=70-filter-keras"), processes=3)


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    repo = tmp_path / "repo"
    (repo / "harness").mkdir(parents=True)
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '0'\n")
    # the stand-in worker's package also reaches the real harness (the gate run from this folder imports it)
    (repo / "harness" / "__init__.py").write_text("__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n")
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "old")
    shutil.copy(FAKE, repo / "harness" / "paired_worker.py")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "worker")
    return repo


def _request(repo, tmp_path, **kw):
    return R.PairedRequest(**{"against": "HEAD", "repo": repo, "work": tmp_path / "work", "plan": CONFIG,
                              "baseline_python": sys.executable, **kw})


def _clean(repo, tmp_path):
    assert not list((tmp_path / "work").glob("ref-*"))
    listed = subprocess.run(["git", "-C", str(repo), "worktree", "list"], capture_output=True, text=True).stdout
    assert len(listed.strip().splitlines()) == 1, listed


def test_a_a_ok_and_everything_removed(repo, tmp_path):
    measured = R.run_paired(_request(repo, tmp_path))
    # every block recorded in order: a warm-up quad, then ABBA / BAAB per case, round-robin
    sides = "".join(b["side"] for b in measured.blocks if b["case"] == "full-litert" and b["quad"] >= 0)
    assert sides.startswith("ABBABAABABBA") and len(sides) == 4 * CONFIG.pairs
    assert [b["case"] for b in measured.blocks[:8]] == ["full-litert"] * 4 + ["pf=70-filter-keras"] * 4
    # the quads are the recorded blocks' per-call times, warm-up left out, on both clocks
    (first, *_) = [b for b in measured.blocks if b["case"] == "full-litert" and b["quad"] == 0]
    assert measured.quads["wall"]["full-litert"][0][0][0] == first["seconds"] / first["calls"]
    assert measured.quads["cpu"]["full-litert"][0][0][0] == first["cpu_seconds"] / first["calls"]
    assert all(len(measured.quads[c][case]) == CONFIG.pairs for c in ("wall", "cpu") for case in CONFIG.cases)
    assert measured.profile == "device" and measured.preset == "quick" and len(measured.loadavg_end) == 3
    result = P.judge_measurement(measured, CONFIG)
    assert result.outcome == "ok" and [v.verdict for v in result.verdicts] == ["ok", "ok"]
    _clean(repo, tmp_path)


def test_injected_slowdown_on_the_candidate_only(repo, tmp_path):
    measured = R.run_paired(_request(repo, tmp_path, inject_slowdown=("inference=0.05",)))
    a = [b["seconds"] / b["calls"] for b in measured.blocks if b["side"] == "A"]
    b = [b["seconds"] / b["calls"] for b in measured.blocks if b["side"] == "B"]
    assert a == pytest.approx([1e-3] * len(a)) and b == pytest.approx([1.05e-3] * len(b))
    assert measured.inject_slowdown == ("inference=0.05",)
    result = P.judge_measurement(measured, CONFIG)
    assert result.outcome == "regression"
    assert all(v.ratio == pytest.approx(1.05) for v in result.verdicts)


def test_a_worker_crash_names_it_with_its_stderr(repo, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_CRASH_AFTER", "5")
    with pytest.raises(R.PairedRunError, match=r"(?s)worker [AB] .* died answering .*simulated crash in block 6"):
        R.run_paired(_request(repo, tmp_path))
    _clean(repo, tmp_path)


def test_a_bad_ref_is_named(repo, tmp_path):
    with pytest.raises(R.PairedRunError, match="--against 'no-such-branch': not a commit"):
        R.run_paired(_request(repo, tmp_path, against="no-such-branch"))


def test_a_ref_without_the_worker_gets_the_candidates_copy(repo, tmp_path):
    measured = R.run_paired(_request(repo, tmp_path, against="HEAD~1"))
    assert any("the candidate's copy" in note for note in measured.notes)
    _clean(repo, tmp_path)


def test_a_ref_of_the_earlier_layout_runs_its_own_worker(repo, tmp_path):
    (repo / "benchmarks").mkdir()
    (repo / "benchmarks" / "__init__.py").write_text("")
    _git(repo, "mv", "harness/paired_worker.py", "benchmarks/paired_worker.py")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "earlier layout")
    _git(repo, "checkout", "-q", "HEAD~1", "--", "harness")  # the candidate keeps harness/paired_worker.py
    measured = R.run_paired(_request(repo, tmp_path, against="HEAD"))
    assert P.judge_measurement(measured, CONFIG).outcome == "ok"
    assert not any("the candidate's copy" in note for note in measured.notes)
    _clean(repo, tmp_path)


def _hanging_gate(repo, tmp_path):
    """The paired gate started as a process, its stand-in workers hanging in their first block; returns it
    and the workers' pids once both have started."""
    pids = tmp_path / "pids"
    pids.mkdir()
    env = {**os.environ, "FAKE_HANG": "1", "FAKE_PID_DIR": str(pids)}
    proc = subprocess.Popen([sys.executable, "-m", "reports", "gate", "--profile", "device", "--against", "HEAD",
                             "--pairs", "10", "--baseline-python", sys.executable, "--work", str(tmp_path / "work"),
                             "--case", "full-litert"], cwd=repo, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    workers = [int(p.name) for p in pids.iterdir()]
    assert len(workers) == 2, "the stand-in workers did not start"
    return proc, workers


def _survivors(pids) -> list[int]:
    """Those of ``pids`` still running 5 s on (killed then, so that a failing test leaves none behind)."""
    left = wait_gone(pids, timeout_s=5)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_termination_signal_stops_the_workers_and_removes_the_worktree(repo, tmp_path, sig):
    proc, workers = _hanging_gate(repo, tmp_path)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted; workers stopped, worktree removed" in err
    assert not _survivors(workers)
    _clean(repo, tmp_path)


def test_a_killed_coordinator_takes_its_workers_and_the_next_run_its_worktree(repo, tmp_path):
    proc, workers = _hanging_gate(repo, tmp_path)
    proc.kill()
    proc.communicate(timeout=60)
    assert not _survivors(workers)
    assert (tmp_path / "work" / f"ref-{proc.pid}").is_dir()  # SIGKILL: no clean-up ran
    assert list((tmp_path / "work").glob(f"paired-{proc.pid}-*"))
    R.run_paired(_request(repo, tmp_path))
    assert not list((tmp_path / "work").glob(f"paired-{proc.pid}-*"))
    _clean(repo, tmp_path)


def test_both_clocks_judge_the_same_blocks(repo, tmp_path):
    cpu = P.PairedConfig(**{**CONFIG.__dict__, "clock": "cpu"})
    result = P.judge_measurement(R.run_paired(_request(repo, tmp_path, plan=cpu)), cpu)
    assert result.other_clock == "wall" and len(result.other_verdicts) == len(result.verdicts)
    assert result.verdicts[0].a_per_call_s == pytest.approx(0.9e-3)  # the stand-in's CPU time: 0.9 of its wall time
    assert result.other_verdicts[0].a_per_call_s == pytest.approx(1e-3)
    lines = P.format_result(result)
    assert any(line.startswith("the same blocks on wall time") for line in lines)


def test_litert_runners_are_renewed_before_every_quad(repo, tmp_path, monkeypatch):
    log = tmp_path / "renewed"
    monkeypatch.setenv("FAKE_RENEW_LOG", str(log))
    R.run_paired(_request(repo, tmp_path))
    renewed = log.read_text().split()
    assert renewed == ["full-litert"] * (2 * CONFIG.pairs)  # both sides, every quad after the warm-up; not Keras


FAKE_UV = """import sys, os, pathlib
args = sys.argv[1:]
with open(os.environ["FAKE_UV_LOG"], "a") as log:
    log.write(args[0] + "\\n")
if args[0] == "venv":
    (pathlib.Path(args[-1]) / "bin").mkdir(parents=True, exist_ok=True)
    (pathlib.Path(args[-1]) / "bin" / "python").symlink_to(sys.executable)
"""


def test_a_reused_environment_is_verified_against_refs_pins(repo, tmp_path, monkeypatch):
    """Built once, reused while its marker records the hash of REF's pins; a marker naming other pins (or
    none) gets it rebuilt; other pins in REF give another environment."""
    uv = tmp_path / "fake_uv.py"
    uv.write_text(FAKE_UV)
    log = tmp_path / "uv.log"
    monkeypatch.setenv("FAKE_UV_LOG", str(log))
    monkeypatch.setattr(R, "find_uv", lambda: [sys.executable, str(uv)])
    work = tmp_path / "work"
    builds = lambda: log.read_text().split().count("venv") if log.exists() else 0  # noqa: E731

    python, reused = R.ref_environment(repo, work, lambda line: None)
    assert not reused and builds() == 1 and Path(python).exists()
    assert R.ref_environment(repo, work, lambda line: None) == (python, True) and builds() == 1

    marker = Path(python).parent.parent / R.ENV_COMPLETE_MARKER
    marker.write_text('{"pins_sha256": "0000"}\n')
    assert R.ref_environment(repo, work, lambda line: None) == (python, False) and builds() == 2
    assert R.ref_environment(repo, work, lambda line: None) == (python, True) and builds() == 2
    marker.write_text("")  # the marker alone, as before the hash was recorded
    assert R.ref_environment(repo, work, lambda line: None) == (python, False) and builds() == 3

    (repo / "uv.lock").write_text("version = 1\n")
    other, reused = R.ref_environment(repo, work, lambda line: None)
    assert other != python and not reused and builds() == 4


def _bytes(argv, env):
    return sum(len(a) + 1 for a in argv) + sum(len(f"{k}={v}") + 1 for k, v in env.items())


def test_both_workers_of_a_pair_start_alike(tmp_path, monkeypatch):
    """Checkouts, Pythons and arguments of different lengths: the same working-folder and code-folder
    lengths, the same hash seed, command line plus environment of one size and ``pad`` bytes more."""
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    (tmp_path / "a-much-longer-baseline-checkout").mkdir()
    (tmp_path / "b").mkdir()
    sides = {"A": R.Side("A", tmp_path / "a-much-longer-baseline-checkout", "/opt/a/long/env/bin/python", "0" * 40),
             "B": R.Side("B", tmp_path / "b", "/usr/bin/python3", "1" * 40)}
    args = {"A": ["--case", "full-keras"], "B": ["--case", "full-keras", "--inject-slowdown", "inference=0.05"]}
    folder = tmp_path / "logs"
    folder.mkdir()
    plain = R.worker_launch(sides, args, folder, 7, 0, tmp_path / "pyc")
    padded = R.worker_launch(sides, args, folder, 7, 123, tmp_path / "pyc")
    a, b = plain["A"], plain["B"]
    assert _bytes(a.argv, a.env) == _bytes(b.argv, b.env)
    assert _bytes(padded["A"].argv, padded["A"].env) == _bytes(a.argv, a.env) + 123
    assert len(str(a.cwd)) == len(str(b.cwd)) and a.cwd != b.cwd
    assert len(a.env["PYTHONPATH"]) == len(b.env["PYTHONPATH"])
    assert Path(a.env["PYTHONPATH"]).resolve() == sides["A"].root.resolve()
    assert a.env["PYTHONHASHSEED"] == b.env["PYTHONHASHSEED"] == "7"
    assert "PYTHONDONTWRITEBYTECODE" not in a.env and a.env["PYTHONPYCACHEPREFIX"] == str(tmp_path / "pyc")
    assert a.argv[1:3] == b.argv[1:3] == ("-m", R.WORKER_MODULE)


def test_quads_are_spread_over_fresh_pairs_of_processes(repo, tmp_path, monkeypatch):
    log = tmp_path / "starts"
    monkeypatch.setenv("FAKE_START_LOG", str(log))
    plan = P.PairedConfig(**{**CONFIG.__dict__, "pairs": 12, "processes": 5})
    measured = R.run_paired(_request(repo, tmp_path, plan=plan, seed=11))
    starts = [json.loads(line) for line in log.read_text().splitlines()]
    builds, serving = [s for s in starts if s.get("build")], [s for s in starts if not s.get("build")]
    assert len(builds) == 2 and len(serving) == 2 * 5  # models built once per side; a fresh pair 5 times
    # 12 quads over 5 pairs, in order, 2 or 3 each
    assert list(measured.quad_process) == sorted(measured.quad_process)
    assert sorted(measured.quad_process.count(i) for i in range(5)) == [2, 2, 2, 3, 3]
    assert all(len(measured.quads[c][case]) == 12 for c in ("wall", "cpu") for case in plan.cases)
    # every block names its pair; each pair's first quad of each case a discarded warm-up
    assert {b["process"] for b in measured.blocks} == set(range(5))
    assert sum(b["quad"] == -1 for b in measured.blocks) == 5 * 4 * len(plan.cases)
    pids = [p[label]["pid"] for p in measured.processes for label in "AB"]
    assert len(set(pids)) == 10
    pairs = [serving[i:i + 2] for i in range(0, 10, 2)]  # A and B of a pair start one after the other
    for a, b in pairs:
        assert a["env"]["PYTHONHASHSEED"] == b["env"]["PYTHONHASHSEED"]
        assert len(a["cwd"]) == len(b["cwd"]) and len(a["path"]) == len(b["path"]) and a["path"] != b["path"]
        assert sum(len(k) + len(v) + 2 for k, v in a["env"].items()) - sum(
            len(k) + len(v) + 2 for k, v in b["env"].items()) == len(b["argv"][0]) - len(a["argv"][0])
    assert len({a["env"]["PYTHONHASHSEED"] for a, _ in pairs}) == 5  # drawn afresh for each pair
    assert [p["hash_seed"] for p in measured.processes] == [int(a["env"]["PYTHONHASHSEED"]) for a, _ in pairs]
    assert measured.seed == 11 and R.run_paired(_request(repo, tmp_path, plan=plan, seed=11)).processes[0][
        "hash_seed"] == measured.processes[0]["hash_seed"]
    assert P.judge_measurement(measured, plan).verdicts[0].processes == 5


def test_a_ref_whose_worker_cannot_load_models_gets_the_candidates_copy(repo, tmp_path):
    (repo / "harness" / "paired_worker.py").write_text((repo / "harness" / "paired_worker.py").read_text()
                                                        .replace("--save-models", "--build-them"))
    _git(repo, "commit", "-qam", "a worker that builds its models every time")
    _git(repo, "checkout", "-q", "HEAD~1", "--", "harness")  # the candidate's worker loads them
    measured = R.run_paired(_request(repo, tmp_path, against="HEAD"))
    assert any("the candidate's copy" in note for note in measured.notes)
    _clean(repo, tmp_path)
