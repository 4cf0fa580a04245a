"""The command line: ``continuum-bench {report,compare,history,gate,hosts,advise,paper,publish}``.

Parsing is separate from the work: ``run_<command>(**kw)`` takes plain values and
returns an :class:`Outcome` (lines for stdout, warnings and an error for stderr, an exit
code); only :func:`main` prints, and only ``__main__`` modules exit. Exit codes, the same
for every command (README's table): 0 pass, 1 a regression found (compare, gate), 2 bad
usage or input, 3 no verdict (too few rounds or runs, too noisy), 130 interrupted (Ctrl-C).
Everything printed has its control characters escaped (names come from results files).
``paper`` and ``advise`` build on
:mod:`costmodel.cli` (``python -m costmodel``: the same two commands on the study's
figures alone); ``advise --results`` adds the measured results.

Each command imports what it needs when it runs (``paper`` and ``advise`` never load
matplotlib or scipy).
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from costmodel import radio
from costmodel.cli import (EXIT_INTERRUPTED, add_advise_parser, add_format, add_paper_parser, add_pruning_factor,
                           add_radio, add_version, advice_result, check_format, check_pruning_factor, check_scenario,
                           emit, one_q, paper_result, radio_link, study_inputs, whole_q)
from costmodel.pipelines import METRICS, validate_q
from costmodel.render import printable, render

from harness.contract import INFERENCE_ASSUMPTIONS, PRUNING_METHODS, QUANTIZATIONS, RUNTIMES, SCENARIO_PROFILES
from .model import STATISTICS, ResultsError

PROG = "continuum-bench"
SIZE_SOURCES = ("study", "results")

#: Exit codes of every command.
EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_BAD_INPUT = 2
EXIT_NO_VERDICT = 3
OUTCOME_EXIT = {"ok": EXIT_OK, "regression": EXIT_REGRESSION, "no verdict": EXIT_NO_VERDICT}


@dataclass(frozen=True)
class Outcome:
    """What a command produced: lines for stdout, an error and warnings for stderr, an exit code."""

    lines: tuple[str, ...]
    exit_code: int
    error: str | None = None
    warnings: tuple[str, ...] = ()


def _bad(exc: Exception | str, prefix: str = "", warnings=()) -> Outcome:
    return Outcome((), EXIT_BAD_INPUT, f"{prefix}{exc}", _skipped_lines(warnings))


def _model_download(inference_format, finetune_format, uncompressed):
    from .measured import ModelDownload

    return ModelDownload(inference_format or "tflite", finetune_format or "keras", not uncompressed)


# ---- paper --------------------------------------------------------------------------------

def run_paper(*, q=None, radio_preset: str = "paper", distance: float | None = None,
              allow_distance: bool = False, published_swap: bool = False, format: str = "text") -> Outcome:
    """The study's own figures through the model (costmodel.cli.paper_result)."""
    try:
        out = paper_result(q=q, radio_preset=radio_preset, distance=distance, allow_distance=allow_distance,
                           published_swap=published_swap, format=format)
    except ValueError as exc:
        return _bad(exc)
    return Outcome(tuple(render(out, format)), EXIT_OK)


# ---- advise -------------------------------------------------------------------------------

#: Options that choose among measured results: without --results they change nothing.
RESULTS_ONLY = ("pruning_method", "runtime", "statistic", "sizes", "inference_model_format",
                "finetune_model_format", "uncompressed", "allow_invalid", "inference", "quantization")
#: The rows ``advise --rank`` shows per Q unless told (``--top 0``: every option).
RANK_TOP = 10


def measured_results(results, scenario: str, allow_invalid: bool = False):
    """(the results a scenario reads, their flagged problems); ResultsError naming what is missing or
    (unless ``allow_invalid``) which run is not valid: a run the scenario does not use may be invalid."""
    from .storage import load_results, refuse_invalid

    rs = load_results(*results, allow_invalid=True)
    edge = SCENARIO_PROFILES[scenario]
    if edge not in rs.profiles or "device" not in rs.profiles:
        raise ResultsError(f"--results: scenario {scenario!r} needs the device and {edge} profiles; the results "
                           f"hold {sorted(rs.profiles)}")
    if not allow_invalid:
        for run in rs.runs:
            if run.profile in ("device", edge):
                refuse_invalid(run)
    flags = [f"{r.profile}: {p}" for r in rs.runs if r.profile in ("device", edge) for p in r.invalid + r.unenforced]
    return rs, flags


def advise_inputs(*, scenario: str, link, results=None, pruning_factor: float = 0.7,
                  pruning_method: str | None = None, runtime: str | None = None, statistic: str | None = None,
                  sizes: str | None = None, model_download=None, allow_invalid: bool = False,
                  inference: str | None = None, quantization: str | None = None) -> tuple[dict, str]:
    """({pipeline: PipelineInputs}, where they come from); ValueError naming the option it cannot honour."""
    check_pruning_factor(pruning_factor)
    if not results:
        return study_inputs(scenario, link, pruning_factor)
    from .measured import scenario_from_results

    up, down = float(radio.uplink_rate(link)), float(radio.downlink_rate(link))
    rs, flags = measured_results(results, scenario, allow_invalid)
    edge = SCENARIO_PROFILES[scenario]
    method = pruning_method or "magnitude"
    check_measured_pruning_factor(rs, pruning_factor, method, required=True)
    quant = quantization or "none"
    inputs = scenario_from_results(rs, scenario, pruning_factor, uplink_bps=up, downlink_bps=down,
                                   pruning_method=method, runtime=runtime or "litert",
                                   model_download=model_download or _model_download(None, None, False),
                                   sizes=sizes or "study", statistic=statistic or "mean",
                                   inference=inference or "warm", quantization=quant)
    quantized = "" if quant == "none" else f", {quant} models (D-FT,D-Inf float)"
    src = f"measured ({method} pruning{quantized}, {inference or 'warm'} inference per request): " + ", ".join(
        f"{p} {s}" for p, s in rs.sources.items() if p in ("device", edge))
    return inputs, src + ("; FLAGGED " + "; ".join(flags) if flags else "")


