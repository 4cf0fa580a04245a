"""``--inject-slowdown OP=SHARE``: a real, known slowdown, to prove that a gate sees it.

The timed call of every case of operation OP (its ``benchmark_op`` marker) does
SHARE more of its own real work: after the n-th call it repeats itself until it
has been repeated ``floor(n * SHARE)`` times in all, so over N calls it runs
``N + floor(N * SHARE)`` times (SHARE 0.01 -> one extra call per 100, spread
evenly). The repeat is the same callable with the same arguments, so the extra
work has the profile of the real work -- no sleep, no spin loop.

Timed cases: the target given to ``benchmark.pedantic`` (or ``benchmark(...)``) is
wrapped (:func:`injected_benchmark`, in the plugin's ``pytest_pyfunc_call``, hands the test a
proxy of the ``benchmark`` fixture); a round of I iterations then does ``floor`` or ``ceil``
of ``I * SHARE`` extra calls, so its time moves by SHARE only within 1/I.
Counted cases (marker ``counted``, benchmarks/test_counts.py) are not wrapped:
their N calls are counted as in a plain run, then :func:`extra_region_calls` more
calls of the same callable in a region of their own, and SHARE of those calls'
per-call count is added to the call's count -- the repeats' own work and nothing
else (the wrapper's Python frame costs ~1 k instructions a call, 1 % of a .tflite
write's count), compared with a plain run that counted the same N calls.

A run made with it must never become a baseline: ``--benchmark-autosave`` and
``--benchmark-save`` are refused with it, and the JSON records the injection in
``machine_info["injected_slowdown"]`` (``{}`` on a plain run) and, per affected
case, ``extra_info["injected_slowdown_share"]``, so a store can skip such a run.
"""

from __future__ import annotations

import contextlib
from fractions import Fraction
from typing import Any, Callable, Iterator

import pytest

from harness.record import OPERATIONS

OPTION = "--inject-slowdown"
#: Largest SHARE accepted: a typo such as 50 for 0.5 would otherwise run every case 51 times.
MAX_SHARE = Fraction(10)
INJECT_KEY = pytest.StashKey[dict]()  # operation -> Fraction share of this session
MACHINE_INFO_KEY = "injected_slowdown"
EXTRA_INFO_KEY = "injected_slowdown_share"


def parse_share(text: str) -> Fraction:
    """SHARE as an exact fraction: ``0.01``, ``1%`` or ``1/100``; in (0, MAX_SHARE]."""
    raw = text.strip()
    try:
        share = Fraction(raw[:-1]) / 100 if raw.endswith("%") else Fraction(raw)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"SHARE {text!r} is not a number (e.g. 0.01, 1% or 1/100)") from None
    if not 0 < share <= MAX_SHARE:
        raise ValueError(f"SHARE {text!r} must be > 0 and <= {MAX_SHARE} (0.01 = 1 % more work)")
    return share


def parse_injections(values: list[str]) -> dict[str, Fraction]:
    """``["inference=0.01", ...]`` -> ``{"inference": Fraction(1, 100)}``.

    Raises ``ValueError`` naming the bad item: no ``=``, an operation outside
    :data:`harness.record.OPERATIONS`, a bad SHARE, or an operation given twice.
    """
    injections: dict[str, Fraction] = {}
    for value in values:
        op, sep, share = value.partition("=")
        op = op.strip()
        if not sep:
            raise ValueError(f"{value!r} is not OP=SHARE (e.g. inference=0.01)")
        if op not in OPERATIONS:
            raise ValueError(f"{value!r}: unknown operation {op!r}; known operations: {', '.join(OPERATIONS)}")
        if op in injections:
            raise ValueError(f"{value!r}: operation {op!r} given twice")
        try:
            injections[op] = parse_share(share)
        except ValueError as err:
            raise ValueError(f"{value!r}: {err}") from None
    return injections


