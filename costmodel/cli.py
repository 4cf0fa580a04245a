"""Command line: ``python -m costmodel {paper,report,advise,...}``.

Parsing is separate from the work: ``run_paper(**kw)``, ``run_report(**kw)`` and
``run_advise(**kw)`` return plain dicts (values: DataFrames, dicts, lists, numbers);
``render(result, fmt)`` turns one into lines (one renderer per format); only
``main()`` prints, and only ``costmodel.__main__`` exits.

Subcommands are registered from a list. A plug-in module (``costmodel.compare``,
``costmodel.history``, ``costmodel.figures``, ``costmodel.htmlreport``, wired when
present) provides ``add_parser(subparsers)``, which adds its parser, and
``run(args)``, which returns a dict (rendered with ``--format`` when its parser
defines one, else as text), a list of lines, a string, or an int exit status.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import json
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from . import radio
from .curves import DEFAULT_Q_GRID, best_ranges_table, crossovers, curve_points, ranking
from .paper import paper_report, study_scenario
from .pipelines import METRIC_UNITS, METRICS, scenario_coefficients, validate_q
from .results import (SCENARIO_PROFILES, SIZE_SOURCES, STATISTICS, ModelDownload, load_results,
                      scenario_from_results)
from .tables import markdown_lines, table1, table2, write_table

FORMATS = ("text", "json", "markdown")
SCENARIOS = tuple(SCENARIO_PROFILES)
PLUGIN_MODULES = ("costmodel.compare", "costmodel.history", "costmodel.gate",
                  "costmodel.figures", "costmodel.htmlreport")


# ---- the work ---------------------------------------------------------------------------

def _link(radio_preset: str, distance):
    return radio.get_link(radio_preset, distance=distance)


def _radio_summary(link, preset):
    return {"preset": preset, **dataclasses.asdict(link),
            "uplink_bps": float(radio.uplink_rate(link)),
            "downlink_bps": float(radio.downlink_rate(link))}


def run_paper(*, q=None, radio_preset: str = "paper", distance: float | None = None,
              published_swap: bool = False) -> dict:
    """The study's figures through the model (see costmodel.paper.paper_report)."""
    link = _link(radio_preset, distance)
    out = paper_report(None if q is None else validate_q(q).ravel(), link,
                       published_swap=published_swap, radio_preset=radio_preset)
    out["radio"] = _radio_summary(link, radio_preset)
    return out


def _results_scenarios(results, *, link, pruning_factor, pruning_method, runtime,
                       model_download, sizes, statistic):
    rs = load_results(*results)
    scen = {}
    for name, profile in SCENARIO_PROFILES.items():
        if profile in rs.profiles:
            scen[name] = scenario_from_results(
                rs, name, pruning_factor, uplink_bps=float(radio.uplink_rate(link)),
                downlink_bps=float(radio.downlink_rate(link)), pruning_method=pruning_method,
                runtime=runtime, model_download=model_download, sizes=sizes, statistic=statistic)
    if not scen:
        raise ValueError(f"results hold no edge profile ({', '.join(SCENARIO_PROFILES.values())}); "
                         f"found {sorted(rs.profiles)}")
    return rs, scen


