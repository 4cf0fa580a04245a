"""Regression gate: the current run against the newest saved runs of its profile on this host.

Why several baseline runs. One saved run cannot tell a regression from the shift
between two sessions on the same host (steal time, scheduler, thread placement):
on the 2-core CI VM, five honest re-runs of the device profile's inference cases
moved their medians by up to 2x against a single baseline run, while the rounds
within each run agreed to a few per cent, so a test on the raw rounds of two
sessions alarmed on every A/A run. The gate therefore judges each benchmark
against the between-run noise it has measured on this host:

* baseline: the newest ``baseline_runs`` (default 5) saved runs of the profile and
  preset on the host; fewer than ``min_baseline_runs`` (default 3) is no verdict
  (exit 3): ``tox -e gate-baseline`` saves three;
* reference: the geometric mean of a benchmark's medians in those runs;
* noise: the standard deviation of log(median) between runs, pooled over the
  benchmarks of one kind (operation and runtime or format: ``inference/litert``,
  ``serialization/keras``, ...), so a handful of runs still gives a usable estimate;
* limit: the larger of the configured factor and the one-sided prediction bound
  ``exp(t * sigma * sqrt(1 + 1/k))`` for one new run, ``t`` Student's quantile at
  ``1 - alpha / n_benchmarks`` (Bonferroni: ``alpha`` is the chance that an
  unchanged commit fails the gate anywhere, not per benchmark);
* regression (``+``, exit 1): the current median beyond ``limit`` times the
  reference *and* its rounds significantly slower than the baseline's pooled rounds
  (one-sided Mann-Whitney U at ``alpha``).

Counted cases (a run of ``tox -e counts``, profile ``counts``: every case has
``extra_info.instructions``) are judged on instructions per call by the count rule
(reports.countrule: beyond the operation's threshold of the baseline runs' median, no
verdict when the baseline's own counts spread by more than half the threshold), not on
time; each row says which metric judged it. Their baseline needs only the count rule's
``min_baseline_runs`` (default 1): counts do not carry the between-run noise of times.

Runs of another hardware fingerprint (:mod:`harness.fingerprint`) than the current run's are passed
over, naming both: a hostname shared by two CPUs, or one CPU under two quotas, never pools two
machines into one baseline.

A run made with ``--inject-slowdown`` (``machine_info.injected_slowdown``) is never a
baseline: it is passed over with the reason, like a run of another case set.

Each row prints its limit: the smallest slowdown this host lets the gate see for
that benchmark. A limit far above the factor says the case is too noisy here.

CI use (see docs/reports.md): on the main branch ``tox -e gate-baseline`` appends
runs to ``results/history/<profile>``; on a change ``tox -e gate`` runs the same
cases and calls ``continuum-bench gate --profile <profile> --storage
results/history --current <current>``.

Loading is the command line's (reports.cli reads the current run and the saved runs through
reports.storage); this module judges loaded runs (:func:`gate`, :func:`aa_check`) and formats the
verdicts (:func:`format_text`, :func:`result_dict`, :func:`format_aa`).

Exit codes (reports.cli): 0 no significant slowdown beyond the limit; 1 at least one; 2 too few or
no baseline runs, no benchmark with enough rounds to judge, unreadable input, or a
current run from another profile or preset.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import countrule as CR
from .compare import (MARK_FASTER, MARK_NO_DATA, MARK_NOT_SIGNIFICANT, MARK_SAME, MARK_SLOWER, CompareError,
                      GateConfig, outcome_of, rounds_of, run_flags, same_run)
from .render import fmt_count, fmt_time, format_table, short_name
from harness.fingerprint import describe

from .model import Benchmark, HistoryEntry, Run
from .stats import log_medians, mann_whitney_p, pooled_noise, prediction_limit

class NoBaselineError(CompareError):
    """Too few usable saved runs to judge against: no verdict (exit 3), not bad input."""


@dataclass(frozen=True)
class GateRow:
    """One benchmark judged against the baseline runs. Times in seconds.

    ``reference_s``: geometric mean of the baseline medians; ``ratio``: current
    median / reference; ``sigma``: between-run SD of log(median) of the benchmark's
    kind; ``limit``: the ratio beyond which a slowdown counts (>= the factor);
    ``p_value``: one-sided Mann-Whitney U, current rounds slower than the baseline's.
    ``metric``: what judged the row, ``time`` or ``instructions``; on an ``instructions`` row
    ``ratio`` is the count ratio (current / median of the baseline counts), ``limit`` is
    1 + the count threshold, ``reference_count``/``current_count`` are instructions per call
    and ``note`` is the count rule's reason.
    """

    name: str
    operation: str | None
    kind: str
    baseline_medians_s: tuple[float, ...]
    reference_s: float | None
    current_s: float | None
    ratio: float | None
    sigma: float | None
    limit: float | None
    p_value: float | None
    rounds: int
    factor: float
    mark: str
    verdict: str  # regression, improvement, not significant, within noise, not enough data, only in baseline, only in current
    metric: str = "time"
    reference_count: float | None = None
    current_count: float | None = None
    note: str = ""


@dataclass(frozen=True)
class GateResult:
    baselines: tuple[HistoryEntry, ...]
    skipped: tuple[tuple[HistoryEntry, str], ...]  # newer runs left out of the baseline, and why
    current: Run
    config: GateConfig
    rows: tuple[GateRow, ...]

    @property
    def regressions(self) -> tuple[GateRow, ...]:
        return tuple(r for r in self.rows if r.verdict == "regression")

    @property
    def judged(self) -> tuple[GateRow, ...]:
        """Rows with a verdict (not "not enough data", not present in one side only)."""
        return tuple(r for r in self.rows if r.limit is not None)

    @property
    def outcome(self) -> str:
        return outcome_of(self.regressions, self.judged)


def other_machine(run: Run, current: Run) -> str | None:
    """Why ``run`` is another machine's than ``current``, naming both fingerprints; None if the same one.
    Two machines' times are never one baseline, whatever their hostname."""
    theirs, ours = run.fingerprint, current.fingerprint
    if theirs["id"] == ours["id"]:
        return None
    return (f"another machine: fingerprint {theirs['id']} ({describe(theirs)}), not the current run's "
            f"{ours['id']} ({describe(ours)})")


