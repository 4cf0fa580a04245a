"""Where a benchmark session's wall time went, printed at its end and saved with the results.

:class:`SessionClock` (fed by the hooks of ``harness/plugin.py``) splits the session's wall time into

- start-up: from the process' start to the first case (Python, pytest, TensorFlow
  imported by the test modules, collection, the hardware profile);
- each session fixture's own set-up (``dataset``: generating or loading the
  embedded dataset; ``base``: training or loading the base model; ``chain``,
  ``background_load``...), nested fixtures counted once;
- per operation (the ``benchmark_op`` marker): the *timed* seconds -- the rounds
  pytest-benchmark measured, ``rounds x iterations`` calls -- and the *set-up*:
  everything else the case did (warm-up rounds, calibration probes, a
  fine-tuning's copy and compile, conversions, evaluations, recording);
- the rest (pytest's reporting, fixtures' teardown, writing the JSON).

Wall time, not CPU time: the question is how long a person waits. The breakdown
goes to the terminal summary and into ``machine_info["continuum_timing"]`` of
the JSON (seconds, SI).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

#: Marker naming a case's operation (``@pytest.mark.benchmark_op("finetune")``).
OPERATION_MARKER = "benchmark_op"
#: What the suite's session fixtures spend their set-up on (printed next to their time).
FIXTURE_NOTES = {
    "threads": "TensorFlow's import and thread pools",
    "dataset": "the embedded dataset: generated, or loaded and hashed",
    "base": "the base model: trained, or loaded and verified",
    "background_load": "starting the load workers",
    # harness/interleave.py: the rounds it times are also each inference case's timed seconds
    "chain": "",
}
#: Fixture scopes whose set-up is counted apart from the case that first needs them. A module's
#: fixtures belong to its one operation (the interleaved inference rounds of test_inference.py,
#: the counted models of test_counts.py): they count as the set-up of the case that first needs
#: them, and their timed rounds as that operation's timed seconds.
SHARED_SCOPES = ("session", "package")


def process_start_time() -> float:
    """``time.time()`` of this process' start (Linux ``/proc``), so start-up includes Python's imports."""
    ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
    hertz = 100  # USER_HZ: 100 on every Linux ABI (sysconf(SC_CLK_TCK))
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return time.time() - (uptime - ticks / hertz)


@dataclass
class OperationTime:
    """Wall time of the cases of one operation [s]: ``timed`` is what pytest-benchmark measured."""

    cases: int = 0
    timed_s: float = 0.0
    total_s: float = 0.0

    @property
    def setup_s(self) -> float:
        return max(0.0, self.total_s - self.timed_s)


@dataclass
class SessionClock:
    """The session's time budget (see the module docstring).

    ``clock`` (intervals) and ``wall`` (the wall clock, as ``started_wall``) return seconds;
    a test gives both a fake one, and ``--benchmark-timer`` the same, so every part is exact.
    """

    started_wall: float = field(default_factory=process_start_time)
    clock: Callable[[], float] = time.perf_counter
    wall: Callable[[], float] = time.time
    fixtures_s: dict = field(default_factory=lambda: defaultdict(float))
    operations: dict = field(default_factory=lambda: defaultdict(OperationTime))
    first_case_wall: float | None = None
    _stack: list = field(default_factory=list)  # [started, nested seconds] of fixtures being set up
    _item_fixture_s: float = 0.0
    _item_timed_s: float = 0.0
    timed_cases: bool = False  # a case with the operation marker ran

    # -- fixtures ------------------------------------------------------------------

    def fixture_started(self, fixturedef) -> list | None:
        """A fixture's set-up begins; returns what :meth:`fixture_ended` needs (None: not counted apart)."""
        if fixturedef.scope not in SHARED_SCOPES:
            return None
        frame = [self.clock(), 0.0]
        self._stack.append(frame)
        return frame

    def fixture_ended(self, fixturedef, frame: list | None) -> None:
        if frame is None:
            return
        self._stack.pop()
        elapsed = self.clock() - frame[0]
        self.fixtures_s[fixturedef.argname] += elapsed - frame[1]
        if self._stack:
            self._stack[-1][1] += elapsed
        else:
            self._item_fixture_s += elapsed

    # -- cases ---------------------------------------------------------------------

    def case_started(self, item) -> float:
        """A case's protocol (set-up, call, teardown) begins; returns its start for :meth:`case_ended`."""
        if self.first_case_wall is None:
            self.first_case_wall = self.wall()
        self._item_fixture_s = 0.0
        self._item_timed_s = 0.0
        if item.get_closest_marker(OPERATION_MARKER) is not None:
            self.timed_cases = True
        return self.clock()

    def case_ended(self, item, started: float) -> None:
        total = self.clock() - started - self._item_fixture_s
        marker = item.get_closest_marker(OPERATION_MARKER)
        name = marker.args[0] if marker and marker.args else Path(str(item.fspath)).stem
        op = self.operations[name]
        op.cases += 1
        op.total_s += total
        op.timed_s += self._item_timed_s

    def call_started(self) -> None:
        self._item_timed_s = 0.0

    def call_ended(self, item) -> None:
        self._item_timed_s = _timed_seconds(item)  # funcargs are gone after teardown

    # -- results -------------------------------------------------------------------

    def breakdown(self) -> dict:
        """The split so far, in seconds: ``total``, ``start_up``, ``fixtures``, ``operations``, ``other``."""
        now = self.wall()
        total = now - self.started_wall
        start_up = (self.first_case_wall or now) - self.started_wall
        fixtures = dict(self.fixtures_s)
        operations = {
            name: {"cases": op.cases, "timed_s": op.timed_s, "setup_s": op.setup_s, "total_s": op.total_s}
            for name, op in self.operations.items()
        }
        accounted = start_up + sum(fixtures.values()) + sum(op.total_s for op in self.operations.values())
        return {
            "total_s": total,
            "start_up_s": start_up,
            "fixtures_s": fixtures,
            "operations": operations,
            "other_s": max(0.0, total - accounted),
        }

    def summary_lines(self) -> list[str]:
        """The terminal summary: none in a session that ran no benchmark case (``benchmark_op`` marker)."""
        return format_breakdown(self.breakdown()) if self.timed_cases else []