def check_measured_pruning_factor(rs, pruning_factor: float, method: str, *, required: bool) -> None:
    """ValueError naming --pruning-factor when the results hold ``method`` fine-tuning, but not at
    ``pruning_factor`` (or, ``required``, at no pruning factor at all)."""
    have = sorted({m.pruning_factor for m in rs.select("finetune", None, None, pruning_method=method)})
    if (have or required) and not any(abs(pruning_factor - pf) < 1e-9 for pf in have):
        raise ValueError(f"--pruning-factor {pruning_factor:g}: the results hold {method} fine-tuning at "
                         f"{', '.join(f'{p:g}' for p in have) or 'no pruning factor'}")


def check_choice(option: str, value, allowed) -> None:
    """ValueError naming ``option`` and the allowed values unless ``value`` is None or one of them."""
    if value is not None and value not in allowed:
        raise ValueError(f"{option} must be one of {tuple(allowed)}, got {value!r}")


def fraction(option: str, text) -> float | None:
    """``text`` as a fraction in [0, 1] (None stays None); ValueError naming ``option``."""
    if text is None:
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not 0 <= value <= 1:  # NaN fails too
        raise ValueError(f"{option} must be a fraction in [0, 1] (0.85 for 85 %), got {text!r}")
    return value


def run_advise(*, q, scenario: str = "idle", distance: float | None = None, allow_distance: bool = False,
               radio_preset: str = "paper", results=None, pruning_factor: float = 0.7,
               pruning_method: str | None = None, runtime: str | None = None, statistic: str | None = None,
               sizes: str | None = None, inference_model_format: str | None = None,
               finetune_model_format: str | None = None, uncompressed: bool = False,
               allow_invalid: bool = False, inference: str | None = None, quantization: str | None = None,
               rank: bool = False, metric: str | None = None, min_top1=None, top: int | None = None,
               format: str = "text") -> Outcome:
    """Best pipeline by latency, energy and data for ``q`` requests, a scenario and a distance,
    with the margin to the runner-up and the inputs the answer rests on; with ``rank``, every
    measured (pipeline, model variant) ranked at each Q of ``q`` (:func:`run_rank`)."""
    given = {"pruning_method": pruning_method, "runtime": runtime, "statistic": statistic, "sizes": sizes,
             "inference_model_format": inference_model_format, "finetune_model_format": finetune_model_format,
             "uncompressed": uncompressed or None, "allow_invalid": allow_invalid or None, "inference": inference,
             "quantization": quantization}
    try:
        check_format(format)
        check_scenario(scenario)
        if not results:
            used = [k for k in RESULTS_ONLY if given[k] is not None] + (["rank"] if rank else [])
            if used:
                raise ValueError(f"--{used[0].replace('_', '-')} chooses among measured results: it goes with "
                                 "--results (the study's figures have one value of it)")
        for option, value, allowed in (("--pruning-method", pruning_method, PRUNING_METHODS),
                                       ("--runtime", runtime, RUNTIMES), ("--statistic", statistic, STATISTICS),
                                       ("--sizes", sizes, SIZE_SOURCES),
                                       ("--inference", inference, INFERENCE_ASSUMPTIONS),
                                       ("--quantization", quantization, QUANTIZATIONS),
                                       ("--metric", metric, METRICS)):
            check_choice(option, value, allowed)
        floor = fraction("--min-top1", min_top1)
        if not rank:
            only = [f for f, v in (("--metric", metric), ("--min-top1", floor), ("--top", top)) if v is not None]
            if only:
                raise ValueError(f"{only[0]} goes with --rank")
            qv = one_q(q, " without --rank")
        link, note = radio_link(radio_preset, distance, allow_distance)
        model_download = _model_download(inference_model_format, finetune_model_format, uncompressed)
        if rank:
            if quantization is not None or pruning_method is not None:
                raise ValueError(f"--rank ranks every pruning factor, method and quantization measured: "
                                 f"{'--quantization' if quantization is not None else '--pruning-method'} "
                                 "goes without it")
            if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 0):
                raise ValueError(f"--top must be a whole number >= 0 (0: every option), got {top!r}")
            return run_rank(qs=[whole_q(v) for v in (q if isinstance(q, (list, tuple)) else [q])],
                            scenario=scenario, link=link, note=note, radio_preset=radio_preset, results=results,
                            metric=metric or "latency", min_top1=floor, top=RANK_TOP if top is None else top,
                            runtime=runtime or "litert", statistic=statistic or "mean", sizes=sizes or "study",
                            model_download=model_download, allow_invalid=allow_invalid,
                            inference=inference or "warm", format=format)
        inputs, source = advise_inputs(
            scenario=scenario, link=link, results=results, pruning_factor=pruning_factor,
            pruning_method=pruning_method, runtime=runtime, statistic=statistic, sizes=sizes,
            model_download=model_download, allow_invalid=allow_invalid, inference=inference,
            quantization=quantization)
        out = advice_result(qv, scenario, link, note, radio_preset, inputs, source)
    except ValueError as exc:  # includes ResultsError
        return _bad(exc)
    return Outcome(tuple(render(out, format)), EXIT_OK)