def passed_over(entry: HistoryEntry, current: Run) -> str | None:
    """Why a saved run cannot be part of ``current``'s baseline: another preset, another set of
    cases (a main-job run beside the gate's own), or a load that was not valid; None if it can."""
    itself = same_run(entry.run, current) if current.counted else None
    if itself:  # tox -e counts saves the run it writes: the gate must not judge it against itself
        return f"the current run itself ({itself})"
    other = None if current.counted else other_machine(entry.run, current)  # counts: no quota or clock in them
    if other:
        return other
    if entry.presets != current.presets:
        return f"preset {', '.join(entry.presets) or '-'}"
    # a counted case is judged on its own count (no noise pooled over the run's cases), so a counted
    # run of a -k selection can be judged against full counted runs
    if (not current.case_set <= entry.run.case_set) if current.counted else entry.run.case_set != current.case_set:
        return f"other cases ({len(entry.run.benchmarks)} benchmarks, not the current {len(current.benchmarks)})"
    if entry.run.invalid:
        return "not valid: " + "; ".join(entry.run.invalid)
    if entry.run.injected:
        return ("injected slowdown (machine_info.injected_slowdown: "
                + ", ".join(f"{op}={share:g}" for op, share in sorted(entry.run.injected.items()))
                + "): never a baseline")
    return None


def needed_baseline_runs(current: Run, config: GateConfig) -> int:
    """Fewest baseline runs for a verdict: the count rule's for a counted run, the gate's otherwise."""
    return config.counts.min_baseline_runs if current.counted else config.min_baseline_runs


