"""The gate's rule for counted cases: instructions per call against the baseline runs'.

Pure: no file reading (the configuration comes through reports.config.load_gate_config,
the runs through reports.storage). A counted case (``extra_info["instructions"]``:
instructions per call of the timed callable, benchmarks/test_counts.py) is judged by

    ratio = current / median(baseline counts)

- ``+`` (a regression) when ``ratio > 1 + t``, ``-`` (an improvement) when
  ``ratio < 1 - t``, `` `` otherwise, where ``t`` is the operation's threshold
  (default 0.5 %, ``[tool.continuum-bench.counts]`` in pyproject.toml: an injected
  +1 % reads +1 % to within the runs' own spread, so it would sit on a 1 % threshold and
  be caught about half the time; identical runs agree to 0.035 %; docs/counts.md);
- ``?`` (no verdict) when the case has fewer than ``min_baseline_runs`` baseline
  counts, or when the baseline counts themselves spread (max/min - 1) by more than
  ``t / 2``: a count that moves that much between identical runs cannot resolve
  ``t``, and saying so beats a false alarm.

No significance test: within a run the count of a region is one number, not a sample,
and between identical runs here it moved by at most 0.035 % for inference and crypto and
not at all for a .tflite write counted in a fresh process (0.14 % counted in-process;
docs/counts.md), so the spread check is the whole noise model.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from .stats import count_ratio, count_spread

DEFAULT_THRESHOLD = 0.005
DEFAULT_MIN_BASELINE_RUNS = 1
#: A baseline whose counts spread by more than this share of the threshold gives no verdict.
MAX_SPREAD_OF_THRESHOLD = 0.5
#: The extra_info field of a counted case: instructions per call.
COUNT_KEY = "instructions"

MARK_SLOWER = "+"
MARK_FASTER = "-"
MARK_SAME = " "
MARK_NO_VERDICT = "?"


@dataclass(frozen=True)
class CountRule:
    """Thresholds of the count rule.

    threshold: relative change of instructions per call that counts [unitless, 0 < t < 1]
    thresholds: per operation, overriding ``threshold`` (e.g. ``{"encryption": 0.02}``)
    min_baseline_runs: fewest baseline counts of a case for a verdict [>= 1]
    """

    threshold: float = DEFAULT_THRESHOLD
    thresholds: Mapping[str, float] = field(default_factory=dict)
    min_baseline_runs: int = DEFAULT_MIN_BASELINE_RUNS

    def __post_init__(self) -> None:
        for name, value in [("threshold", self.threshold), *((f"thresholds.{k}", v) for k, v in self.thresholds.items())]:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
                raise ValueError(f"counts {name} must be a number in (0, 1) (0.01 = 1 %), got {value!r}")
        if isinstance(self.min_baseline_runs, bool) or not isinstance(self.min_baseline_runs, int) or self.min_baseline_runs < 1:
            raise ValueError(f"counts min_baseline_runs must be an integer >= 1, got {self.min_baseline_runs!r}")

    def threshold_for(self, operation: str | None) -> float:
        return float(self.thresholds.get(operation, self.threshold)) if operation else float(self.threshold)


@dataclass(frozen=True)
class CountVerdict:
    """The rule's verdict on one case (counts are instructions per call)."""

    baseline: tuple[float, ...]
    current: float | None
    threshold: float
    mark: str
    reason: str

    @property
    def reference(self) -> float | None:
        return statistics.median(self.baseline) if self.baseline else None

    @property
    def ratio(self) -> float | None:
        if self.current is None or not self.baseline:
            return None
        return count_ratio(self.current, self.baseline)

    @property
    def baseline_spread(self) -> float | None:
        return count_spread(self.baseline) if self.baseline else None


def judge_count(operation: str | None, baseline: Sequence[float], current: float | None,
                rule: CountRule) -> CountVerdict:
    """The verdict on one case: see the module docstring."""
    threshold = rule.threshold_for(operation)
    baseline = tuple(float(v) for v in baseline)

    def verdict(mark: str, reason: str) -> CountVerdict:
        return CountVerdict(baseline, current, threshold, mark, reason)

    if current is None:
        return verdict(MARK_NO_VERDICT, "not counted in the current run")
    if len(baseline) < rule.min_baseline_runs:
        return verdict(MARK_NO_VERDICT, f"{len(baseline)} baseline count(s), fewer than {rule.min_baseline_runs}")
    spread = count_spread(baseline)
    if spread > threshold * MAX_SPREAD_OF_THRESHOLD:
        return verdict(MARK_NO_VERDICT, f"baseline counts spread {spread:.3%}, more than {MAX_SPREAD_OF_THRESHOLD:g} x "
                                        f"the {threshold:.2%} threshold: not deterministic enough to judge")
    ratio = count_ratio(current, baseline)
    if ratio > 1 + threshold:
        return verdict(MARK_SLOWER, f"{ratio - 1:+.3%} instructions per call, beyond +{threshold:.2%}")
    if ratio < 1 - threshold:
        return verdict(MARK_FASTER, f"{ratio - 1:+.3%} instructions per call, beyond -{threshold:.2%}")
    return verdict(MARK_SAME, f"{ratio - 1:+.3%} instructions per call, within {threshold:.2%}")