def run_rank(*, qs, scenario: str, link, note: str | None, radio_preset: str, results, metric: str,
             min_top1: float | None, top: int, runtime: str, statistic: str, sizes: str, model_download,
             allow_invalid: bool, inference: str, format: str) -> Outcome:
    """``advise --rank``: every measured (pipeline, pruning factor, method, quantization) ranked by ``metric``
    at each Q, its top-1 beside it, those under ``min_top1`` left out; first, whether quantization changes
    the cheapest pipeline. Exit 3 when no option reaches the floor (the best top-1 said); ValueError
    (exit 2) on results that cannot be ranked."""
    from costmodel.options import cheapest_change, change_sentence, meets, rank_options

    from .measured import measured_options
    from .model import int8_feature_notes

    rs, flags = measured_results(results, scenario, allow_invalid)
    options, left_out = measured_options(rs, scenario, uplink_bps=float(radio.uplink_rate(link)),
                                         downlink_bps=float(radio.downlink_rate(link)), runtime=runtime,
                                         model_download=model_download, sizes=sizes, statistic=statistic,
                                         inference=inference)
    if not options:
        raise ResultsError("--rank: no model variant could be ranked: " + "; ".join(left_out))
    if not any(meets(o, min_top1) for o in options):
        known = [o for o in options if not math.isnan(o.top1)]
        best = max(known, key=lambda o: o.top1) if known else None
        said = (f"the best top-1 measured is {best.top1:.4g} ({best.model} {best.quantization})" if best
                else "no record holds a top-1")
        return Outcome((), EXIT_NO_VERDICT, f"no verdict: no measured option reaches --min-top1 {min_top1:g}: {said}")
    quantized = any(o.quantization != "none" for o in options)
    answer = (change_sentence(cheapest_change(options, metric, qs, min_top1=min_top1), metric) if quantized else
              "no quantized record among the results: nothing to compare (the int8 cases, test_inference[<model>-"
              "int8] and test_quantize[<model>-int8], were not run)")
    kept = sum(meets(o, min_top1) for o in options)
    shown = kept if not top else min(top, kept)
    out = {"quantization_changes_cheapest": answer,
           "ranked": f"{metric} on the {scenario} edge, device {link.distance:,.0f} m from the base station "
                     f"({radio_preset} radio), {inference} inference; {kept} of {len(options)} options"
                     + (f" reach top-1 >= {min_top1:g}" if min_top1 is not None else "")
                     + (f"; the {shown} cheapest shown per Q (--top 0: all)" if shown < kept else "")}
    if note:
        out = {"warning": note, **out}
    for q in qs:
        table = rank_options(options, metric, q, min_top1=min_top1)
        out[f"Q = {q:,}"] = table.head(top) if top else table
    notes = left_out + int8_feature_notes([r for r in rs.runs if r.profile in ("device", SCENARIO_PROFILES[scenario])])
    out["notes"] = notes + [f"FLAGGED {f}" for f in flags]
    out["sources"] = [f"{p} {s}" for p, s in rs.sources.items() if p in ("device", SCENARIO_PROFILES[scenario])]
    return Outcome(tuple(render(out, format)), EXIT_OK)


# ---- report -------------------------------------------------------------------------------

#: Characters a report's folder name (--run) may not hold: it names one folder under --out.
RUN_NAME = re.compile(r"^(?!\.)[^/\\\x00]+$")


def check_run_name(run: str) -> None:
    """A report folder name: one path component, not hidden, not . or .."""
    if not RUN_NAME.match(run) or run in (".", ".."):
        raise ValueError(f"--run {run!r}: a report folder name, without / or \\ and not starting with '.' "
                         f"(it names one folder under --out)")