def baseline_runs(entries: list[HistoryEntry], current: Run, *, where: Path | str,
                  config: GateConfig | None = None) -> tuple[list[HistoryEntry], list[tuple[HistoryEntry, str]]]:
    """The newest ``config.baseline_runs`` of the saved runs ``entries`` (oldest first, the current run
    left out) that share ``current``'s preset and cases, oldest first, and the newer runs passed over with
    the reason. CompareError when fewer than ``config.min_baseline_runs`` remain: the message says how many
    there are in ``where`` (the profile's storage folder) and how to save more."""
    config = config or GateConfig()
    profile, presets = current.profile, current.presets
    root = where
    chosen: list[HistoryEntry] = []
    skipped: list[tuple[HistoryEntry, str]] = []
    for entry in reversed(entries):
        if len(chosen) == config.baseline_runs:
            break
        why = passed_over(entry, current)
        if why is None:
            chosen.append(entry)
        else:
            skipped.append((entry, why))
    chosen.reverse()
    needed = needed_baseline_runs(current, config)
    if len(chosen) < needed:
        folder = f"{root}" + (f"/{entries[0].machine_id}" if entries else "")
        reasons = sorted({why for _, why in skipped})
        other = (f" ({len(skipped)} newer run(s) not counted: {'; '.join(reasons[:3])}:"
                 f" {', '.join(e.path.name for e, _ in skipped[:3])})") if skipped else ""
        raise NoBaselineError(
            f"no baseline for profile {profile!r}, preset {', '.join(presets)!r}: {len(chosen)} saved run(s) in "
            f"{folder}{other}; the gate needs {needed}" + (
                " (a counted run: tox -e counts saves one per run)" if current.counted else
                " to measure this host's between-run noise. Save more on the main branch: tox -e gate-baseline")
        )
    return chosen, skipped


def _kind(bench: Benchmark) -> str:
    variant = bench.runtime or bench.model_format
    return "/".join(str(p) for p in (bench.operation, variant) if p)


def slower_p(current: np.ndarray, baseline: np.ndarray) -> float:
    """One-sided Mann-Whitney U p-value that ``current`` rounds are slower than ``baseline``'s."""
    return mann_whitney_p(current, baseline, alternative="greater")


def faster_p(current: np.ndarray, baseline: np.ndarray) -> float:
    return mann_whitney_p(baseline, current, alternative="greater")


def judge(baselines: list[Run], current: Run, config: GateConfig) -> tuple[GateRow, ...]:
    """Every benchmark of the baseline runs or the current run, judged (see the module doc)."""
    base = [r.by_key for r in baselines]
    now = current.by_key
    names = list(dict.fromkeys([n for r in base for n in r] + list(now)))
    first = {n: now.get(n) or next(r[n] for r in base if n in r) for n in names}
    kinds = {n: _kind(first[n]) for n in names}
    medians = {n: [r[n].median_s for r in base if n in r] for n in names}
    noise = pooled_noise(medians, kinds)
    judged = [n for n in names if n in now and len(medians[n]) >= config.min_baseline_runs]
    rows = []
    for name in names:
        bench = now.get(name)
        operation = first[name].operation
        counts = [r[name].instructions for r in base if name in r]
        if bench is not None and bench.instructions is not None and counts and None not in counts:
            rows.append(count_row(name, operation, kinds[name], bench, counts, medians[name], config))
            continue
        factor = config.factor_for(operation)
        logs = log_medians(medians[name])
        reference = float(math.exp(logs.mean())) if logs.size else None
        cur = bench.median_s if bench else None
        data = rounds_of(bench)
        sigma, dof = noise[kinds[name]]
        common = dict(name=name, operation=operation, kind=kinds[name], baseline_medians_s=tuple(medians[name]),
                      reference_s=reference, current_s=cur, rounds=int(data.size), factor=factor)
        if bench is None:
            rows.append(GateRow(**common, ratio=None, sigma=None, limit=None, p_value=None, mark=" ",
                                verdict="only in baseline"))
            continue
        if reference is None:
            rows.append(GateRow(**common, ratio=None, sigma=None, limit=None, p_value=None, mark=" ",
                                verdict="only in current"))
            continue
        ratio = cur / reference
        base_data = [rounds_of(r[name]) for r in base if name in r]
        enough = (name in judged and data.size >= config.min_rounds and dof > 0
                  and all(d.size >= config.min_rounds for d in base_data))
        if not enough:
            rows.append(GateRow(**common, ratio=ratio, sigma=None if dof == 0 else sigma, limit=None, p_value=None,
                                mark=MARK_NO_DATA, verdict="not enough data"))
            continue
        limit = max(factor, prediction_limit(sigma, dof, logs.size, config.alpha, len(judged)))
        pooled = np.concatenate(base_data)
        if ratio > limit:
            p = slower_p(data, pooled)
            mark, verdict = (MARK_SLOWER, "regression") if p < config.alpha else (MARK_NOT_SIGNIFICANT, "not significant")
        elif ratio < 1.0 / limit:
            p = faster_p(data, pooled)
            mark, verdict = (MARK_FASTER, "improvement") if p < config.alpha else (MARK_NOT_SIGNIFICANT, "not significant")
        else:
            p = slower_p(data, pooled) if ratio >= 1.0 else faster_p(data, pooled)
            mark, verdict = MARK_SAME, "within noise"
        rows.append(GateRow(**common, ratio=ratio, sigma=sigma, limit=limit, p_value=p, mark=mark, verdict=verdict))
    return tuple(rows)


