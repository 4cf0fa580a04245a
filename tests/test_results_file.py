"""--benchmark-json is written whole or not at all: an interrupted run leaves no result file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _ctrl_c_as_in_a_terminal() -> None:
    """Run as a shell's background job (nohup, CI wrappers) the test runner ignores SIGINT and a
    child inherits that; the child under test must take Ctrl-C as a foreground program does."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def pytest_benchmarks(out: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", CONTINUUM_BENCH_CACHE=str(out.parent / "cache"))
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "benchmarks", "-p", "no:cacheprovider", "--preset", "tiny",
         f"--benchmark-json={out}", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=_ctrl_c_as_in_a_terminal,
    )


def test_completed_run_writes_the_json(tmp_path):
    out = tmp_path / "results" / "run.json"
    proc = pytest_benchmarks(out, "-k", "pure_rsa")
    log, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, log
    doc = json.loads(out.read_text())
    assert [b["name"] for b in doc["benchmarks"]] == ["test_encrypt_pure_rsa"]
    assert doc["benchmarks"][0]["extra_info"]["operation"] == "encryption"
    assert doc["machine_info"]["continuum"]["profile"]["name"] == "none"
    assert not out.with_name(out.name + ".partial").exists()


def test_interrupted_run_leaves_no_result_file(tmp_path):
    out = tmp_path / "results" / "run.json"
    proc = pytest_benchmarks(out, "-k", "prune")  # trains the tiny base model first: seconds
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    log, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0, log
    assert not out.exists(), "an interrupted run wrote a result file"
    assert not out.with_name(out.name + ".partial").exists()
