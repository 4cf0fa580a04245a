"""Compare two benchmark runs, as ``asv compare`` does, and decide whether one regressed.

A run is a pytest-benchmark JSON document: a ``--benchmark-json`` file or a
history entry ``<storage>/<machine-id>/NNNN_*.json`` (``--benchmark-storage``),
addressed by its path or by its number (``0003``) within a storage folder.

Per benchmark (matched by ``fullname``, else ``name``) the comparison gives the
median ratio B/A, a two-sided Mann-Whitney U test on the raw round times
(``stats.data``, saved with ``--benchmark-save-data``) and a mark:

====  =====================================================================
mark  meaning
====  =====================================================================
``+`` slower beyond the factor and significant: a regression
``-`` faster beyond the factor and significant: an improvement
``~`` beyond the factor either way, but not significant
`` `` within the factor
``?`` not enough data (fewer than ``min_rounds`` rounds, or no raw data)
``!`` runs from different profiles/presets compared on request: ratio only
====  =====================================================================

Only ``+`` fails a comparison. The factor defaults to 1.10 and may be set per
operation (``extra_info["operation"]``) in ``pyproject.toml`` (read by :mod:`reports.config`)::

    [tool.continuum-bench.gate]
    factor = 1.10
    alpha = 0.05
    min_rounds = 5

    [tool.continuum-bench.gate.factors]
    inference = 1.05
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from harness.fingerprint import describe

from . import countrule as CR
from .countrule import CountRule
from .render import fmt_count, fmt_time, format_table, short_name
from .stats import mann_whitney_p
from .model import Benchmark, ResultsError, Run, int8_feature_notes

DEFAULT_FACTOR = 1.10
DEFAULT_ALPHA = 0.05
DEFAULT_MIN_ROUNDS = 5
DEFAULT_BASELINE_RUNS = 5
DEFAULT_MIN_BASELINE_RUNS = 3

MARK_SLOWER = "+"
MARK_FASTER = "-"
MARK_NOT_SIGNIFICANT = "~"
MARK_SAME = " "
MARK_NO_DATA = "?"
MARK_MISMATCH = "!"

class CompareError(ResultsError):
    """A run that cannot be read or compared; the message says which and why."""


class MismatchError(CompareError):
    """Two runs from different profiles or presets compared without ``allow_mismatch``."""


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of a comparison.

    factor: median ratio B/A beyond which a change counts [unitless, > 1]
    alpha: significance level of the Mann-Whitney U test [0 < alpha < 1]
    min_rounds: fewest rounds in either run for a verdict [>= 2]
    factors: per-operation factor overriding ``factor`` (e.g. ``{"inference": 1.05}``)
    baseline_runs: the gate's baseline, the newest saved runs of the profile [>= 2]
    min_baseline_runs: fewest baseline runs for a gate verdict [2 <= n <= baseline_runs]
    counts: the rule for counted cases (``[tool.continuum-bench.counts]``, reports.countrule)
    """

    factor: float = DEFAULT_FACTOR
    alpha: float = DEFAULT_ALPHA
    min_rounds: int = DEFAULT_MIN_ROUNDS
    factors: Mapping[str, float] = field(default_factory=dict)
    baseline_runs: int = DEFAULT_BASELINE_RUNS
    min_baseline_runs: int = DEFAULT_MIN_BASELINE_RUNS
    counts: CountRule = field(default_factory=CountRule)

    def __post_init__(self) -> None:
        for name, value in [("factor", self.factor), *((f"factors.{k}", v) for k, v in self.factors.items())]:
            if not isinstance(value, (int, float)) or not value > 1.0:
                raise ValueError(f"gate {name} must be a number > 1, got {value!r}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"gate alpha must be in (0, 1), got {self.alpha!r}")
        if not isinstance(self.min_rounds, int) or self.min_rounds < 2:
            raise ValueError(f"gate min_rounds must be an integer >= 2, got {self.min_rounds!r}")
        if not isinstance(self.min_baseline_runs, int) or self.min_baseline_runs < 2:
            raise ValueError(f"gate min_baseline_runs must be an integer >= 2 (one run cannot show the "
                             f"between-run noise), got {self.min_baseline_runs!r}")
        if not isinstance(self.baseline_runs, int) or self.baseline_runs < self.min_baseline_runs:
            raise ValueError(f"gate baseline_runs must be an integer >= min_baseline_runs "
                             f"({self.min_baseline_runs}), got {self.baseline_runs!r}")

    def factor_for(self, operation: str | None) -> float:
        return float(self.factors.get(operation, self.factor)) if operation else float(self.factor)


# --------------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class BenchmarkComparison:
    """One benchmark in both runs. Times in seconds; ratio = median_b / median_a."""

    name: str
    operation: str | None
    median_a_s: float | None
    median_b_s: float | None
    ratio: float | None
    p_value: float | None
    rounds_a: int
    rounds_b: int
    factor: float
    mark: str
    verdict: str  # regression, improvement, not significant, no change, not enough data, no verdict, only in A, only in B
    metric: str = "time"  # what judged the row: time, or instructions (both runs counted the case)
    instructions_a: float | None = None  # instructions per call [Ir] of a counted case
    instructions_b: float | None = None


@dataclass(frozen=True)
class Comparison:
    a: Run
    b: Run
    config: GateConfig
    rows: tuple[BenchmarkComparison, ...]
    mismatch: tuple[str, ...] = ()
    same_run: str | None = None  # why A and B are one run, when they are

    @property
    def regressions(self) -> tuple[BenchmarkComparison, ...]:
        return tuple(r for r in self.rows if r.verdict == "regression")

    @property
    def judged(self) -> tuple[BenchmarkComparison, ...]:
        """Rows with a verdict (a p-value, or a count verdict): not "not enough data", "no verdict" or one side only."""
        return tuple(r for r in self.rows if r.p_value is not None
                     or (r.metric == "instructions" and r.mark not in (CR.MARK_NO_VERDICT, MARK_MISMATCH)))

    @property
    def failed(self) -> bool:
        return bool(self.regressions)

    @property
    def outcome(self) -> str:
        return outcome_of(self.regressions, self.judged)


def outcome_of(regressions, judged) -> str:
    """``regression`` when there is one; ``no verdict`` when nothing could be judged (never a
    silent pass); else ``ok``. The command line maps these to exit codes 1, 2, 0."""
    if regressions:
        return "regression"
    return "ok" if judged else "no verdict"


def run_mismatch(a: Run, b: Run) -> tuple[str, ...]:
    """Why two runs are not comparable (different profile or preset); empty when they are."""
    reasons = []
    if a.profile != b.profile:
        reasons.append(f"profile {a.profile!r} in A vs {b.profile!r} in B")
    if a.presets != b.presets:
        reasons.append(f"preset {', '.join(a.presets) or None!r} in A vs {', '.join(b.presets) or None!r} in B")
    return tuple(reasons)


def other_machines(a: Run, b: Run) -> str | None:
    """A note when A and B ran on different machines (hardware fingerprints, :mod:`harness.fingerprint`):
    their ratio is then the machines' difference as much as the code's."""
    fa, fb = a.fingerprint, b.fingerprint
    if fa["id"] == fb["id"]:
        return None
    return (f"A and B ran on different machines: {fa['id']} ({describe(fa)}) and {fb['id']} ({describe(fb)}); "
            f"the ratios mix the machines' difference with the code's")


def same_run(a: Run, b: Run) -> str | None:
    """Why A and B are the same run (one file, or one session saved twice); None when they differ."""
    if Path(a.source).resolve() == Path(b.source).resolve():
        return f"A and B are the same file ({a.source})"
    if a.datetime and (a.datetime, a.commit, a.machine_info) == (b.datetime, b.commit, b.machine_info):
        return f"A and B are the same session (datetime {a.datetime}, commit {(a.commit or '-')[:10]})"
    return None


def rounds_of(bench: Benchmark | None) -> np.ndarray:
    """The raw round times [s] (``--benchmark-save-data``); empty without them."""
    return np.asarray(bench.data if bench is not None else (), dtype=float)


def compare_benchmark(name: str, bench_a: Benchmark | None, bench_b: Benchmark | None,
                      config: GateConfig, *, verdict_allowed: bool = True) -> BenchmarkComparison:
    """Compare one benchmark; either side may be missing."""
    operation = (bench_b or bench_a).operation
    factor = config.factor_for(operation)
    data_a, data_b = rounds_of(bench_a), rounds_of(bench_b)
    med_a = bench_a.median_s if bench_a else None
    med_b = bench_b.median_s if bench_b else None
    common = dict(name=name, operation=operation, median_a_s=med_a, median_b_s=med_b,
                  rounds_a=bench_a.rounds if bench_a else 0, rounds_b=bench_b.rounds if bench_b else 0,
                  factor=factor)
    if bench_a is None or bench_b is None:
        return BenchmarkComparison(**common, ratio=None, p_value=None, mark=" ",
                                   verdict="only in B" if bench_a is None else "only in A")
    ratio = med_b / med_a if med_a > 0 else math.inf
    if bench_a.instructions is not None and bench_b.instructions is not None:
        return compare_counts(common, bench_a, bench_b, config, verdict_allowed)
    if not verdict_allowed:
        return BenchmarkComparison(**common, ratio=ratio, p_value=None, mark=MARK_MISMATCH, verdict="no verdict")
    if min(data_a.size, data_b.size) < config.min_rounds:
        return BenchmarkComparison(**common, ratio=ratio, p_value=None, mark=MARK_NO_DATA, verdict="not enough data")
    p = mann_whitney_p(data_a, data_b)
    significant = p < config.alpha
    if ratio > factor:
        mark, verdict = (MARK_SLOWER, "regression") if significant else (MARK_NOT_SIGNIFICANT, "not significant")
    elif ratio < 1.0 / factor:
        mark, verdict = (MARK_FASTER, "improvement") if significant else (MARK_NOT_SIGNIFICANT, "not significant")
    else:
        mark, verdict = MARK_SAME, "no change"
    return BenchmarkComparison(**common, ratio=ratio, p_value=p, mark=mark, verdict=verdict)


_COUNT_VERDICTS = {CR.MARK_SLOWER: "regression", CR.MARK_FASTER: "improvement", CR.MARK_SAME: "no change",
                   CR.MARK_NO_VERDICT: "no verdict"}


def compare_counts(common: dict, bench_a: Benchmark, bench_b: Benchmark, config: GateConfig,
                   verdict_allowed: bool) -> BenchmarkComparison:
    """A case both runs counted, judged by the count rule with A's count as the baseline;
    ``ratio`` is then the count ratio B/A and ``factor`` 1 + the count threshold."""
    v = CR.judge_count(common["operation"], [bench_a.instructions], bench_b.instructions, config.counts)
    mark, verdict = (v.mark, _COUNT_VERDICTS[v.mark]) if verdict_allowed else (MARK_MISMATCH, "no verdict")
    return BenchmarkComparison(**{**common, "factor": 1.0 + v.threshold}, ratio=v.ratio, p_value=None, mark=mark,
                               verdict=verdict, metric="instructions", instructions_a=bench_a.instructions,
                               instructions_b=bench_b.instructions)


def compare_runs(a: Run, b: Run, config: GateConfig | None = None, *, allow_mismatch: bool = False) -> Comparison:
    """Compare run B against run A (A is the baseline).

    Runs from different profiles or presets raise MismatchError unless
    ``allow_mismatch``; then every row has a ratio and no verdict.
    """
    config = config or GateConfig()
    mismatch = run_mismatch(a, b)
    if mismatch and not allow_mismatch:
        raise MismatchError(
            f"refusing to compare {a.source} with {b.source}: {'; '.join(mismatch)}. "
            "Pass --allow-mismatch to see the ratios without a verdict."
        )
    in_a, in_b = a.by_key, b.by_key
    names = list(in_a) + [n for n in in_b if n not in in_a]
    rows = tuple(compare_benchmark(n, in_a.get(n), in_b.get(n), config, verdict_allowed=not mismatch)
                 for n in names)
    if not any(r.ratio is not None for r in rows):
        raise CompareError(f"{a.source} and {b.source} have no benchmark in common")
    return Comparison(a, b, config, rows, mismatch, same_run(a, b))


# --------------------------------------------------------------------------- renderers


def run_flags(label: str, run: Run) -> list[str]:
    """One line per validity problem of a run shown anyway: load not valid, limit not enforced."""
    return ([f"WARNING {label}: INVALID {p}" for p in run.invalid]
            + [f"WARNING {label}: limit not enforced, {p}" for p in run.unenforced])


def format_text(comparison: Comparison) -> list[str]:
    """The comparison as an asv-style text table, one line per benchmark, then a summary."""
    a, b = comparison.a, comparison.b
    lines = [f"{label}: {r.source} (profile {r.profile}, commit {(r.commit or '-')[:10]}, {r.datetime or '-'}, "
             f"machine {r.fingerprint['id']})" for label, r in (("A", a), ("B", b))]
    lines += run_flags("A", a) + run_flags("B", b)
    if comparison.same_run:
        lines.append(f"note: {comparison.same_run}: the comparison says nothing about a change")
    machines = other_machines(a, b)
    if machines:
        lines.append(f"note: {machines}")
    lines += [f"note: {n}" for n in int8_feature_notes((a, b), ("A", "B"))]
    if comparison.mismatch:
        lines.append("MISMATCH: " + "; ".join(comparison.mismatch) + " -- ratios only, no verdict")
    counted = any(r.metric == "instructions" or r.instructions_a is not None for r in comparison.rows)
    rows = [("", "median A", "median B", *(("metric", "Ir A", "Ir B") if counted else ()), "ratio", "p", "rounds",
             "factor", "verdict", "benchmark")]
    for r in comparison.rows:
        ratio = "-" if r.ratio is None else f"{r.ratio:.5f}" if r.metric == "instructions" else f"{r.ratio:.3f}"
        rows.append((r.mark, fmt_time(r.median_a_s), fmt_time(r.median_b_s),
                     *((r.metric, fmt_count(r.instructions_a), fmt_count(r.instructions_b)) if counted else ()),
                     ratio, "-" if r.p_value is None else f"{r.p_value:.3g}",
                     f"{r.rounds_a}/{r.rounds_b}", f"{r.factor:.3f}" if r.metric == "instructions" else f"{r.factor:.2f}",
                     r.verdict, short_name(r.name)))
    lines += format_table(rows, left=(0, 3, 10, 11) if counted else (0, 7, 8))
    counts: dict[str, int] = {}
    for r in comparison.rows:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    lines.append("")
    lines.append("summary: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())))
    if comparison.failed:
        timed = sum(r.metric == "time" for r in comparison.regressions)
        lines.append(f"FAILED: {len(comparison.regressions)} slowdown(s) beyond the factor ("
                     + ", ".join(([f"{timed} significant at alpha {comparison.config.alpha}"] if timed else [])
                                 + ([f"{len(comparison.regressions) - timed} in instructions per call beyond the "
                                     "count threshold"] if len(comparison.regressions) > timed else [])) + ")")
    elif comparison.mismatch:
        lines.append("no verdict: the runs are from different profiles or presets")
    elif not comparison.judged:
        lines.append(f"no verdict: no benchmark had {comparison.config.min_rounds} raw rounds in both runs "
                     "(save them with --benchmark-save-data; raise --benchmark-min-rounds)")
    else:
        lines.append("OK: no significant slowdown beyond the factor")
    return lines


def _run_dict(run: Run) -> dict:
    return {"source": run.source, "profile": run.profile, "presets": list(run.presets), "commit": run.commit,
            "fingerprint": run.fingerprint,
            "invalid": list(run.invalid), "unenforced": list(run.unenforced)}


def comparison_dict(comparison: Comparison) -> dict:
    cfg = comparison.config
    return {
        "a": _run_dict(comparison.a),
        "b": _run_dict(comparison.b),
        "config": {"factor": cfg.factor, "alpha": cfg.alpha, "min_rounds": cfg.min_rounds,
                   "factors": dict(cfg.factors),
                   "counts": {"threshold": cfg.counts.threshold, "thresholds": dict(cfg.counts.thresholds),
                              "min_baseline_runs": cfg.counts.min_baseline_runs}},
        "mismatch": list(comparison.mismatch),
        "same_run": comparison.same_run,
        "other_machines": other_machines(comparison.a, comparison.b),
        "outcome": comparison.outcome,
        "failed": comparison.failed,
        "rows": [asdict(r) for r in comparison.rows],
    }


def format_json(comparison: Comparison) -> list[str]:
    return json.dumps(comparison_dict(comparison), indent=2, allow_nan=False,
                      default=str).splitlines()


RENDERERS = {"text": format_text, "json": format_json}
