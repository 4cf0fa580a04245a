"""The arithmetic of a counted case (benchmarks/test_counts.py's ``count_call``/``count_record``), without valgrind.

A fake counter stands in for harness.callgrind.Counter: a region of n calls counts
``REGION_COST + n x PER_CALL`` instructions, so the per-call count the case records must be
PER_CALL exactly -- the empty region's fixed cost taken out, not spread over the calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import pytest

from benchmarks.test_counts import COUNTED_CALLS, WARMUP_CALLS, count_call, count_record
from harness import inject

#: The fixed cost of a region of the fake counter (client requests, the loop's set-up).
REGION_COST = 3_000
PER_CALL = 104_000


@dataclass
class _Dump:
    instructions: int


class _FakeCounter:
    """Counts ``REGION_COST + n x PER_CALL`` for a region of n calls of ``fn`` (which it really calls)."""

    def __init__(self):
        self.pending = 0
        self.labels: list[str] = []

    def region(self, fn, n, args):
        for _ in range(n):
            fn(*args)
        self.pending += REGION_COST + n * PER_CALL

    def dump(self, label):
        self.labels.append(label)
        counted, self.pending = self.pending, 0
        return _Dump(counted)


class _Benchmark:
    def pedantic(self, target, args=(), rounds=1, iterations=1, warmup_rounds=0):
        assert (rounds, iterations, warmup_rounds) == (1, 1, 0)
        return target(*args)


class _Request:
    def __init__(self, injections: dict):
        self.config = type("Config", (), {"stash": pytest.Stash()})()
        if injections:
            self.config.stash[inject.INJECT_KEY] = injections
        self.node = type("Node", (), {"nodeid": "benchmarks/test_counts.py::case"})()


@pytest.mark.parametrize("operation", ["encryption", "serialization"])
def test_the_empty_region_is_taken_out_of_the_per_call_count(operation):
    calls = []
    counter = _FakeCounter()
    record = count_call(_Benchmark(), _Request({}), counter, operation, lambda x: calls.append(x), ("arg",))
    n = COUNTED_CALLS[operation]
    assert record["instructions"] == PER_CALL
    assert record["instructions_region"] == REGION_COST + n * PER_CALL
    assert record["instructions_empty_region"] == REGION_COST
    assert record["counted_calls"] == n
    assert len(calls) == WARMUP_CALLS[operation] + n  # the empty region calls nothing
    assert counter.labels == ["benchmarks/test_counts.py::case", "benchmarks/test_counts.py::case (empty region)"]


@pytest.mark.parametrize("operation", ["encryption", "serialization"])
def test_an_injected_share_adds_that_share_of_the_extra_calls_own_count(operation):
    share = Fraction(1, 4)
    calls = []
    record = count_call(_Benchmark(), _Request({operation: share}), _FakeCounter(), operation,
                        lambda: calls.append(1), ())
    n = COUNTED_CALLS[operation]
    extra = math.ceil(n * share)
    assert record["instructions_without_injection"] == PER_CALL
    assert record["instructions"] == PER_CALL * (1 + share)  # 1/4 is exact in binary
    assert record["injected_extra_calls"] == extra
    assert record["instructions_injected_region"] == REGION_COST + extra * PER_CALL
    assert record[inject.EXTRA_INFO_KEY] == 0.25
    assert len(calls) == WARMUP_CALLS[operation] + n + extra


def test_count_record_of_a_fresh_process_median():
    """The .tflite write's path (harness/freshcount.py hands the chosen process's counts over)."""
    record = count_record(100, REGION_COST + 100 * PER_CALL, REGION_COST, 2.0)
    assert record["instructions"] == PER_CALL
    assert record["valgrind_wall_s_per_call"] == 0.02