def report_parent(out: Path) -> Path:
    """``--out`` made ready for a report folder; ValueError naming --out when it is a file or cannot be written."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"--out {out}: cannot create the folder ({e.strerror})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out}: cannot write there (permission denied)")
    return out


def write_whole(report, folder: Path, run: str):
    """Write the report into a hidden temporary folder beside ``folder`` and rename it into place at
    the end, so that an error or Ctrl-C leaves nothing partial and no report is overwritten."""
    from .report import write_report

    tmp = Path(tempfile.mkdtemp(prefix=f".{run}.", suffix=".partial", dir=folder.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        written = write_report(report, tmp, run=run)
        if folder.exists():
            raise ValueError(f"--run {run}: {folder} appeared while the report was written; nothing overwritten")
        os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    moved = lambda p: folder / Path(p).relative_to(tmp)  # noqa: E731
    return dataclasses.replace(written, index=moved(written.index), written=tuple(moved(p) for p in written.written))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def run_report(*, results=None, out: str | Path | None = None, run: str | None = None, q=None,
               pruning_factor: float = 0.7, pruning_method: str = "magnitude", runtime: str = "litert",
               statistic: str = "mean", sizes: str = "study", inference_model_format: str | None = None,
               finetune_model_format: str | None = None, uncompressed: bool = False,
               radio_preset: str = "paper", distance: float | None = None, allow_distance: bool = False,
               allow_invalid: bool = False, inference: str = "warm", quantization: str = "none",
               format: str = "text", job_time: bool = False, progress=None) -> Outcome:
    """Write ``<out>/<run>/`` (index.html, tables, figures, report.json) from results files or folders;
    a new folder every time (an existing ``run`` is refused), written whole or not at all."""
    from .report import DEFAULT_OUT, build_report, default_run_name, report_dict, summary_lines

    progress = progress or (lambda line: None)
    parent = Path(out if out is not None else DEFAULT_OUT)
    try:
        check_format(format)
        check_pruning_factor(pruning_factor)
        check_choice("--quantization", quantization, QUANTIZATIONS)
        if run is not None:
            check_run_name(run)
        qs = None if q is None else validate_q([whole_q(v) for v in q]).ravel()
        link, note = radio_link(radio_preset, distance, allow_distance)
        report_parent(parent)
        if run is None:
            base = default_run_name()  # a second report in the same second gets base-2
            run = next(n for n in (base, *(f"{base}-{i}" for i in range(2, 1000))) if not (parent / n).exists())
        folder = parent / run
        if folder.exists():
            raise ValueError(f"--run {run}: {folder} already exists; reports are never overwritten: choose "
                             "another --run or leave it out (a new folder named by the time)")
        progress("report: reading the results, computing the tables and curves")
        report = build_report(results or ["results"], q=qs, pruning_factor=pruning_factor,
                              pruning_method=pruning_method, runtime=runtime, statistic=statistic, sizes=sizes,
                              model_download=_model_download(inference_model_format, finetune_model_format,
                                                             uncompressed),
                              radio_preset=radio_preset, distance=link.distance if distance is not None else None,
                              allow_invalid=allow_invalid, inference=inference, quantization=quantization)
        # the results were read once, by build_report; nothing is written before this check
        check_measured_pruning_factor(report.results, pruning_factor, pruning_method, required=False)
        if note:
            report = dataclasses.replace(report, alerts=(note,) + report.alerts)
        progress(f"report: writing the figures and the page into {folder}")
        report = write_whole(report, folder, run)
    except ValueError as exc:  # ResultsError, ReportError
        return _bad(exc, "report: ")
    if format != "text":
        return Outcome(tuple(render({"index": str(report.index), **report_dict(report)}, format)), EXIT_OK)
    extra = []
    if job_time:
        from .jobtime import job_time_lines

        extra = job_time_lines(report.results.runs)
    lines = summary_lines(report, extra)
    return Outcome(tuple(lines), EXIT_OK)


# ---- compare, history, gate ---------------------------------------------------------------

def run_compare(a: str, b: str, *, storage: str | None = None, allow_mismatch: bool = False,
                allow_invalid: bool = False, config: str | None = None, factor: float | None = None,
                alpha: float | None = None, min_rounds: int | None = None, format: str = "text") -> Outcome:
    """``compare A B``: exit 0 no slowdown, 1 a significant slowdown, 2 bad input or refused, 3 no verdict."""
    from . import compare as C
    from .config import gate_config
    from .storage import load_run, refuse_invalid, resolve_run_path

    try:
        check_format(format)
        cfg = gate_config(config, factor, alpha, min_rounds)
        run_a, run_b = (load_run(resolve_run_path(r, storage)) for r in (a, b))
        if not allow_invalid:
            refuse_invalid(run_a)
            refuse_invalid(run_b)
        comparison = C.compare_runs(run_a, run_b, cfg, allow_mismatch=allow_mismatch)
    except ValueError as exc:
        return _bad(exc)
    return Outcome(tuple(_lines(C.RENDERERS, format, comparison)), OUTCOME_EXIT[comparison.outcome])


def _lines(renderers, fmt: str, *args) -> list[str]:
    """A command's own text or JSON; Markdown and CSV from its JSON document, so that every format
    has the same tables and columns (a list of objects is a table, an object a block of values)."""
    if fmt in renderers:
        return list(renderers[fmt](*args))
    import json

    import pandas as pd

    doc = json.loads("\n".join(renderers["json"](*args)))
    doc = doc if isinstance(doc, dict) else {"rows": doc}
    result = {k: pd.DataFrame([_flat(r) for r in v]) if isinstance(v, list) and v and all(
        isinstance(r, dict) for r in v) else v for k, v in doc.items()}
    return render(result, fmt)


def _flat(row: dict) -> dict:
    """A table row of plain cells: a nested list or object becomes its JSON text."""
    import json

    return {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in row.items()}


def run_history(storage: str, *, profile: str | None = None, machine_id: str | None = None,
                benchmark: str | None = None, plot: str | None = None, format: str = "text") -> Outcome:
    """``history``: list runs; with ``benchmark``, its median across them; with ``plot``, also the PNG
    (``plot`` a folder: written into it). A saved run that cannot be read is left out with a warning."""
    from . import history as H
    from .storage import list_entries

    if plot and not benchmark:
        return _bad("--plot needs --benchmark NAME")
    skipped: list[str] = []
    try:
        check_format(format)
        entries = list_entries(storage, profile=profile, machine_id=machine_id, skipped=skipped)
        if not entries:
            raise ResultsError(f"{storage}: no readable saved run ({len(skipped)} left out)")
        lines = _lines(H.RENDERERS, format, entries)
        if benchmark:
            series = H.median_series(entries, benchmark)
            if format == "text":
                lines += ["", f"median of {benchmark}:"]
                lines += [f"  {e.label}  {m * 1e3:.3f} ms" for e, m in series]
            if plot:
                target = Path(plot)
                if target.is_dir():  # a folder: the figure goes into it, named after the benchmark
                    target = target / (re.sub(r"[^A-Za-z0-9_.=-]+", "_", benchmark.rsplit("::", 1)[-1]) + ".png")
                paths = H.plot_median_history(entries, benchmark, target)
                if format == "text":
                    lines.append("wrote " + ", ".join(str(p) for p in paths))
    except ValueError as exc:
        return _bad(exc, warnings=skipped)
    return Outcome(tuple(lines), EXIT_OK, warnings=_skipped_lines(skipped))


def _skipped_lines(skipped) -> tuple[str, ...]:
    return tuple(f"saved run left out: {m}" for m in skipped)


def run_gate(profile: str, storage: str, current: str | None = None, *, machine_id: str | None = None,
             config: str | None = None, factor: float | None = None, alpha: float | None = None,
             min_rounds: int | None = None, baseline_runs: int | None = None,
             min_baseline_runs: int | None = None, aa: bool = False, slowdown: str | None = None,
             format: str = "text", save_verdict: bool = False) -> Outcome:
    """``gate``: the current run against the baseline (exit 0 ok, 1 slowdown, 2 bad input, 3 no verdict);
    with ``aa``, the false-alarm (or, with ``slowdown``, detection) rate over the saved runs. With
    ``save_verdict``, the verdicts are kept beside the history (reports/verdicts.py) for the dashboard."""
    from . import gate as G
    from .config import gate_config
    from .storage import list_entries, profile_storage

    if slowdown and not aa:
        return _bad("--slowdown goes with --aa", "gate: ")
    if storage is None:
        return _bad("--storage is required (or --against REF: the paired gate)", "gate: ")
    if not aa and current is None:
        return _bad("--current is required (or --aa)", "gate: ")
    skipped: list[str] = []
    try:
        check_format(format)
        cfg = gate_config(config, factor, alpha, min_rounds, baseline_runs=baseline_runs,
                          min_baseline_runs=min_baseline_runs)
        root = profile_storage(storage, profile)
        if aa:
            slow = G.parse_slowdown(slowdown) if slowdown else None
            entries = list_entries(root, profile=profile, machine_id=machine_id, skipped=skipped)
            check = G.aa_check(entries, profile, where=root, config=cfg, slowdown=slow)
            return Outcome(tuple(G.format_aa(check, profile, cfg, slow)), EXIT_OK, warnings=_skipped_lines(skipped))
        current_run, entries = gate_inputs(profile, root, current, machine_id, skipped)
        result = G.gate(entries, current_run, where=root, config=cfg)
        if save_verdict:
            from .verdicts import write_gate_verdicts

            write_gate_verdicts(result, root, profile)
    except G.NoBaselineError as exc:
        return Outcome((), EXIT_NO_VERDICT, f"{'gate --aa' if aa else 'gate'}: no verdict: {exc}",
                       _skipped_lines(skipped))
    except ValueError as exc:
        return _bad(exc, "gate --aa: " if aa else "gate: ", skipped)
    renderers = {"text": lambda r: G.format_text(r, profile), "json": G.format_json}
    return Outcome(tuple(_lines(renderers, format, result)), OUTCOME_EXIT[result.outcome],
                   warnings=_skipped_lines(skipped))


def gate_inputs(profile: str, root: Path, current: str, machine_id: str | None = None,
                skipped: list | None = None):
    """The current run (of ``profile``, valid) and the readable saved runs of its host folder under ``root``
    (the others' messages appended to ``skipped``), the current run's own file left out; ResultsError
    naming what is wrong, NoBaselineError when nothing is saved yet."""
    from .gate import NoBaselineError
    from .storage import entry_host, host_folders, list_entries, load_run, refuse_invalid

    current_run = load_run(current)
    if current_run.profile != profile:
        raise ResultsError(f"{current}: recorded for profile {current_run.profile!r}, not {profile!r}")
    refuse_invalid(current_run)
    if machine_id is None:
        machine_id = entry_host(current, root)
    try:
        entries = list_entries(root, profile=profile, machine_id=machine_id, skipped=skipped)
    except ResultsError as exc:
        if host_folders(root):  # runs saved, but the choice among hosts is the user's to make
            raise
        raise NoBaselineError(f"no baseline for profile {profile!r}: {exc}") from exc
    return current_run, [e for e in entries if e.path.resolve() != Path(current).resolve()]


def run_paired_gate(against: str, *, profile: str = "device", profile_set=(), allow_unenforced: bool = False,
                    preset: str = "quick", cases=None, pairs: int | None = None, block_s: float | None = None,
                    processes: int | None = None, inject_slowdown=(), config: str | None = None, work: str | None = None,
                    json_path: str | None = None, baseline_python: str | None = None, clock: str | None = None,
                    progress=None) -> Outcome:
    """``gate --against REF``: the candidate (this checkout) against REF, measured in alternating blocks in one
    job (harness/paired_runner.py); exit 0 ok, 1 a regression (whole interval beyond the factor), 3 no verdict,
    130 interrupted."""
    import json

    from harness import paired_runner as R

    from . import paired as P
    from .config import load_paired_config

    try:
        # pairs before processes: each flag is checked against the ones before it
        cfg = load_paired_config(config, pairs=pairs, processes=processes, block_s=block_s,
                                 cases=tuple(cases) if cases else None, clock=clock)
    except ValueError as exc:
        return _bad(exc, "gate --against: ")
    request = R.PairedRequest(against=against, repo=Path.cwd(), work=Path(work) if work else R.default_work(),
                              plan=cfg, profile=profile,
                              profile_set=tuple(profile_set), allow_unenforced=allow_unenforced, preset=preset,
                              inject_slowdown=tuple(inject_slowdown), baseline_python=baseline_python)
    try:
        measurement = R.run_paired(request, progress=progress or (lambda line: None))
    except R.PairedRunError as exc:
        return _bad(exc, "gate --against: ")
    except KeyboardInterrupt:
        return Outcome((), EXIT_INTERRUPTED, "gate --against: interrupted; workers stopped, worktree removed")
    result = P.judge_measurement(measurement, cfg)
    if json_path:
        out = Path(json_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(P.result_dict(result), indent=1, allow_nan=False) + "\n")
    return Outcome(tuple(P.format_result(result)), OUTCOME_EXIT[result.outcome])


# ---- parsing ------------------------------------------------------------------------------

def _results_options(p, *, defaults: bool):
    """The options choosing among measured results; ``defaults`` False: None, so that advise can
    tell an option given from one left alone."""
    d = (lambda v: v) if defaults else (lambda v: None)
    add_pruning_factor(p)
    p.add_argument("--pruning-method", choices=PRUNING_METHODS, default=d("magnitude"),
                   help="pruning method of the pruned pipelines, and Table I's first (default: magnitude, "
                        "the study's)")
    p.add_argument("--runtime", choices=RUNTIMES, default=d("litert"), help="inference runtime (default: litert)")
    p.add_argument("--statistic", choices=STATISTICS, default=d("mean"), help="timing statistic (default: mean)")
    p.add_argument("--sizes", choices=SIZE_SOURCES, default=d("study"),
                   help="sample/result sizes from the study (300 kB / 2 kB) or the results (default: study)")
    p.add_argument("--inference-model-format", default=None,
                   help="model downloaded for on-device inference (default: tflite)")
    p.add_argument("--finetune-model-format", default=None,
                   help="model downloaded for on-device fine-tuning (default: keras)")
    p.add_argument("--uncompressed", action="store_true",
                   help="download size is model_bytes, not model_bytes_gzip (default: gzip)")
    p.add_argument("--inference", choices=INFERENCE_ASSUMPTIONS, default=d("warm"),
                   help="per-request inference time: warm (steady-state batch-1 time) or cold (model set-up "
                        "plus first call, extra_info init_s + first_call_s)"
                        + ("; the page shows both, its answer and main curves use this one" if defaults else "")
                        + " (default: warm)")
    p.add_argument("--allow-invalid", action="store_true",
                   help="use runs whose background load died (machine_info.continuum.load.valid: false), "
                        "flagged (default: refuse them)")
    p.add_argument("--quantization", default=d("none"), metavar="{" + ",".join(QUANTIZATIONS) + "}",
                   help="the models the edge serves and sends: none (float32), dynamic, int8 or int8-qat "
                        "(quantization-aware fine-tuning; the full model then int8); D-FT,D-Inf stays float "
                        "(default: none)")


def _results_kwargs(a) -> dict:
    return {k: getattr(a, k) for k in ("pruning_factor", "pruning_method", "runtime", "statistic", "sizes",
                                       "inference_model_format", "finetune_model_format", "uncompressed",
                                       "allow_invalid", "inference", "quantization")}


def _gate_options(p):
    p.add_argument("--config", default=None,
                   help="TOML file with [tool.continuum-bench.gate] (default: ./pyproject.toml if present)")
    p.add_argument("--factor", type=float, default=None,
                   help="median ratio beyond which a change counts, all operations (default: config, else 1.10)")
    p.add_argument("--alpha", type=float, default=None,
                   help="significance level of the Mann-Whitney U test; for the gate also the chance "
                        "that an unchanged commit fails it (default: config, else 0.05)")
    p.add_argument("--min-rounds", type=int, default=None,
                   help="fewest rounds in either run for a verdict (default: config, else 5)")
    add_format(p)


def _add_paper(sub):
    add_paper_parser(sub)
    return lambda a: run_paper(q=a.q, radio_preset=a.radio_preset, distance=a.distance,
                               allow_distance=a.allow_distance, published_swap=a.published_swap, format=a.format)


def _add_advise(sub):
    p = add_advise_parser(sub)
    p.add_argument("--results", nargs="+", default=None,
                   help="use measured results (files or folders) instead of the study's figures (default: study)")
    add_format(p)
    add_radio(p)
    _results_options(p, defaults=False)
    rank = p.add_argument_group("ranking (--rank, with --results): every measured pipeline x pruning factor x "
                                "method x quantization")
    rank.add_argument("--rank", action="store_true",
                      help="rank every measured option at each --q (repeat --q or give several), its top-1 beside "
                           "it, and say whether quantization changes the cheapest pipeline (default: off)")
    rank.add_argument("--metric", default=None, help=f"what --rank orders by, one of {', '.join(METRICS)} "
                                                     "(default: latency)")
    rank.add_argument("--min-top1", default=None, metavar="FRACTION",
                      help="leave out options whose top-1 is below this fraction, e.g. 0.85 (default: none)")
    rank.add_argument("--top", type=int, default=None,
                      help=f"options shown per Q, cheapest first; 0: all (default: {RANK_TOP})")
    return lambda a: run_advise(q=a.q, scenario=a.scenario, distance=a.distance, allow_distance=a.allow_distance,
                                radio_preset=a.radio_preset, results=a.results, format=a.format, rank=a.rank,
                                metric=a.metric, min_top1=a.min_top1, top=a.top, **_results_kwargs(a))


def _add_report(sub):
    p = sub.add_parser("report", help="write results/report/<run>/: the HTML page, tables, figures")
    p.add_argument("results", nargs="*", default=None,
                   help="results: JSON files (one per profile), a folder of them, or history storage folders "
                        "(default: results)")
    p.add_argument("--out", default=None, help="parent folder of the report (default: results/report)")
    p.add_argument("--run", default=None,
                   help="report folder name under --out, one name without / (refused if it exists; default: UTC "
                        "time YYYYmmdd-HHMMSS)")
    p.add_argument("--q", nargs="+", default=None, help="Q values of the curves (default: 1..10000 log spaced)")
    p.add_argument("--job-time", action="store_true",
                   help="also print where the job's time went, per profile session (default: off)")
    add_format(p)
    add_radio(p)
    _results_options(p, defaults=True)
    return lambda a: run_report(results=a.results, out=a.out, run=a.run, q=a.q, radio_preset=a.radio_preset,
                                distance=a.distance, allow_distance=a.allow_distance, format=a.format,
                                job_time=a.job_time, progress=_stderr, **_results_kwargs(a))


def _add_compare(sub):
    p = sub.add_parser("compare", help="compare two runs: median ratio, Mann-Whitney U, verdict")
    p.add_argument("a", help="baseline run: a pytest-benchmark JSON file or a history id like 0003")
    p.add_argument("b", help="run compared with the baseline: a JSON file or a history id")
    p.add_argument("--storage", default=None,
                   help="pytest-benchmark storage folder where history ids are looked up (default: none)")
    p.add_argument("--allow-mismatch", action="store_true",
                   help="compare runs of different profiles or presets: ratios only, no verdict (default: refuse)")
    p.add_argument("--allow-invalid", action="store_true",
                   help="compare runs whose background load died, flagged (default: refuse)")
    _gate_options(p)
    return lambda a: run_compare(a.a, a.b, storage=a.storage, allow_mismatch=a.allow_mismatch,
                                 allow_invalid=a.allow_invalid, config=a.config, factor=a.factor, alpha=a.alpha,
                                 min_rounds=a.min_rounds, format=a.format)


def _add_history(sub):
    p = sub.add_parser("history", help="list a profile's saved runs on a host; plot one benchmark's median")
    p.add_argument("--storage", required=True,
                   help="pytest-benchmark storage folder (results/history or results/history/<profile>) (required)")
    p.add_argument("--profile", default=None, help="profile whose runs to list (default: whatever storage holds)")
    p.add_argument("--machine-id", default=None,
                   help="host folder: a machine id (Linux-CPython-3.11-64bit), a hostname or both as "
                        "hostname/machine-id (default: the only one, else this host's)")
    p.add_argument("--benchmark", default=None, help="benchmark name or fullname to follow (default: none)")
    p.add_argument("--plot", default=None,
                   help="write its median across runs to this PNG, or into this folder (default: no plot)")
    add_format(p)
    return lambda a: run_history(a.storage, profile=a.profile, machine_id=a.machine_id, benchmark=a.benchmark,
                                 plot=a.plot, format=a.format)


def _add_gate(sub):
    p = sub.add_parser("gate", help="fail on a significant slowdown beyond this host's between-run noise")
    p.add_argument("--profile", required=True, help="profile of the current run (required)")
    p.add_argument("--storage", default=None,
                   help="history storage: results/history or results/history/<profile> (required, but with --against)")
    p.add_argument("--current", default=None, help="pytest-benchmark JSON of the run under test (required unless --aa)")
    paired = p.add_argument_group("paired gate (--against REF): this checkout against REF in alternating blocks")
    paired.add_argument("--against", default=None, metavar="REF",
                        help="judge this checkout against git REF measured in the same job (default: the history gate)")
    paired.add_argument("--pairs", type=int, default=None,
                        help="ABBA quads per case (default: [tool.continuum-bench.paired] pairs, else 60)")
    paired.add_argument("--processes", type=int, default=None,
                        help="pairs of worker processes the quads are spread over, the interval's units "
                             "(default: [tool.continuum-bench.paired] processes, else 10)")
    paired.add_argument("--block-s", type=float, default=None,
                        help="target seconds of one block (default: config, else 0.1)")
    paired.add_argument("--case", action="append", default=None, metavar="ID",
                        help="inference case to judge, like pf=70-filter-litert; repeatable (default: config's cases)")
    paired.add_argument("--preset", default="quick", help="preset of the paired gate's models (default: quick)")
    paired.add_argument("--profile-set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a profile setting on both sides; repeatable (default: none)")
    paired.add_argument("--allow-unenforced", action="store_true",
                        help="go on when a profile limit cannot be enforced (default: refuse)")
    paired.add_argument("--inject-slowdown", action="append", default=[], metavar="OP=SHARE",
                        help="extra real work on the candidate side only (harness/inject.py), e.g. "
                             "inference=0.05 (default: none)")
    paired.add_argument("--work", default=None,
                        help="folder of the baseline's worktree and environments (default: <cache>/paired)")
    paired.add_argument("--clock", default=None, choices=("wall", "cpu"),
                        help="which time of the blocks judges: wall, or cpu (the worker's CPU time, without the time "
                             "other processes held its CPU: for a contended host) (default: config, else wall)")
    paired.add_argument("--baseline-python", default=None,
                        help="run the baseline with this Python instead of building REF's environment with uv "
                             "(REF's dependencies must be installed in it) (default: build or reuse one)")
    paired.add_argument("--json", default=None, dest="json_path",
                        help="also write the verdicts and every block in order to this file (default: none)")
    p.add_argument("--save-verdict", action="store_true",
                   help="keep the verdicts beside the history (<storage>/verdicts/), where publish marks them "
                        "(default: print only)")
    p.add_argument("--aa", action="store_true",
                   help="instead: judge the saved runs against each other and print the false-alarm rate")
    p.add_argument("--slowdown", default=None, metavar="OPERATION=FACTOR",
                   help="with --aa: make the judged run's rounds of OPERATION FACTOR times longer first and "
                        "print how often the gate catches it, e.g. inference=1.3 (default: none)")
    p.add_argument("--machine-id", default=None,
                   help="host folder of the baseline: machine id, hostname or hostname/machine-id "
                        "(default: the current entry's, the only one, else this host's)")
    p.add_argument("--baseline-runs", type=int, default=None,
                   help="newest saved runs forming the baseline (default: config, else 5)")
    p.add_argument("--min-baseline-runs", type=int, default=None,
                   help="fewest baseline runs for a verdict, >= 2 (default: config, else 3)")
    _gate_options(p)
    return lambda a: _paired_from_args(a) if a.against else run_gate(
        a.profile, a.storage, a.current, machine_id=a.machine_id, config=a.config, factor=a.factor, alpha=a.alpha,
        min_rounds=a.min_rounds, baseline_runs=a.baseline_runs, min_baseline_runs=a.min_baseline_runs, aa=a.aa,
        slowdown=a.slowdown, format=a.format, save_verdict=a.save_verdict)


def _paired_from_args(a) -> Outcome:
    if a.current or a.aa or a.storage:
        return _bad("--against measures both sides itself: it takes no --current, --aa or --storage", "gate: ")
    return run_paired_gate(a.against, profile=a.profile, profile_set=a.profile_set,
                           allow_unenforced=a.allow_unenforced, preset=a.preset, cases=a.case, pairs=a.pairs,
                           processes=a.processes,
                           block_s=a.block_s, inject_slowdown=a.inject_slowdown, config=a.config,
                           work=a.work, json_path=a.json_path, baseline_python=a.baseline_python, clock=a.clock,
                           progress=lambda line: print(line, file=sys.stderr))


def _add_publish(sub):
    from .publish import add_arguments, run_publish

    p = sub.add_parser("publish", help="write a static dashboard of a history tree of many machines and profiles")
    add_arguments(p)
    return lambda a: Outcome(*run_publish(a))


# ---- hosts (several machines of one history side by side; reports/hosts.py) -----------------------
EXIT_ONE_MACHINE = 3


def run_hosts(storage: str, *, profile: str | None = None, baseline: str | None = None, runs: int = 5,
              plot: str | None = None, format: str = "text") -> Outcome:
    """``hosts``: exit 0 the table, 2 bad input (an unknown --baseline names the machines), 3 one machine only."""
    from . import hosts as M
    from .figures import save_figure
    from .storage import store_entries

    try:
        check_format(format, M.RENDERERS)
        entries, warnings = store_entries(storage, profile=profile)
        cmp = M.compare_hosts(entries, profile=profile, baseline=baseline, runs=runs, warnings=warnings)
        lines = list(M.RENDERERS[format](cmp))
        if plot:
            paths = [p for op, fig in M.hosts_figures(cmp).items() for p in save_figure(fig, Path(plot) / f"hosts-{op}")]
            if format == "text":
                lines.append("wrote " + ", ".join(str(p) for p in paths))
    except M.OneMachine as exc:
        return Outcome((), EXIT_ONE_MACHINE, f"hosts: {exc}")
    except ValueError as exc:
        return _bad(exc, "hosts: ")
    return Outcome(tuple(lines), EXIT_OK)


def _add_hosts(sub):
    p = sub.add_parser("hosts", help="every machine (hardware fingerprint) of a profile's history side by side")
    p.add_argument("--storage", required=True, help="history storage: results/history or results/history/<profile> "
                                                    "(every host folder is read) (required)")
    p.add_argument("--profile", default=None, help="profile to compare (default: whatever storage holds)")
    p.add_argument("--baseline", default=None, help="reference machine: fingerprint id (or a unique prefix) or a "
                                                    "hostname only it uses (default: the machine with most runs)")
    p.add_argument("--runs", type=int, default=5, help="newest runs per machine (default: 5)")
    p.add_argument("--plot", default=None, help="folder for one figure per operation, hosts-<operation>.png/.svg "
                                                "(default: no figures)")
    add_format(p, ("text", "markdown", "csv", "json"))
    return lambda a: run_hosts(a.storage, profile=a.profile, baseline=a.baseline, runs=a.runs, plot=a.plot,
                               format=a.format)


SUBCOMMANDS = {"report": _add_report, "compare": _add_compare, "history": _add_history, "gate": _add_gate,
               "hosts": _add_hosts, "advise": _add_advise, "paper": _add_paper, "publish": _add_publish}


def _stderr(line: str) -> None:
    print(printable(line), file=sys.stderr, flush=True)


def build_parser(prog: str = PROG, commands=tuple(SUBCOMMANDS)) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Results of the MobileNet device/edge study: report, compare, history and gate "
                               "over the benchmark JSON; advise and paper from the cost model. Exit status: 0 "
                               "pass, 1 regression found, 2 bad usage or input, 3 no verdict, 130 interrupted.")
    add_version(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(commands) + "}")
    for name in commands:
        run = SUBCOMMANDS[name](sub)
        sub.choices[name].set_defaults(_run=run)
    return parser


def main(argv=None, *, prog: str = PROG, commands=tuple(SUBCOMMANDS)) -> int:
    """Parse, run, print; returns the exit status (warnings and the error, if any, on stderr)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(prog, commands).parse_args(argv)
    try:
        outcome = args._run(args)
    except KeyboardInterrupt:  # a report being written is removed on the way out (write_whole)
        emit((), f"{args.command}: interrupted; nothing partial left")
        return EXIT_INTERRUPTED
    emit(outcome.lines, outcome.error, outcome.warnings)
    return outcome.exit_code
