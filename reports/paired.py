"""Paired timing verdicts: baseline (A) and candidate (B) measured in alternating blocks.

Why paired. On a shared 2-core host the speed of the machine drifts by 10-20 % between
sessions and by several per cent within minutes; two runs taken one after the other
cannot tell a 5 % change from that drift (reports/gate.py needs a factor of 1.10 or
more for that reason). Measured in *alternating blocks* inside one job, the drift hits
both sides nearly equally and cancels in their ratio.

Design (harness/paired_runner.py takes the blocks). For each case the blocks come in
quads, ABBA then BAAB, ... (the sides alternate which goes first), taken by ``processes``
pairs of worker processes one after the other. One quad gives one paired log ratio
(:func:`reports.stats.quad_log_ratio`). Alternation cancels drift, but not what one process
differs from the other by for its whole life (where its memory landed): an A/A run with
one pair of processes read a Keras case at +3.8 % [+2.8 %, +4.5 %]. So the pair of processes,
not the quad, is the unit: each pair's quads give one Hodges-Lehmann estimate, and the case's
ratio and interval are the mean of those and Student's t interval over the pairs
(:func:`reports.stats.cluster_interval`, where the derivation is), exponentiated: wide where
the pairs disagree.

Verdict of a case with factor ``f`` (per operation; ``[tool.continuum-bench.paired]``):

* fewer than ``min_pairs`` quads: **not enough blocks** (no verdict; remedy: ``--pairs``);
* half-width of the interval (in ratio, ``(hi - lo) / 2``) above ``f - 1``: **no verdict**
  -- the interval cannot tell "unchanged" from "slower by the factor", so it is never a
  pass; the remedy names the number of quads that would narrow it (the half-width
  shrinks as ``1 / sqrt(n)``). Checked first: a wide interval means bursts of contention
  that the blocks did not share evenly (an A/A run under load gave wall time B/A 1.085
  [1.021, 1.148] while the CPU time of the same blocks gave 1.018), so even a wide
  interval above ``f`` is no verdict rather than a regression;
* interval entirely above ``f``: **regression** (``+``);
* interval entirely below ``1 / f``: **improvement** (``-``);
* interval at or below ``f``: **ok**;
* otherwise (a narrow interval straddling ``f``): **not significant** (``~``): a change
  near the factor that the interval cannot place beyond it.

Every verdict carries its half-width: the smallest change the case could have seen.

Judging and formatting: pure functions and frozen dataclasses, no I/O, no TensorFlow; the
configuration is read by reports.config, the blocks are measured by harness/paired_runner.py
(:func:`judge_measurement` takes its record).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from statistics import median
from typing import Any, Mapping, Protocol, Sequence

from harness.contract import CLOCKS

from .stats import DEFAULT_CONFIDENCE, cluster_interval, quad_log_ratio

#: Runtimes whose runners are rebuilt before every quad (cheap for LiteRT; a Keras retrace is not).
DEFAULT_RENEW = ("litert",)
#: Safety margin on the quads a too-wide interval needs (its half-width is itself estimated).
REMEDY_MARGIN = 1.25

DEFAULT_FACTOR = 1.02
DEFAULT_MIN_PAIRS = 10
DEFAULT_PAIRS = 60
#: Pairs of worker processes per run (the interval's units; its degrees of freedom are one fewer).
DEFAULT_PROCESSES = 10
DEFAULT_BLOCK_S = 0.1
#: Batch-1 inference cases judged by default: the full model and the filter-pruned models at the
#: ends of the history gate's grid, both runtimes (a magnitude-pruned model runs dense: its time is
#: the full model's).
DEFAULT_CASES = ("full-keras", "full-litert", "pf=70-filter-keras", "pf=70-filter-litert",
                 "pf=85-filter-keras", "pf=85-filter-litert")

MARK_REGRESSION = "+"
MARK_IMPROVEMENT = "-"
MARK_OK = " "
MARK_NOT_SIGNIFICANT = "~"
MARK_NO_VERDICT = "?"

@dataclass(frozen=True)
class PairedConfig:
    """Settings of the paired gate (``[tool.continuum-bench.paired]`` in pyproject.toml, read by reports.config).

    factor: ratio B/A a regression's whole interval must lie beyond [unitless, > 1]
    factors: per-operation factor overriding ``factor``
    confidence: two-sided confidence of each case's interval [0.5 <= c < 1]
    min_pairs: fewest quads for a verdict [>= 6: below it no 95 % interval exists]
    pairs: quads taken per case [>= min_pairs]
    block_s: target wall time of one block [s, > 0]
    cases: inference case ids judged by default
    clock: which time of the blocks judges, ``wall`` or ``cpu`` (harness.contract.CLOCKS)
    renew: runtimes whose runners are rebuilt on both sides before every quad (harness/paired_runner.py)
    processes: pairs of worker processes the quads are spread over [2 <= processes <= pairs]
    """

    factor: float = DEFAULT_FACTOR
    factors: Mapping[str, float] = field(default_factory=dict)
    confidence: float = DEFAULT_CONFIDENCE
    min_pairs: int = DEFAULT_MIN_PAIRS
    pairs: int = DEFAULT_PAIRS
    block_s: float = DEFAULT_BLOCK_S
    cases: tuple[str, ...] = DEFAULT_CASES
    clock: str = "wall"
    renew: tuple[str, ...] = DEFAULT_RENEW
    processes: int = DEFAULT_PROCESSES

    def __post_init__(self) -> None:
        if not set(self.renew) <= {"keras", "litert"}:
            raise ValueError(f"paired renew must list runtimes among keras, litert, got {self.renew!r}")
        if self.clock not in CLOCKS:
            raise ValueError(f"paired clock must be one of {CLOCKS}, got {self.clock!r}")
        for name, value in [("factor", self.factor), *((f"factors.{k}", v) for k, v in self.factors.items())]:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 1.0:
                raise ValueError(f"paired {name} must be a number > 1, got {value!r}")
        if not 0.5 <= self.confidence < 1.0:
            raise ValueError(f"paired confidence must be in [0.5, 1), got {self.confidence!r}")
        if isinstance(self.min_pairs, bool) or not isinstance(self.min_pairs, int) or self.min_pairs < 6:
            raise ValueError(f"paired min_pairs must be an integer >= 6, got {self.min_pairs!r}")
        if isinstance(self.pairs, bool) or not isinstance(self.pairs, int) or self.pairs < self.min_pairs:
            raise ValueError(f"paired pairs must be an integer >= min_pairs ({self.min_pairs}), got {self.pairs!r} "
                             f"(fewer quads cannot give a verdict: raise --pairs)")
        if isinstance(self.processes, bool) or not isinstance(self.processes, int) \
                or not 2 <= self.processes <= self.pairs:
            raise ValueError(f"paired processes must be an integer from 2 to pairs ({self.pairs}), got "
                             f"{self.processes!r} (the interval needs two pairs of processes; each takes a quad or more)")
        if isinstance(self.block_s, bool) or not isinstance(self.block_s, (int, float)) or not self.block_s > 0:
            raise ValueError(f"paired block_s must be a number of seconds > 0, got {self.block_s!r}")
        if not self.cases or not all(isinstance(c, str) and c for c in self.cases):
            raise ValueError(f"paired cases must be a non-empty list of case ids, got {self.cases!r}")

    def factor_for(self, operation: str | None) -> float:
        return float(self.factors.get(operation, self.factor)) if operation else float(self.factor)


@dataclass(frozen=True)
class PairedVerdict:
    """One case judged on its quads. Times in seconds per call; ratios are B/A.

    ``half_width``: ``(hi - lo) / 2`` of the ratio's interval, the smallest change the case
    could have seen; ``remedy``: what to run for a verdict when there is none; ``processes``: pairs
    of processes the quads came from; ``process_sd``/``quad_sd``: how far a pair's own ratio strayed
    from the common one, and a quad's from its pair's (SD of the log ratio, about a fraction).
    """

    name: str
    operation: str
    factor: float
    pairs: int
    a_per_call_s: float | None
    b_per_call_s: float | None
    ratio: float | None
    lo: float | None
    hi: float | None
    half_width: float | None
    mark: str
    verdict: str  # regression, improvement, ok, not significant, no verdict, not enough blocks
    remedy: str = ""
    processes: int = 0
    process_sd: float | None = None
    quad_sd: float | None = None


def judge_case(name: str, operation: str, quads: Sequence[tuple[Sequence[float], Sequence[float]]],
               config: PairedConfig, process: Sequence[int] | None = None) -> PairedVerdict:
    """The verdict of one case from its quads ``[(a_s, b_s), ...]`` (per-call times, module docstring) and
    the process pair that took each (``process``; None: each quad its own pair, as independent draws)."""
    factor = config.factor_for(operation)
    n = len(quads)
    process = list(range(n)) if process is None else list(process)
    if len(process) != n:
        raise ValueError(f"{name}: {n} quads but {len(process)} process pair indices")
    a_all = [t for a_s, _ in quads for t in a_s]
    b_all = [t for _, b_s in quads for t in b_s]
    groups: dict[int, list[float]] = {}
    for (a, b), j in zip(quads, process):
        groups.setdefault(j, []).append(quad_log_ratio(a, b))
    common = dict(name=name, operation=operation, factor=factor, pairs=n, processes=len(groups),
                  a_per_call_s=median(a_all) if a_all else None, b_per_call_s=median(b_all) if b_all else None)
    if n < config.min_pairs or len(groups) < 2:
        return PairedVerdict(**common, ratio=None, lo=None, hi=None, half_width=None, mark=MARK_NO_VERDICT,
                             verdict="not enough blocks",
                             remedy=f"{n} quad(s) from {len(groups)} process pair(s), fewer than min_pairs="
                                    f"{config.min_pairs} quads or 2 pairs: run with --pairs "
                                    f"{max(config.min_pairs, config.pairs)} --processes {max(2, config.processes)}")
    shift = cluster_interval(list(groups.values()), config.confidence)
    ratio, lo, hi = math.exp(shift.estimate), math.exp(shift.lo), math.exp(shift.hi)
    half = (hi - lo) / 2
    common.update(ratio=ratio, lo=lo, hi=hi, half_width=half, process_sd=shift.between_sd, quad_sd=shift.within_sd)
    if half > factor - 1:
        # the half-width shrinks about as 1 / sqrt(pairs of processes), the quads per pair kept
        needed = math.ceil(len(groups) * (half / (factor - 1)) ** 2 * REMEDY_MARGIN)
        per_pair = max(1, round(n / len(groups)))
        return PairedVerdict(**common, mark=MARK_NO_VERDICT, verdict="no verdict",
                             remedy=f"interval +/-{half:.1%} is wider than the factor's {factor - 1:.1%}: "
                                    f"run with --processes {needed} --pairs {needed * per_pair} "
                                    f"(or on a quieter host)")
    if lo > factor:
        return PairedVerdict(**common, mark=MARK_REGRESSION, verdict="regression")
    if hi < 1 / factor:
        return PairedVerdict(**common, mark=MARK_IMPROVEMENT, verdict="improvement")
    if hi <= factor:
        return PairedVerdict(**common, mark=MARK_OK, verdict="ok")
    return PairedVerdict(**common, mark=MARK_NOT_SIGNIFICANT, verdict="not significant")


def outcome(verdicts: Sequence[PairedVerdict]) -> str:
    """``regression`` if any case regressed; else ``no verdict`` if any case has none (never a pass); else ``ok``."""
    if not verdicts:
        return "no verdict"
    if any(v.verdict == "regression" for v in verdicts):
        return "regression"
    if any(v.mark == MARK_NO_VERDICT for v in verdicts):
        return "no verdict"
    return "ok"


class Measurement(Protocol):
    """What :func:`judge_measurement` reads of a paired run (harness.paired_runner.PairedMeasurement)."""

    against: str
    ref_commit: str
    candidate_commit: str
    calls_per_block: dict
    blocks: tuple
    quads: Mapping[str, Mapping[str, Sequence]]
    info: dict
    seconds: dict
    notes: tuple
    profile: str
    preset: str
    inject_slowdown: tuple
    loadavg_end: tuple
    quad_process: tuple


@dataclass(frozen=True)
class PairedResult:
    """A paired run judged: its measurement, the verdicts on the judging clock and, on the other clock,
    the verdicts of the same blocks."""

    measurement: Any  # a Measurement
    config: PairedConfig
    verdicts: tuple[PairedVerdict, ...]
    other_clock: str
    other_verdicts: tuple[PairedVerdict, ...]

    @property
    def outcome(self) -> str:
        return outcome(self.verdicts)


def judge_measurement(measurement: Measurement, config: PairedConfig) -> PairedResult:
    """Every case of a paired run judged on both clocks (:func:`judge_case`); ``config.clock`` decides."""
    process = getattr(measurement, "quad_process", ()) or None
    judged = {clock: tuple(judge_case(case, "inference", measurement.quads[clock][case], config, process)
                           for case in config.cases) for clock in CLOCKS}
    other = next(c for c in CLOCKS if c != config.clock)
    return PairedResult(measurement, config, judged[config.clock], other, judged[other])


def result_dict(result: PairedResult) -> dict:
    """The JSON record of a paired run: verdicts, every block in the order taken, both sides' start info."""
    m, config = result.measurement, result.config
    return {"against": m.against, "ref_commit": m.ref_commit,
            "candidate_commit": m.candidate_commit, "outcome": result.outcome,
            "config": {**asdict(config), "factors": dict(config.factors)},
            "verdicts": [asdict(v) for v in result.verdicts],
            "other_clock": result.other_clock, "other_verdicts": [asdict(v) for v in result.other_verdicts],
            "calls_per_block": m.calls_per_block,
            "sides": m.info, "seconds": m.seconds, "notes": list(m.notes),
            "loadavg_end": list(m.loadavg_end), "quad_process": list(getattr(m, "quad_process", ())),
            "processes": list(getattr(m, "processes", ())), "seed": getattr(m, "seed", None),
            "blocks": list(m.blocks)}


