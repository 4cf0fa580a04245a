"""The one report: results in, ``results/report/<run>/`` out.

:func:`build_report` loads the results through the storage, builds the measured
scenarios that the profiles present allow (a missing profile is said, never a
failure: the study's figures stand in for it), computes Table I, Table II, the
crossovers and the cheapest pipeline per range of Q, and :func:`write_report`
writes ``index.html`` (answers first, :mod:`reports.page`), ``tables/<name>.md|csv``,
``figures/<name>.png|svg``, ``points.csv`` and ``report.json``.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from costmodel import radio
from costmodel.curves import DEFAULT_Q_GRID, best_ranges_table, crossovers, curve_points, ranking
from costmodel.paper import PF70_MODEL_BYTES, paper_report, study_scenarios
from costmodel.pipelines import METRICS, cost_coefficients
from costmodel.render import render_json

from harness.contract import PROFILES, PRUNING_METHODS, SCENARIO_PROFILES
from .measured import (INFERENCE_ASSUMPTIONS, ModelDownload, check_quantized_cases, check_quantized_choice,
                       closer_assumption, inference_comparison, scenario_from_results, table1,
                       table1_quantization)
from .page import MISSING_REMEDY
from .model import MAX_CV, MIN_ROUNDS, ResultsError, ResultSet, int8_feature_notes
from .pagetables import times
from .render import write_table
from .storage import load_results

DEFAULT_OUT = Path("results") / "report"
#: Study model sizes [byte] for the paper panel of the size figure: the full model
#: (16.9 MB) and the pf 70 % model implied by Table II's download time (paper.PF70_MODEL_BYTES).
STUDY_MODEL_BYTES = {0.0: radio.STUDY_FULL_MODEL_BYTES, 0.7: PF70_MODEL_BYTES}
Q_CAPTIONS = {"latency_idle": "Latency versus Q, edge idle (rings: crossovers)",
              "latency_loaded": "Latency versus Q, edge loaded (rings: crossovers)",
              "data": "Data exchanged over the radio link versus Q",
              "energy": "Device energy versus Q, dotted: the 3.7 Wh battery budget"}


#: study / ours (geometric mean) within this factor either way: the assumption reproduces the study's times
RESEMBLANCE_FACTOR = 3.0
#: The Q [requests per model] at which the answer gives the cheapest pipelines' costs.
ANSWER_Q = (1, 100, 10_000)
#: Fields of the preset's scale the suite records (machine_info.continuum.scale).
SCALE_FIELDS = ("alpha", "input_size", "num_classes", "images_per_class", "embedded")


class ReportError(ValueError):
    """Nothing (valid) to report; the message says what is missing."""


@dataclass(frozen=True)
class Report:
    """What a report computed; ``written`` once it is on disk."""

    results: ResultSet
    tables: Mapping[str, pd.DataFrame]
    best_ranges: pd.DataFrame
    answer_source: Mapping[str, str]  # scenario -> "measured" or "the study's figures"
    points: pd.DataFrame
    study_points: pd.DataFrame
    study_crossovers: pd.DataFrame
    missing: tuple[str, ...]  # profiles absent from the results
    warnings: tuple[str, ...]
    alerts: tuple[str, ...]  # invalid runs and missing profiles: shown in red at the top
    radio: Mapping
    written: tuple[Path, ...] = field(default=())
    index: Path | None = None
    inference: str = "warm"  # the assumption of ``points`` and tables["crossovers"]
    #: {assumption: curve points} of every assumption whose scenarios could be built
    points_by_inference: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    resemblance: str = ""  # which assumption the study's per-request inference times resemble
    #: every pipeline's cost at each Q of ANSWER_Q: scenario, metric, q, rank (1: cheapest), pipeline, cost
    costs: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: what the pruned pipelines were built from: pruning_factor, pruning_method, runtime, statistic
    options: Mapping = field(default_factory=dict)


def default_run_name(now: _dt.datetime | None = None) -> str:
    """``YYYYmmdd-HHMMSS`` (UTC): the folder of a report under results/report/."""
    return (now or _dt.datetime.now(_dt.timezone.utc)).strftime("%Y%m%d-%H%M%S")


def check_presets(rs: ResultSet) -> None:
    """Every measurement from one preset; a file from another preset is a ReportError naming it."""
    by_preset = rs.presets()
    if len(by_preset) > 1:
        detail = "; ".join(f"{p}: {', '.join(s)}" for p, s in by_preset.items())
        raise ReportError(f"results from different presets cannot share a report ({detail})")


def without_foreign_counts(rs: ResultSet) -> tuple[ResultSet, list[str]]:
    """``rs`` without its counted run when that run is of a preset the timed runs are not (a
    results folder's counts.json of another grid), and the warning saying so; else unchanged."""
    if rs.counted is None:
        return rs, []
    timed = {str(m.preset) for m in rs.measurements}
    counted = {str(b.preset) for b in rs.counted.benchmarks}
    if counted <= timed:
        return rs, []
    return dataclasses.replace(rs, counted=None), [
        f"{rs.counted.source}: a counted run of preset {', '.join(sorted(counted))}, the timed results are of "
        f"{', '.join(sorted(timed))}: its counts are not shown; count that preset with python -m harness.counts "
        f"--preset={sorted(timed)[0]}"]


def build_report(results: Sequence, *, q=None, pruning_factor: float = 0.7, pruning_method: str = "magnitude",
                 runtime: str = "litert", model_download: ModelDownload = ModelDownload(),
                 sizes: str = "study", statistic: str = "mean", radio_preset: str = "paper",
                 distance: float | None = None, allow_invalid: bool = False, inference: str = "warm",
                 quantization: str = "none") -> Report:
    """Compute everything the report shows from results files / folders (see ``storage.result_files``).

    The answer, the main curves and ``crossovers`` take each request's inference time as
    ``inference`` says (warm: steady state; cold: model set-up plus first call); the curves and
    crossovers of the other assumption come beside them (``crossovers_warm``, ``crossovers_cold``).

    ``quantization``: the models the edge serves and sends (:func:`measured.scenario_from_results`).

    Raises ResultsError / ReportError on unreadable, empty, mixed-preset or (unless
    ``allow_invalid``) invalid results, and on a ``quantization`` of which the results hold no
    record (naming the cases it needs); a profile or a result that a scenario needs and
    the results lack leaves that scenario to the study's figures, with a warning.
    """
    if inference not in INFERENCE_ASSUMPTIONS:
        raise ReportError(f"inference must be one of {INFERENCE_ASSUMPTIONS}, got {inference!r}")
    check_quantized_choice(quantization, runtime, model_download)
    rs, foreign = without_foreign_counts(load_results(*results, allow_invalid=allow_invalid))
    if not rs.measurements:
        raise ReportError("the results hold no measurement: nothing to report")
    check_presets(rs)
    link = radio.get_link(radio_preset, distance=distance)
    up, down = float(radio.uplink_rate(link)), float(radio.downlink_rate(link))
    qs = DEFAULT_Q_GRID if q is None else q
    missing = tuple(p for p in PROFILES if p not in rs.profiles)
    if quantization != "none" and not any(m.quantization == quantization for m in rs.measurements):
        built = [s for s, e in SCENARIO_PROFILES.items() if e not in missing and "device" not in missing]
        check_quantized_cases(rs, (built or ["idle"])[0], pruning_factor, pruning_method, quantization, runtime)
    warnings = foreign + int8_feature_notes(rs.runs) + rs.notes() + stability_warnings(rs.measurements)
    by_inference: dict[str, dict] = {a: {} for a in INFERENCE_ASSUMPTIONS}
    for a in (inference,) + tuple(x for x in INFERENCE_ASSUMPTIONS if x != inference):
        for scenario, edge in SCENARIO_PROFILES.items():
            if edge in missing or "device" in missing:
                continue
            try:
                by_inference[a][scenario] = scenario_from_results(
                    rs, scenario, pruning_factor, uplink_bps=up, downlink_bps=down, pruning_method=pruning_method,
                    runtime=runtime, model_download=model_download, sizes=sizes, statistic=statistic, inference=a,
                    quantization=quantization)
            except ResultsError as exc:
                shown = "the study's figures are shown instead" if a == inference else "only the other assumption's"
                warnings.insert(0, f"no measured {scenario}-edge curves ({a} inference): {exc}; {shown}")
    scenarios = by_inference[inference]
    study = paper_report(q=qs, link=link, radio_preset=radio_preset)
    tables = {"table1": table1(rs, pruning_method=pruning_method, runtime=runtime, statistic=statistic)}
    quantized = table1_quantization(rs, statistic=statistic)
    if len(quantized):
        tables["table1_quantization"] = quantized
    comparison = inference_comparison(rs, pruning_factor=pruning_factor, pruning_method=pruning_method,
                                      runtime=runtime, statistic=statistic)
    tables["inference_assumptions"] = comparison
    resemblance = resemblance_text(comparison)
    measured_ranges = best_ranges_table(scenarios) if scenarios else None
    if scenarios:
        tables["table2"] = _table2(scenarios)
        tables["crossovers"] = crossovers(scenarios)
    for a, sc in by_inference.items():
        if sc:
            tables[f"crossovers_{a}"] = crossovers(sc)
    study_ranges = study["best_ranges"]
    source = {s: "measured" if s in scenarios else "the study's figures" for s in SCENARIO_PROFILES}
    # the cheapest pipeline per range of Q: measured where the scenario could be built, else the study's
    best = pd.concat([(measured_ranges[measured_ranges.scenario == s] if s in scenarios
                       else study_ranges[study_ranges.scenario == s]) for s in SCENARIO_PROFILES],
                     ignore_index=True)
    tables.update({"best_ranges": best, "study_table1": study["table1"], "study_table2": study["table2"],
                   "study_crossovers": study["crossovers"], "study_best_ranges": study_ranges})
    if len(quantized) and scenarios:
        effect, left_out = quantization_effect(rs, tuple(scenarios), uplink_bps=up, downlink_bps=down, runtime=runtime,
                                               model_download=model_download, sizes=sizes, statistic=statistic,
                                               inference=inference)
        tables["quantization_effect"] = effect
        warnings += left_out
    if rs.counted is not None:
        tables["counts"], unmatched = counts_beside_times(rs)
        warnings += unmatched
    frame = rs.frame().drop(columns=["source"])
    frame["unstable"] = [needs_more_rounds(m) for m in rs.measurements]
    tables["measurements"] = frame.sort_values(["profile", "operation", "name"], kind="stable").reset_index(drop=True)
    study_inputs = study_scenarios(link)
    costs = answer_costs({s: scenarios.get(s, study_inputs[s]) for s in SCENARIO_PROFILES})
    alerts = [f"{r.profile}: INVALID RUN shown on request: {p}" for r in rs.runs for p in r.invalid]
    alerts += [f"no {p} results: {MISSING_REMEDY[p]}" for p in missing]
    alerts += [f"{r.profile}: {len(r.unenforced)} limit(s) not enforced, its times are not the profile's: "
               + ", ".join(u.split("profile.enforced.", 1)[-1].split(":")[0].removesuffix(".enforced") for u in r.unenforced)
               + " (see Warnings)" for r in rs.runs if r.unenforced]
    return Report(rs, tables, best, source, curve_points(scenarios, qs) if scenarios else study["points"].iloc[0:0],
                  study["points"], study["crossovers"], missing, tuple(warnings), tuple(alerts), study["radio"],
                  inference=inference, resemblance=resemblance,
                  points_by_inference={a: curve_points(sc, qs) for a, sc in by_inference.items() if sc},
                  costs=costs, options={"pruning_factor": pruning_factor, "pruning_method": pruning_method,
                                        "runtime": runtime, "statistic": statistic, "quantization": quantization})


#: quantization_effect's columns: per edge load, metric and Q of ANSWER_Q, the cheapest option of all
#: measured (pipeline, model, quantization) and the cheapest float one, and whether their pipelines differ.
#: Points quantization_sentence names; the rest are in the table.
EFFECT_SAID = 2
EFFECT_COLUMNS = ("scenario", "metric", "at_q", "cheapest", "cost", "cheapest_float", "float_cost",
                  "pipeline_changes")


def quantization_effect(rs: ResultSet, scenarios: Sequence[str], *, uplink_bps: float, downlink_bps: float,
                        **choices) -> tuple[pd.DataFrame, list[str]]:
    """Whether quantization changes the cheapest pipeline (``advise --rank``'s answer) for each measured
    edge load, metric and Q of ANSWER_Q, and the variants left out (a record missing), one line each."""
    from costmodel.options import cheapest_change

    from .measured import measured_options

    rows, left = [], []
    for scenario in scenarios:
        options, left_out = measured_options(rs, scenario, uplink_bps=uplink_bps, downlink_bps=downlink_bps,
                                             **choices)
        left += left_out
        if not options:
            continue
        for metric in METRICS:
            for c in cheapest_change(options, metric, ANSWER_Q):
                rows.append({"scenario": scenario, "metric": metric, "at_q": int(c.q), "cheapest": c.cheapest.label,
                             "cost": c.cost, "cheapest_float": c.cheapest_float.label if c.cheapest_float else None,
                             "float_cost": c.float_cost, "pipeline_changes": c.pipeline_changes})
    return pd.DataFrame(rows, columns=list(EFFECT_COLUMNS)), left


def quantization_sentence(effect: pd.DataFrame) -> str:
    """One sentence: where quantization changes the cheapest pipeline, or that it changes it nowhere."""
    changed = effect[effect.pipeline_changes.astype(bool)]
    if changed.empty:
        return (f"Quantization changes the cheapest pipeline nowhere ({', '.join(sorted(set(effect.scenario)))} edge, "
                f"every metric, Q = {', '.join(f'{q:,}' for q in ANSWER_Q)}); it may make that pipeline cheaper.")
    where = "; ".join(f"{r.metric}, edge {r.scenario}, Q = {r.at_q:,.0f}: {r.cheapest} instead of {r.cheapest_float}"
                      for r in changed.head(EFFECT_SAID).itertuples())
    more = f"; {len(changed) - EFFECT_SAID} more in the table" if len(changed) > EFFECT_SAID else ""
    return f"Quantization changes the cheapest pipeline at {len(changed)} of {len(effect)} points ({where}{more})."


def needs_more_rounds(m) -> bool:
    """Spread over MAX_CV across at least MIN_ROUNDS rounds: more rounds (or a quieter host) would
    narrow its median. A case timed fewer times is timed so by the preset; its spread is not judged."""
    return m.rounds >= MIN_ROUNDS and m.cv > MAX_CV


def stability_warnings(measurements) -> list[str]:
    """One line per case whose spread more rounds would narrow, and one line for all the cases the
    preset times fewer than MIN_ROUNDS times (fine-tuning once, pruning three times, ...)."""
    out = [f"{m.profile}: {m.name} unstable (CV {m.cv:.1%} > {MAX_CV:.0%} over {m.rounds} rounds): its "
           f"time is uncertain; rerun the profile on a quieter machine ({m.source})"
           for m in measurements if needs_more_rounds(m)]
    few = [m for m in measurements if m.rounds < MIN_ROUNDS]
    if few:
        per_op: dict[str, set] = {}
        for m in few:
            per_op.setdefault(m.operation, set()).add(m.rounds)
        ops = ", ".join(f"{op} {'/'.join(map(str, sorted(r)))}x" for op, r in sorted(per_op.items()))
        out.append(f"{len(few)} case(s) are timed fewer than {MIN_ROUNDS} times by the preset's design ({ops}): "
                   "their times are read as measured, their spread is not judged")
    return out


def answer_costs(scenarios: Mapping[str, Mapping], qs: Sequence[float] = ANSWER_Q) -> pd.DataFrame:
    """Every pipeline's cost per scenario, metric and q, ranked cheapest first (ties by name)."""
    rows = []
    for name, scenario in scenarios.items():
        for metric in METRICS:
            coef = {p: cost_coefficients(p, metric, x) for p, x in scenario.items()}
            for q in qs:
                rows += [{"scenario": name, "metric": metric, "q": q, "rank": i, "pipeline": p, "cost": c}
                         for i, (p, c) in enumerate(ranking(coef, q), start=1)]
    return pd.DataFrame(rows, columns=["scenario", "metric", "q", "rank", "pipeline", "cost"])


def preset_scale(rs: ResultSet) -> dict:
    """The preset's name and, where the run recorded it, its scale (SCALE_FIELDS) and data folder."""
    record = next((r.record for r in rs.runs if isinstance(r.record, Mapping)), {})
    scale = record.get("scale") if isinstance(record.get("scale"), Mapping) else {}
    return {"preset": ", ".join(rs.presets()), **{k: scale.get(k) for k in SCALE_FIELDS if k in scale},
            "data_dir": record.get("data_dir")}


#: extra_info fields that tell a counted case's timed twin apart (beside operation, pruning factor and
#: quantization, none where absent); a field the counted case leaves out (None) is not compared, except
#: the pruning method (None: the full model)
TWIN_FIELDS = ("pruning_method", "runtime", "model_format", "scheme")


def timed_twins(rs: ResultSet, counted, profile: str) -> list:
    """The timed benchmarks of ``profile`` that time what the counted case ``counted`` counts."""
    out = []
    for m in rs.measurements:
        if m.profile != profile or m.operation != counted.operation:
            continue
        if (m.pruning_factor is None) != (counted.pruning_factor is None) or (
                m.pruning_factor is not None and abs(m.pruning_factor - counted.pruning_factor) > 1e-9):
            continue
        if m.quantization == counted.quantization and all(
                m.extra_info.get(k) == counted.extra_info.get(k) for k in TWIN_FIELDS
                if k == "pruning_method" or counted.extra_info.get(k) is not None):
            out.append(m)
    return out


def counted_case_label(counted) -> str:
    """What a counted case counts, as the suite's case ids say it: ``pf=70-filter-litert``,
    ``full-keras``, ``full-tflite``; a crypto case by its scheme."""
    if counted.scheme:
        return str(counted.scheme)
    if counted.pruning_factor is None:
        return counted.name
    model = "full" if counted.pruning_factor == 0 else f"pf={counted.pruning_factor * 100:g}-{counted.pruning_method}"
    kind = counted.runtime or counted.model_format
    return f"{model}-{kind}" if kind else model


def counts_beside_times(rs: ResultSet) -> tuple[pd.DataFrame, list[str]]:
    """Per counted case of ``rs.counted``: instructions per call beside each profile's timed median [s]
    of the same call, and one warning per case whose timed twin is ambiguous in a profile.

    A profile without the case (a -k selection) shows nothing there; a counted case without any timed
    twin is still listed (its count is the result)."""
    profiles = [p for p in PROFILES if p in rs.profiles]
    rows, warnings = [], []
    for c in sorted(rs.counted.benchmarks, key=lambda b: (b.operation, b.name)):
        row = {"operation": c.operation, "case": counted_case_label(c), "instructions_per_call": c.instructions,
               "counted_calls": c.field("counted_calls")}
        for p in profiles:
            twins = timed_twins(rs, c, p)
            if len(twins) > 1:
                warnings.append(f"{p}: counted case {c.name} matches {len(twins)} timed cases "
                                f"({', '.join(t.name for t in twins)}): no time shown beside its count")
            row[f"{p}_median_s"] = twins[0].median_s if len(twins) == 1 else None
        rows.append(row)
    return pd.DataFrame(rows, columns=["operation", "case", "instructions_per_call", "counted_calls",
                                       *(f"{p}_median_s" for p in profiles)]), warnings


def resemblance_text(comparison: pd.DataFrame) -> str:
    """One sentence: which assumption the study's per-request inference times resemble, with the
    geometric mean of study / ours under each and the range of the ratios."""
    closer, means = closer_assumption(comparison)
    if closer is None:
        return ("no measured inference matches the study's per-request times (full model and the pruned "
                "model, per profile): nothing to compare")
    parts = []
    for a, g in means.items():
        r = comparison[f"study_over_{a}"].dropna()
        parts.append(f"{a}: study / ours {times(g)} (geometric mean; {times(r.min())} to {times(r.max())} over "
                     f"{len(r)} model-profile pairs)" if len(r) else f"{a}: no figure")
    near = 1 / RESEMBLANCE_FACTOR <= means[closer] <= RESEMBLANCE_FACTOR
    verdict = "" if near else (f" Neither assumption comes within {RESEMBLANCE_FACTOR:g}x of the study's times "
                               "with these results.")
    return (f"The study's per-request inference times ({comparison['study_s'].min():.3g}-"
            f"{comparison['study_s'].max():.3g} s) resemble our {closer} requests more than our "
            f"{'warm' if closer == 'cold' else 'cold'} ones: " + "; ".join(parts) + "." + verdict)


def _table2(scenarios):
    from costmodel.tables import table2

    return table2(scenarios)


# ---- figures ------------------------------------------------------------------------------

def accuracy_series(rs: ResultSet) -> list:
    """Top-1 before and after fine-tuning per pruning method, from the finetune results."""
    from .figures import PfSeries

    series = []
    full = rs.select("finetune", None, 0.0)
    for method in PRUNING_METHODS:
        ms = {}
        for m in rs.select("finetune", None, None, pruning_method=method) + full:
            ms.setdefault(m.pruning_factor, m)
        if not ms:
            continue
        pfs = sorted(ms)
        series.append(PfSeries(f"{method}, no FT", method, pfs,
                               [float(ms[p].extra_info["top1_before_ft"]) for p in pfs], dashed=True))
        series.append(PfSeries(f"{method}, with FT", method, pfs,
                               [float(ms[p].extra_info["top1_after_ft"]) for p in pfs]))
    return series


def size_series(rs: ResultSet, model_format: str = "tflite") -> list:
    """Serialized model size per pruning method (solid: raw file, dashed: gzip), one profile's."""
    from .figures import PfSeries

    ms_all = [m for m in rs.select("serialization", None, None, model_format=model_format)]
    first = sorted({m.profile for m in ms_all})[:1]  # sizes do not depend on the profile
    ms_all = [m for m in ms_all if m.profile in first]
    full = [m for m in ms_all if m.pruning_factor == 0.0]
    series = []
    for method in PRUNING_METHODS:
        ms = {m.pruning_factor: m for m in ms_all if m.pruning_method == method and m.pruning_factor}
        if not ms:
            continue
        if full:
            ms[0.0] = full[0]
        pfs = sorted(ms)
        series.append(PfSeries(f"{method}, file", method, pfs, [float(ms[p].extra_info["model_bytes"]) for p in pfs]))
        series.append(PfSeries(f"{method}, gzip", method, pfs,
                               [float(ms[p].extra_info["model_bytes_gzip"]) for p in pfs], dashed=True))
    return series


def study_accuracy_series(t1: pd.DataFrame) -> list:
    """The study's Table I accuracy (columns pruning_factor_pct, top1_no_ft_pct, top1_ft_pct)."""
    from .figures import PfSeries

    pf = (t1["pruning_factor_pct"].to_numpy(dtype=float) / 100).tolist()
    return [PfSeries("study, no FT", "study", pf, (t1["top1_no_ft_pct"] / 100).tolist(), dashed=True),
            PfSeries("study, with FT", "study", pf, (t1["top1_ft_pct"] / 100).tolist())]


def study_size_series() -> list:
    from .figures import PfSeries

    pfs = sorted(STUDY_MODEL_BYTES)
    return [PfSeries("study (16.9 MB; pf 70 % from Table II)", "study", pfs, [STUDY_MODEL_BYTES[p] for p in pfs])]


#: Which profile's inference the accuracy-cost figure plots: the device's, where the quantized model matters.
VARIANT_LATENCY_PROFILES = (("inf_s_device", "device"), ("inf_s_edge_idle", "edge idle"),
                            ("inf_s_edge_loaded", "edge loaded"))


def variant_points(table: pd.DataFrame) -> tuple[list, str]:
    """(one :class:`figures.VariantPoint` per row of Table I's quantization rows, the profile whose
    inference they carry: the device's where measured)."""
    from .figures import VariantPoint

    column, words = next(((c, w) for c, w in VARIANT_LATENCY_PROFILES if table[c].notna().any()),
                         VARIANT_LATENCY_PROFILES[0])
    points = [VariantPoint(r.pruning_factor_pct / 100, r.pruning_method or "full", r.quantization, r.top1_pct / 100,
                           getattr(r, column), r.model_bytes_gzip) for r in table.itertuples()]
    return points, words


def report_figures(report: Report) -> tuple[dict, dict]:
    """({stem: (Figure, caption)} of the four Q-curve figures, the same of accuracy and model size)."""
    from . import figures as F

    measured = (report.points, report.tables.get("crossovers")) if len(report.points) else None
    paper = (report.study_points, report.study_crossovers)
    own = f"; {report.inference} inference per request" if measured else ""
    curves = {stem: (fig, Q_CAPTIONS[stem] + own) for stem, fig in F.q_figures(measured, paper).items()}
    for a, pts in report.points_by_inference.items():
        if a == report.inference or not len(pts):
            continue
        for stem, fig in F.q_figures((pts, report.tables.get(f"crossovers_{a}")), paper).items():
            if stem != "data":  # the data exchanged does not depend on the inference time
                curves[f"{stem}_{a}"] = (fig, f"{Q_CAPTIONS[stem]}; {a} inference per request")
    more = {}
    acc, study_acc = accuracy_series(report.results), study_accuracy_series(report.tables["study_table1"])
    more["accuracy"] = (F.accuracy_figure(acc, study_acc),
                        "Top-1 accuracy versus pruning factor (dashed: before fine-tuning)")
    variants = report.tables.get("table1_quantization")
    if variants is not None and len(variants):
        points, where = variant_points(variants)
        more["quantization"] = (F.quantization_figure(points, latency_label=where),
                                f"Top-1 against the {where}'s warm batch-1 inference (left) and the model's size "
                                "(right), every model variant measured (colour: quantization; marker: pruning "
                                "method); ringed and joined: the Pareto front, no other variant both cheaper and "
                                "more accurate")
    sizes = size_series(report.results)
    if sizes:
        more["model_size"] = (F.model_size_figure(sizes, study_size_series()),
                              "Serialized model size versus pruning factor (dashed: gzip)")
    return curves, more


# ---- writing ------------------------------------------------------------------------------

def _shown(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """What the page shows of a table: crossover tables keep only the pairs that cross
    (every pair is in the CSV)."""
    if name.endswith("crossovers") and "q" in df.columns:
        return df[df["q"].notna()].reset_index(drop=True)
    return df


def write_report(report: Report, out_dir: Path | str, *, run: str | None = None) -> Report:
    """Write index.html, tables/, figures/, points.csv and report.json into ``out_dir``."""
    from . import page
    from .figures import figure_bytes, min_text_px, save_figure

    out_dir = Path(out_dir)
    written: list[Path] = []
    for name, df in report.tables.items():
        written += write_table(df, out_dir / "tables", name)
    curves, more = report_figures(report)
    pngs, fonts = {}, {}
    for group in (curves, more):
        for stem, (fig, caption) in group.items():
            pngs[stem] = (figure_bytes(fig, "png"), caption)
            fonts[stem] = min_text_px(fig)  # after drawing: tick labels exist once the figure is drawn
            written += save_figure(fig, out_dir / "figures" / stem, rendered={"png": pngs[stem][0]})
    rs = report.results
    sources = list(rs.sources.values()) + ([rs.counted.source] if rs.counted is not None else [])
    folders = sorted({str(Path(s).parent) for s in sources})
    files = (", ".join(Path(s).name for s in sources) + f" in {folders[0]}") if len(folders) == 1 \
        else ", ".join(sources)
    meta = [f"run {run or out_dir.name}, generated {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M UTC}; "
            f"results: {files}"]
    base_line = base_model_line(rs.profiles)
    meta += [base_line] if base_line else []
    first = ("table1", "table1_quantization", "inference_assumptions")
    other = "_" + next(a for a in INFERENCE_ASSUMPTIONS if a != report.inference)
    # crossovers_<the answer's assumption> is the crossovers table again
    shown = {k: _shown(k, v) for k, v in report.tables.items()
             if k not in first + ("best_ranges", "study_best_ranges", "counts", f"crossovers_{report.inference}")}
    scenario, preset = page.scenario_text(radio=report.radio, options=report.options,
                                          scale=preset_scale(rs), source=report.answer_source)
    lines = page.html_lines(
        title=page.REPORT_TITLE, meta=meta, alerts=report.alerts,
        answer=page.answer_html(report.costs, report.best_ranges, report.answer_source, inference=report.inference,
                                scenario=scenario, preset=preset),
        study_answer=page.study_answer_html(report.tables["study_best_ranges"]),
        first_tables={k: report.tables[k] for k in first if k in report.tables},
        first_note=report.resemblance + ("  " + quantization_sentence(report.tables["quantization_effect"])
                                         if len(report.tables.get("quantization_effect", ())) else ""),
        curves={k: pngs[k] for k in curves if not k.endswith(other)},
        other_curves={k: pngs[k] for k in curves if k.endswith(other)},
        other_title=f"The same under the {other.lstrip('_')} assumption: each request's inference "
                    + ("from a cold start (model set-up plus first call)" if other == "_cold"
                       else "in the steady state (warm batch-1 time)"),
        profiles=page.profiles_html(rs.profiles, rs.sources, report.missing),
        counts=page.counts_html(report.tables["counts"], counted_run_note(rs.counted))
        if "counts" in report.tables else page.counts_missing_html(),
        warnings=report.warnings, tables=shown, figures={k: pngs[k] for k in more}, min_font_px=fonts)
    out_dir.mkdir(parents=True, exist_ok=True)
    points = out_dir / "points.csv"
    measured = [p.assign(source="measured", inference=a) for a, p in report.points_by_inference.items()] \
        or [report.points.assign(source="measured", inference=report.inference)]
    pd.concat(measured + [report.study_points.assign(source="study", inference="study")],
              ignore_index=True).to_csv(points, index=False)
    index = out_dir / "index.html"
    index.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = out_dir / "report.json"
    summary.write_text("\n".join(render_json(report_dict(report))) + "\n", encoding="utf-8")
    return Report(**{**report.__dict__, "written": tuple(written) + (points, summary, index), "index": index})


def answer_lines(report: Report) -> list[str]:
    """The answer in a few lines for the terminal: the assumption, per metric the cheapest pipeline per
    range of Q with its cost where the range starts (at a Q of ANSWER_Q), the sentence on disagreement."""
    from . import page

    rows = page.answer_rows(report.costs, report.answer_source)
    radio_ = report.radio
    out = [f"answer ({report.inference} inference; the device {radio_.get('distance', 0):,.0f} m from the base "
           f"station; preset {', '.join(report.results.presets())}):"]
    for title, scen, metric in rows:
        ranges = report.best_ranges[(report.best_ranges.scenario == scen) & (report.best_ranges.metric == metric)]
        firsts = report.costs[(report.costs.scenario == scen) & (report.costs.metric == metric)
                              & (report.costs["rank"] == 1)]
        parts = []
        for r in ranges.itertuples():
            at = firsts[(firsts.pipeline == r.pipeline) & (firsts.q >= r.q_from) & (firsts.q < r.q_to)]
            cost = "" if at.empty else (f" ({page.quantity(at.iloc[0].cost, metric)} at Q = "
                                        f"{at.iloc[0].q:,.0f})")
            parts.append(f"{r.pipeline} for {page.q_range_text(r.q_from, r.q_to)}{cost}")
        source = "" if report.answer_source.get(scen) == "measured" else " (the study's figures)"
        out.append(f"  {title}{source}: " + "; ".join(parts))
    out.append("  " + page.disagreement(report.costs, rows))
    if len(report.tables.get("quantization_effect", ())):
        out.append("  " + quantization_sentence(report.tables["quantization_effect"]))
    return out


def summary_lines(report: Report, extra: Sequence[str] = ()) -> list[str]:
    """What ``report`` says at the end: the files, alerts and warnings in short, ``extra`` (the job's
    time), the answer (:func:`answer_lines`) and, last, the page's path."""
    lines = [f"wrote {len(report.written)} files: tables/, figures/, points.csv, report.json"]
    lines += [f"  ! {a}" for a in report.alerts]
    if report.warnings:
        unstable = sum(" unstable (" in w for w in report.warnings)
        lines.append(f"  {len(report.warnings)} warning(s), listed on the page:")
        lines += [f"  - {w}" for w in report.warnings if " unstable (" not in w]
        if unstable:
            lines.append(f"  - {unstable} unstable result(s): rerun their profiles on a quieter machine")
    return lines + list(extra) + answer_lines(report) + [f"page: {report.index}"]


def base_model_line(profiles: Mapping[str, Mapping]) -> str | None:
    """The base model of the runs in one header line: how it came to be (``weights_route``), the
    weights file's sha256 (first 12 digits), the base step's time [s] and test top-1; runs that
    differ are listed apart. None when no run records a base model."""
    described: dict[str, list[str]] = {}
    for profile, record in profiles.items():
        base = record.get("base_model") or {}
        if not base:
            continue
        route = base.get("weights_route") or ("trained here" if base.get("source") == "cache" else "weights file")
        digest = f", weights sha256 {base['weights_sha256'][:12]}" if base.get("weights_sha256") else ""
        text = (f"{route}{digest}, base step {base.get('train_time_s', 0):.1f} s, "
                f"test top-1 {base.get('top1_test', float('nan')):.3f}")
        described.setdefault(text, []).append(profile)
    if not described:
        return None
    if len(described) == 1:
        return f"base model: {next(iter(described))}"
    return "base model: " + "; ".join(f"{', '.join(p)}: {text}" for text, p in described.items())


def counted_run_note(run) -> str:
    """The counted run in one line: its file, the tool and version, the cases, the calls."""
    counts = run.machine_info.get("counts") or {}
    return (f"{len(run.benchmarks)} case(s) counted by {counts.get('tool', 'callgrind')} (valgrind "
            f"{counts.get('valgrind_version', '?')}) in {run.source}, {run.datetime or 'no date'}")


def report_dict(report: Report) -> dict:
    """The report as plain data (``report.json``, ``--format json``)."""
    return {"radio": dict(report.radio), "sources": report.results.sources, "missing": list(report.missing),
            "alerts": list(report.alerts), "warnings": list(report.warnings),
            "answer_source": dict(report.answer_source), "inference": report.inference,
            "resemblance": report.resemblance, "costs": report.costs, "options": dict(report.options),
            **report.tables}
