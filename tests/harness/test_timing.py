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

CONFTEST = '''
import time
import pytest

pytest_plugins = ["harness.plugin"]


@pytest.fixture(scope="session")
def slow_data():
    time.sleep(0.4)
    return 1


@pytest.fixture(scope="session")
def slow_model(slow_data):
    time.sleep(0.3)
    return 2


@pytest.fixture(scope="module")
def module_work():
    time.sleep(0.25)  # one module, one operation: set-up of the case that first needs it
    return 3
'''

CASES = '''
import time
import pytest


@pytest.mark.benchmark_op("prune")
def test_one(benchmark, slow_model):
    time.sleep(0.2)  # set-up inside the case
    benchmark.pedantic(time.sleep, args=(0.05,), rounds=3, iterations=2, warmup_rounds=1)


@pytest.mark.benchmark_op("prune")
def test_two(benchmark, slow_model, module_work):
    benchmark.pedantic(time.sleep, args=(0.05,), rounds=2, iterations=1)


def test_plain():
    time.sleep(0.1)
'''


def test_breakdown_splits_fixtures_timed_rounds_and_setup(tmp_path):
    (tmp_path / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    (tmp_path / "test_cases.py").write_text(textwrap.dedent(CASES))
    out = tmp_path / "run.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT), CONTINUUM_BENCH_CACHE=str(tmp_path / "cache"))  # its own run lock
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--benchmark-json={out}",
         "-W", "ignore::pytest.PytestUnknownMarkWarning", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "where the time went" in proc.stdout
    timing = json.loads(out.read_text())["machine_info"]["continuum_timing"]
    # each fixture counted once, its own time only (slow_model does not include slow_data)
    assert 0.4 <= timing["fixtures_s"]["slow_data"] < 0.7
    assert 0.3 <= timing["fixtures_s"]["slow_model"] < 0.4 + 0.3
    prune = timing["operations"]["prune"]
    assert prune["cases"] == 2
    # timed: 3 rounds x 2 calls + 2 rounds x 1 call of 0.05 s; the warm-up round is set-up
    assert 0.4 <= prune["timed_s"] < 0.4 + 0.3
    # the sleep before timing, the warm-up round and the module fixture
    assert prune["setup_s"] >= 0.2 + 0.1 + 0.25
    assert "module_work" not in timing["fixtures_s"]
    assert prune["total_s"] < 0.4 + 0.3 + 0.2 + 0.1 + 0.25 + 1.0  # fixture time is not counted twice
    assert timing["operations"]["test_cases"]["cases"] == 1  # no marker: named after its module
    assert timing["operations"]["test_cases"]["timed_s"] == 0
    accounted = timing["start_up_s"] + sum(timing["fixtures_s"].values()) + sum(
        op["total_s"] for op in timing["operations"].values()) + timing["other_s"]
    assert accounted >= timing["total_s"] - 1e-6


def test_format_lists_every_part():
    lines = format_breakdown({
        "total_s": 100.0, "start_up_s": 10.0, "fixtures_s": {"base": 20.0, "tiny": 0.01},
        "operations": {"finetune": {"cases": 10, "timed_s": 50.0, "setup_s": 15.0, "total_s": 65.0}},
        "other_s": 5.0,
    })
    text = "\n".join(lines)
    assert "100.0 s" in lines[0] and "fixture base" in text and "fixture tiny" not in text
    assert any(line.split()[:4] == ["finetune", "10", "50.0s", "15.0s"] for line in lines)