# ---- formatting -----------------------------------------------------------------------------

def _pct(x: float | None) -> str:
    return "-" if x is None else f"{(x - 1) * 100:+.1f}%"


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1e3:.3f} ms"


def format_change(v: PairedVerdict) -> str:
    """One verdict in a phrase: ``+0.4% [-1.0%, +1.8%] +/-1.4% ok``."""
    if v.lo is None:
        return f"{v.verdict}"
    return f"{_pct(v.ratio)} [{_pct(v.lo)}, {_pct(v.hi)}] +/-{v.half_width:.1%} {v.verdict}"


def format_verdicts(verdicts: Sequence[PairedVerdict], header: Sequence[str] = ()) -> list[str]:
    """The text report: one row per case (change, interval, smallest visible change, verdict), then the remedies."""
    from .render import format_table

    rows = [[v.mark, v.name, _ms(v.a_per_call_s), _ms(v.b_per_call_s), _pct(v.ratio),
             "-" if v.lo is None else f"[{_pct(v.lo)}, {_pct(v.hi)}]",
             "-" if v.half_width is None else f"+/-{v.half_width:.1%}",
             "-" if v.process_sd is None else f"{v.process_sd:.1%}", f"{v.factor:.2f}",
             f"{v.pairs} in {v.processes}", v.verdict]
            for v in verdicts]
    lines = list(header)
    head = ("", "case", "A per call", "B per call", "B/A", "interval", "smallest visible", "process SD", "factor",
            "quads in pairs", "verdict")
    lines += format_table([head, *map(tuple, rows)], left=(0, 1, 10))
    lines += [f"  {v.name}: {v.remedy}" for v in verdicts if v.remedy]
    result = outcome(verdicts)
    lines.append({"regression": "REGRESSION: the candidate is slower beyond the factor (whole interval)",
                  "no verdict": "NO VERDICT: at least one case could not be judged (see the remedy above)",
                  "ok": "OK: no case slower beyond its factor"}[result])
    return lines