_COUNT_VERDICTS = {CR.MARK_SLOWER: "regression", CR.MARK_FASTER: "improvement", CR.MARK_SAME: "within threshold",
                   CR.MARK_NO_VERDICT: "no verdict"}


def count_row(name: str, operation: str | None, kind: str, bench: Benchmark, counts: list[float],
              medians: list[float], config: GateConfig) -> GateRow:
    """A counted case judged on instructions per call by the count rule."""
    v = CR.judge_count(operation, counts, bench.instructions, config.counts)
    logs = log_medians(medians)
    return GateRow(name=name, operation=operation, kind=kind, baseline_medians_s=tuple(medians),
                   reference_s=float(math.exp(logs.mean())) if logs.size else None, current_s=bench.median_s,
                   ratio=v.ratio, sigma=None, limit=None if v.mark == CR.MARK_NO_VERDICT else 1.0 + v.threshold,
                   p_value=None, rounds=bench.rounds, factor=1.0 + v.threshold, mark=v.mark,
                   verdict=_COUNT_VERDICTS[v.mark], metric="instructions", reference_count=v.reference,
                   current_count=v.current, note=v.reason)


def gate(entries: list[HistoryEntry], current: Run, *, where: Path | str,
         config: GateConfig | None = None) -> GateResult:
    """Judge the loaded ``current`` run against the baseline chosen from the saved runs ``entries`` (the
    current run left out; see :func:`baseline_runs`); CompareError when there is no baseline or nothing in
    common."""
    config = config or GateConfig()
    chosen, skipped = baseline_runs(entries, current, where=where, config=config)
    rows = judge([e.run for e in chosen], current, config)
    if not any(r.ratio is not None for r in rows):
        raise CompareError(f"{current.source} has no benchmark in common with the baseline runs "
                           f"({', '.join(e.path.name for e in chosen)})")
    return GateResult(tuple(chosen), tuple(skipped), current, config, rows)


#: Most A/A trials ``aa_check`` judges (combinations of baseline runs, in itertools order).
MAX_AA_TRIALS = 2000


@dataclass(frozen=True)
class AACheck:
    """The gate applied to saved runs of one commit line against each other (A/A)."""

    sessions: int
    baseline_size: int
    trials: int
    alarms: int
    flagged: dict[str, int]  # benchmark -> trials it was flagged in

    @property
    def rate(self) -> float:
        return self.alarms / self.trials if self.trials else math.nan


def scaled_run(run: Run, operation: str, factor: float) -> Run:
    """A copy of ``run`` whose ``operation`` rounds (and their statistics) are ``factor`` times longer."""
    return run.with_benchmarks(b.scaled(factor) if b.operation == operation else b for b in run.benchmarks)


