"""Interleaved rounds: the inference cases' rounds taken round-robin across models and runtimes.

Timed one case after another, a case's rounds all fall in its own minute of the
session, and when the host changes speed between two cases (another job, a frequency
step) Table I's trend over pruning factors moves with it (one edge-idle session
measured pf 85 % filter LiteRT at 0.18 ms against 0.09 ms for pf 80 %). Here every
selected inference case is prepared first (runner built, its build and first call
timed, its calls per round calibrated), then round r of every case is taken before
round r + 1 of any: a drift of the host spreads over all cases alike.

Each case stays its own pytest-benchmark benchmark with its own rounds: the test of a
case hands its pre-measured rounds to its ``benchmark`` fixture (:func:`report_rounds`),
so the JSON records are those of ``benchmark.pedantic(..., rounds=R, iterations=I)``,
plus ``extra_info.round_order`` (the case ids in the order each round visited them) and
``extra_info.round_position`` (this case's place in it).
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class PreparedCase:
    """A case ready to be timed: its zero-argument call, calls per round, and what the test records."""

    case: str
    call: Callable[[], Any]
    iterations: int
    info: dict = field(default_factory=dict)


@dataclass(frozen=True)
class InterleavedRounds:
    """Per case: the rounds' durations [s] (each of ``iterations`` calls), the order of the cases."""

    order: tuple[str, ...]
    rounds_s: dict
    iterations: dict
    info: dict


def measure_interleaved(cases: list[PreparedCase], rounds: int, warmup_rounds: int,
                        clock: Callable[[], float] = time.perf_counter, *,
                        disable_gc: bool = True) -> InterleavedRounds:
    """Warm-up rounds, then ``rounds`` rounds of every case, round-robin in the order of ``cases``.

    With ``disable_gc`` (pytest-benchmark's ``--benchmark-disable-gc``, which the suite sets) the
    garbage collector is off inside each round and back on between rounds, so a collection never
    lands in a timed round (it moved a LiteRT median by 7-9 %, docs/reports.md) and the garbage of
    a minute of rounds is still collected, between them."""
    if not cases:
        raise ValueError("no inference case to measure")
    if rounds < 1 or warmup_rounds < 0:
        raise ValueError(f"rounds must be >= 1 and warmup_rounds >= 0, got {rounds} and {warmup_rounds}")
    durations: dict[str, list[float]] = {c.case: [] for c in cases}
    for r in range(warmup_rounds + rounds):
        for c in cases:
            loop = range(c.iterations)
            call = c.call
            collecting = disable_gc and gc.isenabled()
            if collecting:
                gc.disable()
            try:
                start = clock()
                for _ in loop:
                    call()
                elapsed = clock() - start
            finally:
                if collecting:
                    gc.enable()
            if r >= warmup_rounds:
                durations[c.case].append(elapsed)
    return InterleavedRounds(tuple(c.case for c in cases), {k: tuple(v) for k, v in durations.items()},
                             {c.case: c.iterations for c in cases}, {c.case: c.info for c in cases})


def measure_sequential(cases: list[PreparedCase], rounds: int, warmup_rounds: int,
                       clock: Callable[[], float] = time.perf_counter, *,
                       disable_gc: bool = True) -> InterleavedRounds:
    """Each case's warm-up and timed rounds one after another, case after case (the order before
    interleaving, kept to compare the two: ``--inference-order sequential``). Same result type as
    :func:`measure_interleaved`; ``order`` is the order the cases were timed in."""
    if not cases:
        raise ValueError("no inference case to measure")
    parts = [measure_interleaved([c], rounds, warmup_rounds, clock, disable_gc=disable_gc) for c in cases]
    return InterleavedRounds(tuple(c.case for c in cases),
                             {k: v for part in parts for k, v in part.rounds_s.items()},
                             {c.case: c.iterations for c in cases}, {c.case: c.info for c in cases})


#: pytest-benchmark's private names :func:`report_rounds` relies on, the only code here that touches them
#: (tests/harness/test_interleave.py checks they still exist).
PYTEST_BENCHMARK_PRIVATE = ("_mode", "_make_stats")


def report_rounds(benchmark: Any, rounds_s: tuple[float, ...], iterations: int) -> None:
    """Hand pre-measured rounds (each the duration of ``iterations`` calls) to pytest-benchmark's fixture.

    pytest-benchmark (5.x) has no public call for rounds measured elsewhere; this does what its
    ``pedantic`` does with each round it times (``_make_stats(iterations)``, then ``stats.update``
    with the round's duration) and marks the fixture used, as ``pedantic`` does, so a second use
    raises its ``FixtureAlreadyUsed``. ``benchmark`` may be harness.inject's proxy: the injected
    work is then already in the rounds (the caller wraps the call).
    """
    fixture = getattr(benchmark, "_fixture", benchmark)
    if fixture._mode:
        from pytest_benchmark.fixture import FixtureAlreadyUsed

        raise FixtureAlreadyUsed(f"Fixture can only be used once. Previously it was used in {fixture._mode} mode.")
    fixture._mode = "benchmark.pedantic(...)"
    stats = fixture._make_stats(iterations)
    for duration in rounds_s:
        stats.update(duration)