def run_report(*, results, outdir=None, q=None, pruning_factor: float = 0.7,
               pruning_method: str = "filter", runtime: str = "litert",
               model_download: ModelDownload = ModelDownload(), sizes: str = "study",
               statistic: str = "mean", radio_preset: str = "paper",
               distance: float | None = None) -> dict:
    """Results JSON (files or folders) in; Table I, Table II, curve points, crossovers and
    best ranges out; written to outdir (Markdown + CSV, report.json) when given."""
    link = _link(radio_preset, distance)
    rs, scen = _results_scenarios(results, link=link, pruning_factor=pruning_factor,
                                  pruning_method=pruning_method, runtime=runtime,
                                  model_download=model_download, sizes=sizes, statistic=statistic)
    qs = DEFAULT_Q_GRID if q is None else validate_q(q).ravel()
    out = {
        "radio": _radio_summary(link, radio_preset),
        "sources": dict(rs.sources),
        "warnings": rs.warnings(),
        "measurements": rs.frame(),
        "table1": table1(rs, pruning_method=pruning_method, runtime=runtime, statistic=statistic),
        "table2": table2(scen),
        "crossovers": crossovers(scen),
        "best_ranges": best_ranges_table(scen),
        "points": curve_points(scen, qs),
    }
    if outdir is not None:
        from .htmlreport import check_presets, write_report

        check_presets(rs)
        study = paper_report(q=qs, link=link, radio_preset=radio_preset)
        files = write_report(rs, outdir,
                             tables={k: out[k] for k in ("table1", "table2", "crossovers", "best_ranges")},
                             measured=(out["points"], out["crossovers"]),
                             paper=(study["points"], study["crossovers"]), study_table1=study["table1"])
        out["written"] = [str(p) for p in write_outputs(out, outdir)] + [str(files.index)]
    return out


