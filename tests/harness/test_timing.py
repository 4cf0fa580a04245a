"""The session's time breakdown (harness/timing.py): what it counts as fixture, timed and set-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from harness.timing import format_breakdown

ROOT = Path(__file__).resolve().parents[2]

#: A clock that moves only when a fixture or case "sleeps" on it: the session's breakdown
#: (harness/timing.py) and pytest-benchmark's timer (--benchmark-timer) both read it, so every
#: figure is exact; the durations are powers of two, exact in binary.
FAKE_CLOCK = '''
_now = [1000.0]


def now():
    return _now[0]


def sleep(seconds):
    _now[0] += seconds
'''

CONFTEST = '''
import pytest

import fakeclock
from harness.stash import CLOCK_KEY
from harness.timing import SessionClock

pytest_plugins = ["harness.plugin"]


def pytest_configure(config):
    # after the plugin's own (tryfirst): the session's breakdown reads the fake clock
    config.stash[CLOCK_KEY] = SessionClock(started_wall=fakeclock.now(), clock=fakeclock.now, wall=fakeclock.now)


@pytest.fixture(scope="session")
def slow_data():
    fakeclock.sleep(0.5)
    return 1


@pytest.fixture(scope="session")
def slow_model(slow_data):
    fakeclock.sleep(0.25)
    return 2


@pytest.fixture(scope="module")
def module_work():
    fakeclock.sleep(0.125)  # one module, one operation: set-up of the case that first needs it
    return 3
'''

CASES = '''
import pytest

import fakeclock


@pytest.mark.benchmark_op("prune")
def test_one(benchmark, slow_model):
    fakeclock.sleep(0.25)  # set-up inside the case
    benchmark.pedantic(fakeclock.sleep, args=(0.0625,), rounds=3, iterations=2, warmup_rounds=1)


@pytest.mark.benchmark_op("prune")
def test_two(benchmark, slow_model, module_work):
    benchmark.pedantic(fakeclock.sleep, args=(0.0625,), rounds=2, iterations=1)


def test_plain():
    fakeclock.sleep(0.0625)
'''


def test_breakdown_splits_fixtures_timed_rounds_and_setup(tmp_path):
    (tmp_path / "fakeclock.py").write_text(textwrap.dedent(FAKE_CLOCK))
    (tmp_path / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    (tmp_path / "test_cases.py").write_text(textwrap.dedent(CASES))
    out = tmp_path / "run.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(tmp_path)]),
               CONTINUUM_BENCH_CACHE=str(tmp_path / "cache"))  # its own run lock
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--benchmark-json={out}",
         "--benchmark-timer=fakeclock.now", "-W", "ignore::pytest.PytestUnknownMarkWarning", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "where the time went" in proc.stdout
    timing = json.loads(out.read_text())["machine_info"]["continuum_timing"]
    # each fixture counted once, its own time only (slow_model does not include slow_data)
    assert timing["fixtures_s"]["slow_data"] == 0.5
    assert timing["fixtures_s"]["slow_model"] == 0.25
    assert "module_work" not in timing["fixtures_s"]
    # timed: 3 rounds x 2 calls + 2 rounds x 1 call of 1/16 s; set-up: the sleep before timing, the
    # warm-up round (2 calls), the untimed call pytest-benchmark makes after looped rounds for their
    # result, and the module fixture; the session fixtures in neither
    assert timing["operations"]["prune"] == {"cases": 2, "timed_s": 0.5, "setup_s": 0.25 + 0.125 + 0.0625 + 0.125,
                                             "total_s": 1.0625}
    # no marker: named after its module
    assert timing["operations"]["test_cases"] == {"cases": 1, "timed_s": 0.0, "setup_s": 0.0625, "total_s": 0.0625}
    assert timing["start_up_s"] == 0.0
    assert timing["total_s"] == 0.5 + 0.25 + 1.0625 + 0.0625 and timing["other_s"] == 0.0


def test_format_lists_every_part():
    lines = format_breakdown({
        "total_s": 100.0, "start_up_s": 10.0, "fixtures_s": {"base": 20.0, "tiny": 0.01},
        "operations": {"finetune": {"cases": 10, "timed_s": 50.0, "setup_s": 15.0, "total_s": 65.0}},
        "other_s": 5.0,
    })
    text = "\n".join(lines)
    assert "100.0 s" in lines[0] and "fixture base" in text and "fixture tiny" not in text
    assert any(line.split()[:4] == ["finetune", "10", "50.0s", "15.0s"] for line in lines)
