"""The gate's rule for counted cases: instructions per call against the baseline runs'.

Pure: no file reading but :func:`load_count_rule`'s TOML and the ``__main__`` CLI;
the store (after the reports/ restructure) hands :func:`judge_run` parsed
pytest-benchmark documents.

A counted case (``extra_info["instructions"]``: instructions per call of the timed
callable, benchmarks/test_counts.py) is judged by

    ratio = current / median(baseline counts)

- ``+`` (a regression) when ``ratio > 1 + t``, ``-`` (an improvement) when
  ``ratio < 1 - t``, `` `` otherwise, where ``t`` is the operation's threshold
  (default 0.5 %, ``[tool.continuum-bench.counts]`` in pyproject.toml: a
  change of exactly 1 % would sit on a 1 % threshold);
- ``?`` (no verdict) when the case has fewer than ``min_baseline_runs`` baseline
  counts, or when the baseline counts themselves spread (max/min - 1) by more
  than ``t / 2``: a count that moves that much between identical runs cannot
  resolve ``t``, and saying so beats a false alarm.

No significance test: within a run the count of a region is one number, not a
sample, and between identical runs here it moved by at most 0.06 % for LiteRT and
crypto calls (0.3 % for a .tflite write; docs/counts.md), so the spread check above
is the whole noise model.
"""

from __future__ import annotations

import json
import statistics
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

DEFAULT_THRESHOLD = 0.005
DEFAULT_MIN_BASELINE_RUNS = 1
#: A baseline whose counts spread by more than this share of the threshold gives no verdict.
MAX_SPREAD_OF_THRESHOLD = 0.5
CONFIG_TABLE = ("tool", "continuum-bench", "counts")
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

    name: str
    operation: str | None
    baseline: tuple[float, ...]
    current: float | None
    threshold: float
    mark: str
    reason: str

    @property
    def ratio(self) -> float | None:
        if self.current is None or not self.baseline:
            return None
        return self.current / statistics.median(self.baseline)

    @property
    def baseline_spread(self) -> float | None:
        return max(self.baseline) / min(self.baseline) - 1 if self.baseline else None


def load_count_rule(pyproject: Path | str | None = None) -> CountRule:
    """Read ``[tool.continuum-bench.counts]`` from ``pyproject`` (default: ./pyproject.toml).

    A missing default file or table gives the defaults; a missing named file, bad
    TOML or an unknown key is a ``ValueError`` naming the file and the key.
    """
    path = Path(pyproject) if pyproject is not None else Path("pyproject.toml")
    if not path.is_file():
        if pyproject is not None:
            raise ValueError(f"{path}: configuration file not found")
        return CountRule()
    try:
        table = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from exc
    for key in CONFIG_TABLE:
        table = table.get(key, {})
    allowed = {"threshold", "thresholds", "min_baseline_runs"}
    unknown = set(table) - allowed
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {sorted(unknown)} in [{'.'.join(CONFIG_TABLE)}]; allowed: {sorted(allowed)}")
    try:
        return CountRule(**table)
    except ValueError as err:
        raise ValueError(f"{path}: [{'.'.join(CONFIG_TABLE)}]: {err}") from None


def case_key(bench: Mapping) -> str:
    return bench.get("fullname") or bench["name"]


def counts_of(document: Mapping) -> dict[str, tuple[str | None, float]]:
    """``{case: (operation, instructions per call)}`` of the counted cases of one run's JSON document."""
    out = {}
    for bench in document.get("benchmarks", []):
        info = bench.get("extra_info", {})
        value = info.get(COUNT_KEY)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"benchmark {case_key(bench)!r}: extra_info.{COUNT_KEY} must be a number > 0, got {value!r}")
        out[case_key(bench)] = (info.get("operation"), float(value))
    return out


def judge_case(name: str, operation: str | None, baseline: Sequence[float], current: float | None,
               rule: CountRule) -> CountVerdict:
    """The verdict on one case: see the module docstring."""
    threshold = rule.threshold_for(operation)
    baseline = tuple(float(v) for v in baseline)

    def verdict(mark: str, reason: str) -> CountVerdict:
        return CountVerdict(name, operation, baseline, current, threshold, mark, reason)

    if current is None:
        return verdict(MARK_NO_VERDICT, "not counted in the current run")
    if len(baseline) < rule.min_baseline_runs:
        return verdict(MARK_NO_VERDICT, f"{len(baseline)} baseline count(s), fewer than {rule.min_baseline_runs}")
    spread = max(baseline) / min(baseline) - 1
    if spread > threshold * MAX_SPREAD_OF_THRESHOLD:
        return verdict(MARK_NO_VERDICT, f"baseline counts spread {spread:.3%}, more than {MAX_SPREAD_OF_THRESHOLD:g} x "
                                        f"the {threshold:.2%} threshold: not deterministic enough to judge")
    ratio = current / statistics.median(baseline)
    if ratio > 1 + threshold:
        return verdict(MARK_SLOWER, f"{ratio - 1:+.3%} instructions per call, beyond +{threshold:.2%}")
    if ratio < 1 - threshold:
        return verdict(MARK_FASTER, f"{ratio - 1:+.3%} instructions per call, beyond -{threshold:.2%}")
    return verdict(MARK_SAME, f"{ratio - 1:+.3%} instructions per call, within {threshold:.2%}")


def judge_run(baselines: Sequence[Mapping], current: Mapping, rule: CountRule) -> list[CountVerdict]:
    """Verdicts on every counted case of ``current`` (a JSON document) against ``baselines`` (documents)."""
    now = counts_of(current)
    before: dict[str, list[float]] = {}
    for document in baselines:
        for name, (_, value) in counts_of(document).items():
            before.setdefault(name, []).append(value)
    names = sorted(set(now) | set(before))
    return [
        judge_case(name, now[name][0] if name in now else None, before.get(name, ()),
                   now[name][1] if name in now else None, rule)
        for name in names
    ]


def format_verdicts(verdicts: Sequence[CountVerdict]) -> list[str]:
    """Table lines: mark, case, baseline median, current, ratio, reason."""
    lines = [f"  {'case':<60} {'baseline Ir/call':>16} {'current':>16}  verdict"]
    for v in verdicts:
        base = f"{statistics.median(v.baseline):,.0f}" if v.baseline else "-"
        cur = f"{v.current:,.0f}" if v.current is not None else "-"
        lines.append(f"{v.mark} {v.name:<60} {base:>16} {cur:>16}  {v.reason}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.countrule --current RUN.json BASELINE.json...``: exit 1 on a ``+``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.countrule", description=main.__doc__)
    parser.add_argument("baselines", nargs="+", type=Path, help="pytest-benchmark JSON files of the baseline runs")
    parser.add_argument("--current", type=Path, required=True, help="pytest-benchmark JSON file of the run to judge")
    parser.add_argument("--config", type=Path, default=None,
                        help="TOML file with [tool.continuum-bench.counts] (default: ./pyproject.toml if present)")
    args = parser.parse_args(argv)
    try:
        rule = load_count_rule(args.config)
        docs = [json.loads(path.read_text()) for path in [*args.baselines, args.current]]
        verdicts = judge_run(docs[:-1], docs[-1], rule)
    except (OSError, ValueError) as err:
        print(f"countrule: {err}", file=sys.stderr)
        return 2
    print("\n".join(format_verdicts(verdicts)))
    return 1 if any(v.mark == MARK_SLOWER for v in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