def write_outputs(result: dict, outdir) -> list[Path]:
    """Tables as Markdown + CSV, other frames as CSV, and everything as report.json."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for key in ("table1", "table2"):
        if key in result:
            paths += write_table(result[key], outdir, key)
    for key in ("crossovers", "best_ranges", "points", "measurements"):
        if key in result:
            p = outdir / f"{key}.csv"
            result[key].to_csv(p, index=False)
            paths.append(p)
    p = outdir / "report.json"
    p.write_text("\n".join(render_json(result)) + "\n", encoding="utf-8")
    return paths + [p]


def run_advise(*, q, scenario: str = "idle", distance: float | None = None,
               radio_preset: str = "paper", results=None, pruning_factor: float = 0.7,
               pruning_method: str = "filter", runtime: str = "litert",
               model_download: ModelDownload = ModelDownload(), sizes: str = "study",
               statistic: str = "mean") -> dict:
    """Best pipeline by latency, energy and data for q requests, a scenario and a
    distance to the base station, with the margin to the runner-up. Uses the study's
    figures, or measured results when `results` (paths) is given."""
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {SCENARIOS}, got {scenario!r}")
    qv = float(validate_q(q))
    link = _link(radio_preset, distance)
    if results:
        _, scen = _results_scenarios(results, link=link, pruning_factor=pruning_factor,
                                     pruning_method=pruning_method, runtime=runtime,
                                     model_download=model_download, sizes=sizes,
                                     statistic=statistic)
        if scenario not in scen:
            raise ValueError(f"results hold no {SCENARIO_PROFILES[scenario]!r} profile for "
                             f"scenario {scenario!r}")
        inputs = scen[scenario]
    else:
        inputs = study_scenario(scenario, link)
    advice, ranks = [], []
    for metric in METRICS:
        ranked = ranking(scenario_coefficients(inputs, metric), qv)
        (best, v0), (second, v1) = ranked[0], ranked[1]
        advice.append({"metric": metric, "unit": METRIC_UNITS[metric], "best": best, "value": v0,
                       "runner_up": second, "runner_up_value": v1, "margin": v1 - v0,
                       "margin_pct": 100 * (v1 - v0) / v0 if v0 > 0 else math.inf})
        ranks += [{"metric": metric, "rank": i + 1, "pipeline": p, "value": v}
                  for i, (p, v) in enumerate(ranked)]
    return {"q": qv, "scenario": scenario, "source": "results" if results else "study",
            "radio": _radio_summary(link, radio_preset), "advice": pd.DataFrame(advice),
            "ranking": pd.DataFrame(ranks)}


# ---- rendering --------------------------------------------------------------------------

def _jsonable(v):
    if isinstance(v, pd.DataFrame):
        return [{k: _jsonable(x) for k, x in row.items()} for row in v.to_dict("records")]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if v is pd.NA:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return None if math.isnan(v) or math.isinf(v) else v  # inf: unbounded range
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, (str, int, bool)) or v is None:
        return v
    return str(v)


def render_json(result: dict) -> list[str]:
    return json.dumps(_jsonable(result), indent=2, allow_nan=False).splitlines()


def _scalar_lines(key, value):
    if isinstance(value, dict):
        return [f"{key}:"] + [f"  {k}: {v}" for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        return [f"{key}:"] + [f"  - {v}" for v in value] if value else [f"{key}: none"]
    return [f"{key}: {value}"]


def render_text(result: dict) -> list[str]:
    lines = []
    for key, value in result.items():
        if isinstance(value, pd.DataFrame):
            lines += [f"== {key} ==", value.to_string(index=False) if len(value) else "(empty)", ""]
        else:
            lines += _scalar_lines(key, value)
    return lines


def render_markdown(result: dict) -> list[str]:
    lines = []
    for key, value in result.items():
        if isinstance(value, pd.DataFrame):
            lines += [f"## {key}", ""] + (markdown_lines(value) if len(value) else ["(empty)"]) + [""]
        else:
            lines += _scalar_lines(key, value) + [""]
    return lines


RENDERERS = {"json": render_json, "text": render_text, "markdown": render_markdown}


def render(result: dict, fmt: str = "text") -> list[str]:
    if fmt not in RENDERERS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    return RENDERERS[fmt](result)


# ---- parsing ----------------------------------------------------------------------------

def _common(p, *, distance=True):
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="output format (default: text)")
    p.add_argument("--radio", dest="radio_preset", choices=sorted(radio.PRESETS), default="paper",
                   help="radio preset for the link rates (default: paper)")
    if distance:
        p.add_argument("--distance", type=float, default=None,
                       help="distance device-base station [m] (default: the preset's)")


def _results_options(p):
    p.add_argument("--pruning-factor", type=float, default=0.7,
                   help="pruning factor of the pruned pipelines, fraction (default: 0.7)")
    p.add_argument("--pruning-method", default="filter", help="pruning method (default: filter)")
    p.add_argument("--runtime", default="litert", help="inference runtime (default: litert)")
    p.add_argument("--inference-model-format", default="tflite",
                   help="model downloaded for on-device inference (default: tflite)")
    p.add_argument("--finetune-model-format", default="keras",
                   help="model downloaded for on-device fine-tuning (default: keras)")
    p.add_argument("--uncompressed", action="store_true",
                   help="download size is model_bytes, not model_bytes_gzip (default: gzip)")
    p.add_argument("--sizes", choices=SIZE_SOURCES, default="study",
                   help="sample/result sizes from the study (300 kB / 2 kB) or the results "
                        "(default: study)")
    p.add_argument("--statistic", choices=STATISTICS, default="mean",
                   help="timing statistic (default: mean)")


def _results_kwargs(a):
    return dict(pruning_factor=a.pruning_factor, pruning_method=a.pruning_method,
                runtime=a.runtime, sizes=a.sizes, statistic=a.statistic,
                model_download=ModelDownload(a.inference_model_format, a.finetune_model_format,
                                             not a.uncompressed))


def _add_paper(sub):
    p = sub.add_parser("paper", help="the study's own figures through the model")
    _common(p)
    p.add_argument("--q", type=float, nargs="+", default=None,
                   help="also give curve points at these Q (default: none)")
    p.add_argument("--published-swap", action="store_true",
                   help="use the study's D-FT,D-Inf energy formula with P_inf/P_ft swapped "
                        "(default: off)")


def _run_paper(a):
    return run_paper(q=a.q, radio_preset=a.radio_preset, distance=a.distance,
                     published_swap=a.published_swap)


def _add_report(sub):
    p = sub.add_parser("report", help="tables, curves and crossovers from benchmark JSON")
    p.add_argument("results", nargs="*", default=None,
                   help="results JSON files or folders (default: results/)")
    p.add_argument("--results", dest="results_opt", nargs="+", default=None,
                   help="same as the positional argument")
    p.add_argument("--outdir", default="reports",
                   help="reports are written to OUTDIR/RUN/: index.html, tables, figures, curve data "
                        "(default: reports)")
    p.add_argument("--run", default=None,
                   help="name of the report's folder under OUTDIR (default: the UTC time, YYYYmmdd-HHMMSS)")
    p.add_argument("--q", type=float, nargs="+", default=None,
                   help="Q values of the curve points (default: 1..10000 log spaced)")
    _common(p)
    _results_options(p)


def _run_report(a):
    results = (a.results or []) + (a.results_opt or []) or ["results"]
    from .htmlreport import default_run_name

    outdir = Path(a.outdir) / (a.run or default_run_name())
    return run_report(results=results, outdir=outdir, q=a.q, radio_preset=a.radio_preset,
                      distance=a.distance, **_results_kwargs(a))


def _add_advise(sub):
    p = sub.add_parser("advise", help="best pipeline for Q requests, an edge load and a distance")
    p.add_argument("--q", type=float, required=True, help="number of requests per model (required)")
    p.add_argument("--scenario", choices=SCENARIOS, default="idle",
                   help="edge load (default: idle)")
    p.add_argument("--results", nargs="+", default=None,
                   help="use measured results instead of the study's figures (default: study)")
    _common(p)
    _results_options(p)


def _run_advise(a):
    return run_advise(q=a.q, scenario=a.scenario, distance=a.distance,
                      radio_preset=a.radio_preset, results=a.results, **_results_kwargs(a))


BUILTIN_SUBCOMMANDS = [
    SimpleNamespace(name="paper", add_parser=_add_paper, run=_run_paper),
    SimpleNamespace(name="report", add_parser=_add_report, run=_run_report),
    SimpleNamespace(name="advise", add_parser=_add_advise, run=_run_advise),
]


def plugin_subcommands(names=PLUGIN_MODULES) -> list:
    """Plug-in modules that exist and define add_parser and run (a library module such
    as costmodel.figures is skipped); one that exists but fails to import raises."""
    found = []
    for name in names:
        if importlib.util.find_spec(name) is not None:
            mod = importlib.import_module(name)
            if callable(getattr(mod, "add_parser", None)) and callable(getattr(mod, "run", None)):
                found.append(mod)
    return found


def subcommands(argv=None) -> list:
    """Built-in subcommands, plus the plug-ins unless argv names a built-in one (plug-ins
    import matplotlib / scipy; skipping them keeps ``paper`` fast)."""
    first = next((a for a in (argv or []) if not a.startswith("-")), None)
    if first in {c.name for c in BUILTIN_SUBCOMMANDS}:
        return list(BUILTIN_SUBCOMMANDS)
    return BUILTIN_SUBCOMMANDS + plugin_subcommands()


def build_parser(commands=None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m costmodel",
        description="Cost model of the MobileNet device/edge study: radio link, pipeline "
                    "latency/energy/data versus Q, tables and crossovers.")
    sub = parser.add_subparsers(dest="command", required=True)
    for cmd in commands if commands is not None else subcommands():
        before = set(sub.choices)
        cmd.add_parser(sub)
        for name in set(sub.choices) - before:
            sub.choices[name].set_defaults(_run=cmd.run)
    return parser


def main(argv=None) -> int:
    """Parse, run, print; returns the exit status (2 on bad input, with the message)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(subcommands(argv))
    args = parser.parse_args(argv)
    try:
        result = args._run(args)
        if isinstance(result, int) and not isinstance(result, bool):
            return result
        if hasattr(result, "lines") and hasattr(result, "exit_code"):  # plug-in Outcome
            if result.lines:
                sys.stdout.write("\n".join(result.lines) + "\n")
            if getattr(result, "error", None):
                print(f"error: {result.error}", file=sys.stderr)
            return int(result.exit_code)
        if isinstance(result, dict):
            lines = render(result, getattr(args, "format", "text"))
        elif isinstance(result, str):
            lines = [result]
        else:
            lines = list(result or [])
    except ValueError as e:  # includes ResultsError: bad input, stated clearly
        print(f"error: {e}", file=sys.stderr)
        return 2
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