def _timed_seconds(item: pytest.Item) -> float:
    """Seconds inside pytest-benchmark's timed rounds of ``item`` (0 when it timed nothing)."""
    fixture = (getattr(item, "funcargs", None) or {}).get("benchmark")
    metadata = getattr(fixture, "stats", None)
    if metadata is None or not metadata.stats.data:
        return 0.0
    return metadata.stats.total * metadata.iterations


def format_breakdown(breakdown: dict) -> list[str]:
    """Lines of the terminal summary for a :meth:`SessionClock.breakdown`."""
    lines = [
        f"[continuum-bench] where the time went: {breakdown['total_s']:.1f} s since the process started (wall clock)",
        f"  {'start-up (Python, pytest, imports, profile, collection)':<58}{breakdown['start_up_s']:8.1f} s",
    ]
    for name, seconds in sorted(breakdown["fixtures_s"].items(), key=lambda kv: -kv[1]):
        if seconds >= 0.05:
            note = FIXTURE_NOTES.get(name, "")
            lines.append(f"  {'fixture ' + name:<58}{seconds:8.1f} s" + (f"  ({note})" if note else ""))
    lines.append(f"  {'operation':<22}{'cases':>6}{'timed':>10}{'set-up':>10}{'total':>10}")
    for name, op in breakdown["operations"].items():
        lines.append(f"  {name:<22}{op['cases']:>6}{op['timed_s']:>9.1f}s{op['setup_s']:>9.1f}s{op['total_s']:>9.1f}s")
    lines.append(f"  {'other (pytest, teardown, results)':<58}{breakdown['other_s']:8.1f} s")
    return lines


__all__ = ["OperationTime", "SessionClock", "format_breakdown", "process_start_time"]