class InjectedCall:
    """``fn`` that repeats itself on a SHARE of its calls (see the module docstring).

    ``calls``: calls made to the wrapper; ``extra_calls``: repeats done so far.
    """

    def __init__(self, fn: Callable, share: Fraction) -> None:
        self.fn = fn
        self.share = Fraction(share)
        # integer arithmetic in the call: Fraction's would add ~10k instructions to every timed call
        self._numerator, self._denominator = self.share.numerator, self.share.denominator
        self.calls = 0
        self.extra_calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = self.fn(*args, **kwargs)
        self.calls += 1
        due = self.calls * self._numerator // self._denominator
        while self.extra_calls < due:
            self.fn(*args, **kwargs)
            self.extra_calls += 1
        return result


def injections(config: pytest.Config) -> dict[str, Fraction]:
    """The session's injections (empty without the option)."""
    return config.stash.get(INJECT_KEY, {})


def extra_region_calls(share: Fraction, calls: int) -> int:
    """Calls of a counted case's injected region: ``ceil(calls x share)``, at least 1.

    Their per-call count times SHARE is the extra work per call (see the module docstring);
    for ``calls x share`` a whole number it is exactly the ``floor(calls x share)`` repeats
    that ``calls`` timed calls make.
    """
    if calls < 1:
        raise ValueError(f"calls must be >= 1, got {calls!r}")
    return max(1, -(-calls * share.numerator // share.denominator))


def case_operation(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("benchmark_op")
    return marker.args[0] if marker is not None and marker.args else None


class InjectingBenchmark:
    """Proxy of pytest-benchmark's fixture whose timed target repeats on a SHARE of its calls."""

    def __init__(self, fixture: Any, share: Fraction) -> None:
        self._fixture = fixture
        self._share = share
        fixture.extra_info[EXTRA_INFO_KEY] = float(share)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fixture, name)

    def __call__(self, function_to_benchmark: Callable, *args: Any, **kwargs: Any) -> Any:
        return self._fixture(InjectedCall(function_to_benchmark, self._share), *args, **kwargs)

    def pedantic(self, target: Callable, *args: Any, **kwargs: Any) -> Any:
        return self._fixture.pedantic(InjectedCall(target, self._share), *args, **kwargs)


def add_option(parser: pytest.Parser) -> None:
    parser.getgroup("continuum-bench").addoption(
        OPTION,
        action="append",
        default=[],
        metavar="OP=SHARE",
        help="make the timed call of operation OP's cases do SHARE more of its own real work "
        "(0.01 = 1 %), to check that a gate catches it; repeatable; refused with "
        "--benchmark-autosave/--benchmark-save (default: none)",
    )


def configure(config: pytest.Config) -> None:
    """Validate the option and refuse to save an injected run into a history."""
    try:
        parsed = parse_injections(config.getoption("inject_slowdown"))
    except ValueError as err:
        raise pytest.UsageError(f"{OPTION}: {err}") from None
    if parsed and (config.getoption("benchmark_autosave", False) or config.getoption("benchmark_save", None)):
        raise pytest.UsageError(
            f"{OPTION} cannot be combined with --benchmark-autosave/--benchmark-save: a run with an injected "
            "slowdown must never become a baseline (write it with --benchmark-json only)"
        )
    config.stash[INJECT_KEY] = parsed


@contextlib.contextmanager
def injected_benchmark(item: pytest.Function) -> Iterator[None]:
    """While a timed case of an injected operation runs, its ``benchmark`` argument is the
    :class:`InjectingBenchmark` proxy (counted cases: see the module docstring)."""
    share = injections(item.config).get(case_operation(item))
    funcargs = item.funcargs
    if share is None or "benchmark" not in funcargs or item.get_closest_marker("counted") is not None:
        yield
        return
    original = funcargs["benchmark"]
    funcargs["benchmark"] = InjectingBenchmark(original, share)
    try:
        yield
    finally:
        funcargs["benchmark"] = original


def machine_info(config: pytest.Config) -> dict:
    """``machine_info["injected_slowdown"]``: operation -> share (``{}`` on a plain run)."""
    return {op: float(share) for op, share in injections(config).items()}