def aa_check(entries: list[HistoryEntry], profile: str, *, where: Path | str,
             config: GateConfig | None = None, slowdown: tuple[str, float] | None = None) -> AACheck:
    """Judge every saved run of ``profile`` in ``entries`` (the newest run's preset) against every set of
    ``min_baseline_runs`` of the others (a counted run: against all the others, up to ``baseline_runs``): how
    often would the gate fail an unchanged commit here? ``where`` names the storage folder in errors.
    Meaningful when the runs are of one commit (or commits that did not change the speed).
    With ``slowdown`` (operation, factor) the judged run's rounds of that operation are made
    ``factor`` times longer (and its counts ``factor`` times larger) first: how often would the gate
    catch that slowdown here? A real injected run (``--inject-slowdown``) is the stronger proof:
    judge it with :func:`gate`."""
    import itertools

    config = config or GateConfig()
    root = where
    if entries:  # the newest run's preset and cases, valid runs only
        newest = next((e for e in reversed(entries) if not e.run.injected and not e.run.invalid), entries[-1])
        entries = [e for e in entries if (e is newest and not e.run.injected and not e.run.invalid)
                   or passed_over(e, newest.run) is None]
    counted = bool(entries) and entries[-1].run.counted
    if counted:  # each counted run against all the others (up to baseline_runs), as the gate judges one
        needed = config.counts.min_baseline_runs
        k = max(min(len(entries) - 1, config.baseline_runs), needed)
    else:
        needed = k = config.min_baseline_runs
    if len(entries) < k + 1:
        raise NoBaselineError(f"{root}: {len(entries)} saved run(s) of profile {profile!r}; an A/A check needs "
                           f"{needed + 1} (min_baseline_runs + 1): run "
                           + ("tox -e counts twice" if counted else "tox -e gate-baseline twice"))
    trials = alarms = 0
    flagged: dict[str, int] = defaultdict(int)
    for i, current in enumerate(entries):
        others = [e.run for j, e in enumerate(entries) if j != i]
        judged = scaled_run(current.run, *slowdown) if slowdown else current.run
        for baseline in itertools.combinations(others, k):
            if trials == MAX_AA_TRIALS:
                break
            trials += 1
            bad = [r.name for r in judge(list(baseline), judged, config) if r.verdict == "regression"]
            alarms += bool(bad)
            for name in bad:
                flagged[name] += 1
    return AACheck(len(entries), k, trials, alarms, dict(flagged))


def format_aa(check: AACheck, profile: str, config: GateConfig, slowdown: tuple[str, float] | None) -> list[str]:
    """The A/A check's lines: the false-alarm (or, with a slowdown, the detection) rate."""
    lines = [f"A/A check, profile {profile}: {check.sessions} saved runs, each judged against every "
             f"{check.baseline_size} of the others ({check.trials} trials)"]
    if slowdown:
        lines.append(f"with every {slowdown[0]} round of the judged run x{slowdown[1]:g}: the gate failed "
                     f"{check.alarms} of {check.trials} ({check.rate * 100:.1f} %)")
    else:
        lines.append(f"false alarms: {check.alarms} of {check.trials} ({check.rate * 100:.1f} %; the gate is "
                     f"set for {config.alpha * 100:g} %)")
    for name, n in sorted(check.flagged.items(), key=lambda kv: -kv[1])[:10]:
        lines.append(f"  {n:4d}  {short_name(name)}")
    return lines


# --------------------------------------------------------------------------- output


def _pct(ratio: float | None) -> str:
    return "-" if ratio is None else f"{(ratio - 1.0) * 100:+.1f}%"


