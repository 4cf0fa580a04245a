"""harness.inject: --inject-slowdown's validation, its extra work, and that its runs never become baselines."""
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from harness import inject

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["inference=0.01"], {"inference": Fraction(1, 100)}),
        (["encryption=2%", "serialization=1/50"], {"encryption": Fraction(1, 50), "serialization": Fraction(1, 50)}),
        ([" decryption = 0.5 "], {"decryption": Fraction(1, 2)}),
        ([], {}),
    ],
)
def test_parses_op_share(values, expected):
    assert inject.parse_injections(values) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("inference", "not OP=SHARE"),
        ("infrence=0.01", "unknown operation 'infrence'; known operations: prune"),
        ("inference=fast", "not a number"),
        ("inference=0", "must be > 0"),
        ("inference=-0.1", "must be > 0"),
        ("inference=50", "<= 10"),
        ("inference=1/0", "not a number"),
    ],
)
def test_bad_values_are_named(value, message):
    with pytest.raises(ValueError, match=message) as exc:
        inject.parse_injections([value])
    assert repr(value) in str(exc.value)


def test_an_operation_given_twice_is_refused():
    with pytest.raises(ValueError, match="given twice"):
        inject.parse_injections(["inference=0.01", "inference=0.02"])


@pytest.mark.parametrize(("share", "calls", "runs"), [("0.5", 20, 30), ("0.01", 100, 101), ("0.01", 99, 99), ("2", 3, 9)])
def test_injected_call_repeats_on_the_share_of_calls(share, calls, runs):
    ran = []
    call = inject.InjectedCall(lambda x: ran.append(x) or x * 2, inject.parse_share(share))
    assert [call(i) for i in range(calls)] == [2 * i for i in range(calls)]  # the first call's result
    assert len(ran) == runs and call.extra_calls == runs - calls


def test_extra_calls_are_spread_evenly():
    ran = []
    call = inject.InjectedCall(lambda: ran.append(call.calls), Fraction(1, 4))
    for _ in range(8):
        call()
    # a repeat after calls 4 and 8 (recorded with the wrapper's count at the time)
    assert ran == [0, 1, 2, 3, 4, 4, 5, 6, 7, 8]


class _Fixture:
    """Stands in for pytest-benchmark's fixture: runs the target as pedantic would (iterations x rounds)."""

    def __init__(self):
        self.extra_info = {}

    def pedantic(self, target, args=(), kwargs=None, rounds=1, iterations=1, warmup_rounds=0):
        for _ in range((rounds + warmup_rounds) * iterations):
            result = target(*args, **(kwargs or {}))
        return result

    def __call__(self, fn, *args, **kwargs):
        return self.pedantic(fn, args, kwargs, rounds=10)


def test_the_benchmark_proxy_wraps_the_timed_target_and_records_the_share():
    ran = []
    fixture = _Fixture()
    proxy = inject.InjectingBenchmark(fixture, Fraction(1, 10))
    assert proxy.pedantic(lambda x: ran.append(x) or x, args=(7,), rounds=5, iterations=20) == 7
    assert len(ran) == 110
    assert fixture.extra_info[inject.EXTRA_INFO_KEY] == 0.1
    assert proxy.extra_info is fixture.extra_info  # everything else is the real fixture's


def _pytest(*args, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("CONTINUUM_BENCH_COUNTS_INPUTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(REPO / "benchmarks" / "test_counts.py"), "-p", "no:cacheprovider",
         "--preset=tiny", f"--benchmark-storage=file://{tmp_path}", *args],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=300,
    )


def test_the_option_is_validated_before_anything_runs(tmp_path):
    result = _pytest("--inject-slowdown", "infrence=0.01", tmp_path=tmp_path)
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "--inject-slowdown: 'infrence=0.01': unknown operation" in result.stderr


@pytest.mark.parametrize("save", [["--benchmark-autosave"], ["--benchmark-save=x"]])
def test_an_injected_run_cannot_be_saved_as_a_baseline(tmp_path, save):
    result = _pytest("--inject-slowdown", "inference=0.01", *save, tmp_path=tmp_path)
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "must never become a baseline" in result.stderr
    assert not list(tmp_path.rglob("*.json"))


PLUGIN_CONFTEST = """
pytest_plugins = ["harness.plugin"]
"""

TIMED_CASES = """
import pathlib, pytest

def _work(name):
    log = pathlib.Path(__file__).with_name(name + ".log")
    log.write_text(log.read_text() + "x" if log.exists() else "x")

@pytest.mark.benchmark_op("inference")
def test_inference(benchmark):
    benchmark.pedantic(_work, args=("inference",), rounds=4, iterations=5, warmup_rounds=0)

@pytest.mark.benchmark_op("encryption")
def test_encryption(benchmark):
    benchmark.pedantic(_work, args=("encryption",), rounds=4, iterations=5, warmup_rounds=0)
"""


def test_timed_cases_of_the_operation_do_the_extra_work_and_the_json_says_so(tmp_path):
    import json

    (tmp_path / "conftest.py").write_text(PLUGIN_CONFTEST)
    (tmp_path / "test_timed.py").write_text(TIMED_CASES)
    out = tmp_path / "run.json"
    env = dict(os.environ, PYTHONPATH=str(REPO), CONTINUUM_BENCH_CACHE=str(tmp_path / "cache"))  # its own run lock
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(tmp_path), "-p", "no:cacheprovider", "--inject-slowdown", "inference=0.5",
         f"--benchmark-json={out}"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    # 4 rounds x 5 iterations + pedantic's extra call for the result = 21 calls, +floor(21 x 0.5) = 10
    assert len((tmp_path / "inference.log").read_text()) == 31
    assert len((tmp_path / "encryption.log").read_text()) == 21
    doc = json.loads(out.read_text())
    assert doc["machine_info"]["injected_slowdown"] == {"inference": 0.5}
    shares = {b["name"]: b["extra_info"].get(inject.EXTRA_INFO_KEY) for b in doc["benchmarks"]}
    assert shares == {"test_inference": 0.5, "test_encryption": None}


@pytest.mark.parametrize(("share", "calls", "extra"), [("0.01", 100, 1), ("0.01", 1, 1), ("1/50", 100, 2), ("0.5", 3, 2),
                                                      ("2", 1, 2), ("0.015", 100, 2)])
def test_calls_of_a_counted_injected_region(share, calls, extra):
    assert inject.extra_region_calls(inject.parse_share(share), calls) == extra


def test_a_counted_injected_region_needs_calls():
    with pytest.raises(ValueError, match="calls must be >= 1"):
        inject.extra_region_calls(inject.parse_share("0.01"), 0)