def format_result(result: PairedResult) -> list[str]:
    """The paired gate's text report: what ran, the table of :func:`format_verdicts`, the other clock's
    verdicts, where the time went."""
    m, config = result.measurement, result.config
    header = [f"paired gate: baseline A = {m.against} ({m.ref_commit[:12]}), candidate B = this checkout "
              f"({m.candidate_commit[:12]}); profile {m.profile}, preset {m.preset}; "
              f"{config.pairs} quads (ABBA/BAAB) per case from {config.processes} pairs of processes, blocks of "
              f"~{config.block_s * 1e3:.0f} ms, {config.confidence:.0%} t interval of B/A over the pairs, "
              f"judged on {config.clock} time"]
    if m.inject_slowdown:
        header.append(f"injected on the candidate only: {', '.join(m.inject_slowdown)}")
    header += [f"note: {n}" for n in m.notes]
    s = m.seconds
    footer = [f"time: {s['total']:.0f} s (baseline environment {s['env']:.0f} s, models {s.get('build', 0):.0f} s, "
              f"starting the process pairs {s.get('start', s.get('prepare', 0)):.0f} s and their warm-up quads "
              f"{s.get('warmup', 0):.0f} s, measuring {s.get('measure', 0):.0f} s); load average at the end "
              + " ".join(f"{x:.2f}" for x in m.loadavg_end),
              "counted cases (LiteRT instructions per call) are judged by the count gate: tox -e counts-gate"]
    other = [f"  {v.name}: {format_change(v)}" for v in result.other_verdicts]
    if other:
        footer = [f"the same blocks on {result.other_clock} time (not judged; --clock {result.other_clock}):",
                  *other, *footer]
    return format_verdicts(result.verdicts, header) + footer