def format_text(result: GateResult, profile: str) -> list[str]:
    base = result.baselines
    cfg = result.config
    lines = [f"gate: profile {profile}, preset {', '.join(result.current.presets) or '-'}, host {base[-1].machine_id}",
             f"baseline: {len(base)} run(s) {', '.join(e.label for e in base)} (newest {cfg.baseline_runs} kept)",
             f"current:  {result.current.source} (commit {(result.current.commit or '-')[:10]})"]
    lines += run_flags("current", result.current)
    if result.skipped:
        lines.append(f"passed over: {len(result.skipped)} newer run(s) "
                     f"({', '.join(f'{e.label}: {why}' for e, why in result.skipped)})")
    rows = [("", "metric", "reference", "current", "change", "limit", "p", "rounds", "verdict", "benchmark")]
    for r in result.rows:
        counted = r.metric == "instructions"
        ref, cur = (fmt_count(r.reference_count), fmt_count(r.current_count)) if counted else (
            fmt_time(r.reference_s), fmt_time(r.current_s))
        rows.append((r.mark, r.metric, ref, cur, _pct(r.ratio) if not counted or r.ratio is None
                     else f"{(r.ratio - 1.0) * 100:+.3f}%", _pct(r.limit),
                     "-" if r.p_value is None else f"{r.p_value:.3g}", str(r.rounds), r.verdict, short_name(r.name)))
    lines += format_table(rows, left=(0, 1, 8, 9))
    lines += [f"  {short_name(r.name)}: {r.note}" for r in result.rows
              if r.metric == "instructions" and r.mark == CR.MARK_NO_VERDICT]
    lines.append("")
    counted_rows = [r for r in result.rows if r.metric == "instructions"]
    if counted_rows:
        spreads = [max(c) / min(c) - 1 for c in (_counts_of(result, r.name) for r in counted_rows) if c]
        lines.append(f"counted cases: {len(counted_rows)} judged on instructions per call (count threshold "
                     f"{cfg.counts.threshold:.2%}" + "".join(f", {op} {t:.2%}" for op, t in sorted(cfg.counts.thresholds.items()))
                     + (f"; baseline counts spread up to {max(spreads):.3%}" if spreads else "") + ")")
    kinds: dict[str, list[GateRow]] = defaultdict(list)
    for r in result.rows:
        if r.limit is not None and r.metric == "time":
            kinds[r.kind].append(r)
    if kinds:
        lines.append("between-run noise on this host (SD of log median) and the slowdown the gate can see:")
        for kind, rs in sorted(kinds.items()):
            limits = sorted(r.limit for r in rs)
            lines.append(f"  {kind:<24} sigma {rs[0].sigma * 100:5.1f}%  limit {_pct(limits[0])}"
                         + (f" .. {_pct(limits[-1])}" if limits[-1] > limits[0] + 1e-9 else ""))
    counts: dict[str, int] = defaultdict(int)
    for r in result.rows:
        counts[r.verdict] += 1
    lines.append("summary: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())))
    if result.regressions:
        lines.append(f"FAILED: {len(result.regressions)} slowdown(s) beyond the limit ("
                     + ("instructions per call beyond the count threshold" if counted_rows else
                        f"significant at alpha {cfg.alpha} for the whole gate") + ")")
    elif not result.judged and counted_rows:
        lines.append("NO VERDICT: no counted case could be judged (see the notes above)")
    elif not result.judged:
        lines.append(f"NO VERDICT: no benchmark had {cfg.min_rounds} rounds (--benchmark-save-data) in the current "
                     f"run and in {cfg.min_baseline_runs} baseline runs")
    else:
        lines.append("OK: no " + ("count" if counted_rows and len(counted_rows) == len(result.judged) else "significant")
                     + " slowdown beyond the limit")
    return lines


def _counts_of(result: GateResult, name: str) -> list[float]:
    return [e.run.by_key[name].instructions for e in result.baselines
            if name in e.run.by_key and e.run.by_key[name].instructions is not None]


def result_dict(result: GateResult) -> dict:
    cfg = result.config
    return {
        "baselines": [{"id": e.id, "path": str(e.path), "machine_id": e.machine_id, "commit": e.run.commit}
                      for e in result.baselines],
        "skipped": [{"path": str(e.path), "why": why} for e, why in result.skipped],
        "current": {"source": result.current.source, "profile": result.current.profile,
                    "presets": list(result.current.presets), "commit": result.current.commit},
        "config": {"factor": cfg.factor, "alpha": cfg.alpha, "min_rounds": cfg.min_rounds,
                   "baseline_runs": cfg.baseline_runs, "min_baseline_runs": cfg.min_baseline_runs,
                   "factors": dict(cfg.factors),
                   "counts": {"threshold": cfg.counts.threshold, "thresholds": dict(cfg.counts.thresholds),
                              "min_baseline_runs": cfg.counts.min_baseline_runs}},
        "outcome": result.outcome,
        "failed": bool(result.regressions),
        "rows": [asdict(r) for r in result.rows],
    }


def format_json(result: GateResult) -> list[str]:
    """The result as indented JSON lines (:func:`result_dict`)."""
    return json.dumps(result_dict(result), indent=2, allow_nan=False, default=str).splitlines()


def parse_slowdown(text: str) -> tuple[str, float]:
    """``inference=1.2`` -> ("inference", 1.2); ValueError naming the value otherwise."""
    operation, sep, value = text.partition("=")
    try:
        factor = float(value)
    except ValueError:
        factor = math.nan
    if not sep or not operation or not factor > 0:
        raise ValueError(f"--slowdown must be OPERATION=FACTOR with FACTOR > 0, e.g. inference=1.2; got {text!r}")
    return operation, factor
