"""The HTML report: one self-contained ``index.html`` plus the tables as Markdown and CSV.

``reports/<run>/`` holds:

- ``index.html``: warnings first (unstable results: CV over 10 % or fewer than 5
  rounds; limits or load not enforced), each profile's requested and enforced
  limits and the background load achieved, the tables, and the figures inlined as
  base64 PNG (no file, script, font or style sheet is fetched: it opens offline
  and survives being mailed or archived as a CI artifact);
- ``tables/<name>.md`` and ``tables/<name>.csv``;
- ``figures/<name>.png`` and ``.svg`` (the same figures, for papers and slides).

:func:`write_report` takes what is already computed (a ``ResultSet``, tables,
figures); :func:`build_report` computes it from results files with costmodel's
tables, curves and paper mode and then writes the report.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd
from matplotlib.figure import Figure

from . import figures as F
from . import radio
from .compare import EXIT_BAD_INPUT, EXIT_OK, Outcome
from .curves import DEFAULT_Q_GRID, crossovers, curve_points
from .paper import PF70_MODEL_BYTES, paper_report
from .results import SCENARIO_PROFILES, ResultSet, ResultsError, load_results, scenario_from_results
from .tables import table1, table2, write_table

REPORT_TITLE = "continuum-bench report"
FLOAT_FORMAT = ".4g"
#: Study model sizes [byte] for the paper panel of the size figure: the full model
#: (16.9 MB) and the pf 70 % model implied by Table II's download time (paper.PF70_MODEL_BYTES).
STUDY_MODEL_BYTES = {0.0: radio.STUDY_FULL_MODEL_BYTES, 0.7: PF70_MODEL_BYTES}
DEFAULT_OUT = "reports"
TABLE_NOTES = {
    "table1": "Table I from the measurements: top-1 [%] without / with fine-tuning, fine-tuning [min] "
              "and batch-1 inference [s] per profile",
    "table2": "Table II from the measurements: each latency contribution at Q = 1 [s] and its share [%], "
              "the total for Q = 1 and each later request [s]",
    "crossovers": "Q at which two pipelines cost the same (measured), per scenario and metric; "
                  "pairs that never cross for Q >= 1 are only in the CSV",
    "study_table1": "the study's Table I, as published",
    "study_table2": "Table II rebuilt from the study's figures (totals are the exact sums of their parts)",
    "study_crossovers": "crossovers from the study's figures (pairs that cross for Q >= 1)",
    "measurements": "every benchmark: times [s], rounds, coefficient of variation; unstable rows shaded",
}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:1.7em;margin:0 0 4px} h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:36px}
h3{margin:22px 0 8px;font-size:1.05em}
.meta{color:#555;font-size:.9em;margin:0 0 16px}
.warn{background:#fff4e5;border-left:5px solid #e69f00;padding:10px 14px;margin:10px 0}
.warn li{margin:3px 0;font-size:.92em}
.ok{background:#e9f7ef;border-left:5px solid #009e73;padding:10px 14px}
table{border-collapse:collapse;margin:8px 0 14px;font-size:.85em;background:#fff}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;vertical-align:top;white-space:nowrap}
td.bad,tr.bad td{background:#fde8e4 !important;color:#8a1c00}
th{background:#f0f0f0;text-align:center} td.t,th.t{text-align:left}
tr:nth-child(even) td{background:#fbfbfb}
.scroll{overflow-x:auto}
.profiles{display:flex;flex-wrap:wrap;gap:18px}
.profile{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 14px;flex:1 1 330px}
figure{margin:14px 0 26px;background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px}
figure img{max-width:100%;height:auto;display:block;margin:0 auto}
figcaption{color:#444;font-size:.9em;margin-top:4px;text-align:center}
nav a{margin-right:14px}
"""


class ReportError(ValueError):
    """Nothing (valid) to report; the message says what is missing."""


@dataclass(frozen=True)
class ReportFiles:
    out_dir: Path
    index: Path
    tables: tuple[Path, ...]
    figures: tuple[Path, ...]
    warnings: tuple[str, ...]


# ----------------------------------------------------------------------- HTML pieces


def _esc(v) -> str:
    return html.escape(str(v), quote=True)


def _cell(v) -> str:
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return format(v, FLOAT_FORMAT)
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, default=str)
    return str(v)


def dataframe_html(df: pd.DataFrame) -> list[str]:
    """A DataFrame as an HTML table (numbers right-aligned, text left-aligned)."""
    numeric = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) for c in df.columns]
    lines = ['<div class="scroll"><table>', "<tr>" + "".join(
        f'<th{"" if n else " class=t"}>{_esc(c)}</th>' for c, n in zip(df.columns, numeric)) + "</tr>"]
    flag = list(df.columns).index("unstable") if "unstable" in df.columns else None
    for rec in df.itertuples(index=False):
        row_cls = ' class="bad"' if flag is not None and bool(rec[flag]) else ""
        lines.append(f"<tr{row_cls}>" + "".join(
            f'<td{"" if n else " class=t"}>{_esc(_cell(v))}</td>' for v, n in zip(rec, numeric)) + "</tr>")
    lines.append("</table></div>")
    return lines


def record_html(record: Mapping) -> list[str]:
    """A (nested) profile record as a two-column table; nested objects as sub-tables."""
    lines = ["<table>"]
    for key, value in record.items():
        if isinstance(value, Mapping) and value:
            inner = "\n".join(record_html(value))
            lines.append(f'<tr><th class=t>{_esc(key)}</th><td class=t>{inner}</td></tr>')
        else:
            cls = "t bad" if value is False else "t"
            lines.append(f'<tr><th class=t>{_esc(key)}</th><td class="{cls}">{_esc(_cell(value))}</td></tr>')
    lines.append("</table>")
    return lines


def profile_html(name: str, record: Mapping, source: str | None) -> list[str]:
    """Requested and enforced limits and the background load of one profile."""
    prof = record.get("profile") if isinstance(record.get("profile"), Mapping) else {}
    lines = [f'<div class="profile"><h3>{_esc(name)}</h3>']
    if source:
        lines.append(f'<p class="meta">{_esc(source)}</p>')
    shown = set()
    for key, title in (("requested", "requested"), ("enforced", "enforced (read back from the OS)")):
        if key in prof:
            shown.add(key)
            lines.append(f"<p><b>{_esc(title)}</b></p>")
            lines += record_html(prof[key]) if isinstance(prof[key], Mapping) else [f"<p>{_esc(prof[key])}</p>"]
    rest = {k: v for k, v in prof.items() if k not in shown and k != "name"}
    if rest:
        lines.append("<p><b>other</b></p>")
        lines += record_html(rest)
    load = record.get("load")
    lines.append("<p><b>background load achieved</b></p>")
    lines += record_html(load) if isinstance(load, Mapping) and load else ["<p>none recorded</p>"]
    others = {k: v for k, v in record.items() if k not in ("profile", "load")}
    if others:
        lines.append("<p><b>also recorded</b></p>")
        lines += record_html(others)
    lines.append("</div>")
    return lines


def figure_html(name: str, png: bytes, caption: str) -> list[str]:
    """The figure inlined as a base64 PNG."""
    data = base64.b64encode(png).decode("ascii")
    return [f'<figure id="fig-{_esc(name)}"><img alt="{_esc(caption)}" src="data:image/png;base64,{data}">',
            f"<figcaption>{_esc(caption)}</figcaption></figure>"]


def warnings_html(warnings: Sequence[str]) -> list[str]:
    """Warnings about a profile or a run in full; unstable results counted per profile and listed
    in a folded ``<details>`` (a full grid on a shared VM gives hundreds, which would bury the page)."""
    unstable = [w for w in warnings if " unstable (" in w]
    notes = [w for w in warnings if " unstable (" not in w]
    out = ['<div class="warn">']
    if notes:
        out.append(f"<b>{len(notes)} warning(s) about the runs</b><ul>")
        out += [f"<li>{_esc(w)}</li>" for w in notes]
        out.append("</ul>")
    if unstable:
        per_profile: dict[str, int] = {}
        for w in unstable:
            profile = w.split(":", 1)[0]
            per_profile[profile] = per_profile.get(profile, 0) + 1
        counts = ", ".join(f"{p} {n}" for p, n in per_profile.items())
        out.append(f"<p><b>{len(unstable)} unstable result(s)</b> (CV over 10 % or fewer than 5 rounds; "
                   f"{_esc(counts)}): read their medians, not their means, and rerun with more rounds "
                   "(--benchmark-min-rounds) on a quieter machine where it matters.</p>")
        out.append(f"<details><summary>the {len(unstable)} unstable result(s)</summary><ul>")
        out += [f"<li>{_esc(w)}</li>" for w in unstable]
        out.append("</ul></details>")
    out.append("</div>")
    return out


def html_lines(*, title: str, meta: Sequence[str], warnings: Sequence[str], profiles: Mapping[str, Mapping],
               sources: Mapping[str, str], tables: Mapping[str, pd.DataFrame],
               figures: Mapping[str, tuple[bytes, str]]) -> list[str]:
    """The whole page, one line per element; figures as ``{name: (PNG bytes, caption)}``."""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_esc(title)}</title><style>{CSS}</style></head><body><main>",
           f"<h1>{_esc(title)}</h1>"]
    out += [f'<p class="meta">{_esc(m)}</p>' for m in meta]
    out.append('<nav><a href="#warnings">warnings</a><a href="#profiles">profiles</a>'
               '<a href="#figures">figures</a><a href="#tables">tables</a></nav>')
    out.append('<h2 id="warnings">Warnings</h2>')
    if warnings:
        out += warnings_html(warnings)
    else:
        out.append('<div class="ok">Every result is stable (CV at most 10 %, at least 5 rounds) '
                   "and every profile was enforced.</div>")
    out.append('<h2 id="profiles">Profiles: limits requested, enforced, and the load achieved</h2>')
    if profiles:
        out.append('<div class="profiles">')
        for name, record in profiles.items():
            out += profile_html(name, record, sources.get(name))
        out.append("</div>")
    else:
        out.append("<p>no measured profile (study figures only)</p>")
    out.append('<h2 id="figures">Figures</h2>')
    if not figures:
        out.append("<p>no figure: the results hold nothing to plot</p>")
    for name, (png, caption) in figures.items():
        out += figure_html(name, png, caption)
    out.append('<h2 id="tables">Tables</h2>')
    out.append('<p class="meta">also in tables/&lt;name&gt;.md and .csv beside this page</p>')
    for name, df in tables.items():
        out.append(f'<h3 id="table-{_esc(name)}">{_esc(name)}</h3>')
        if name in TABLE_NOTES:
            out.append(f'<p class="meta">{_esc(TABLE_NOTES[name])}</p>')
        out += dataframe_html(df)
    out.append("</main></body></html>")
    return out


# ----------------------------------------------------------------------- from results


def accuracy_series(rs: ResultSet) -> list[F.PfSeries]:
    """Top-1 before and after fine-tuning per pruning method, from the finetune results."""
    series = []
    for method in ("magnitude", "filter"):
        ms = {}
        for m in rs.select("finetune", None, None, pruning_method=method):
            ms.setdefault(m.pruning_factor, m)
        full = [m for m in rs.select("finetune", None, 0.0)]
        for m in full:
            ms.setdefault(0.0, m)
        if len(ms) < 1:
            continue
        pfs = sorted(ms)
        series.append(F.PfSeries(f"{method}, no FT", method, pfs,
                                 [float(ms[p].extra_info["top1_before_ft"]) for p in pfs], dashed=True))
        series.append(F.PfSeries(f"{method}, with FT", method, pfs,
                                 [float(ms[p].extra_info["top1_after_ft"]) for p in pfs]))
    return series


def size_series(rs: ResultSet, model_format: str = "tflite") -> list[F.PfSeries]:
    """Serialized model size per pruning method (solid: raw file, dashed: gzip)."""
    series = []
    fmt_ms = rs.select("serialization", None, None, model_format=model_format)
    if not fmt_ms:
        fmt_ms = [m for m in rs.select("serialization") if m.extra_info.get("model_bytes") is not None]
    full = [m for m in fmt_ms if m.pruning_factor == 0.0]
    for method in ("magnitude", "filter"):
        ms = {m.pruning_factor: m for m in fmt_ms if m.pruning_method == method and m.pruning_factor}
        if not ms:
            continue
        if full:
            ms[0.0] = full[0]
        pfs = sorted(ms)
        series.append(F.PfSeries(f"{method}, file", method, pfs, [float(ms[p].extra_info["model_bytes"]) for p in pfs]))
        series.append(F.PfSeries(f"{method}, gzip", method, pfs,
                                 [float(ms[p].extra_info["model_bytes_gzip"]) for p in pfs], dashed=True))
    return series


def study_accuracy_series(table1: pd.DataFrame) -> list[F.PfSeries]:
    """The study's Table I accuracy (columns pruning_factor_pct, top1_no_ft_pct, top1_ft_pct)."""
    pf = (table1["pruning_factor_pct"].to_numpy(dtype=float) / 100).tolist()
    return [F.PfSeries("study, no FT", "study", pf, (table1["top1_no_ft_pct"] / 100).tolist(), dashed=True),
            F.PfSeries("study, with FT", "study", pf, (table1["top1_ft_pct"] / 100).tolist())]


def study_size_series() -> list[F.PfSeries]:
    pfs = sorted(STUDY_MODEL_BYTES)
    return [F.PfSeries("study (16.9 MB; pf 70 % from Table II)", "study", pfs, [STUDY_MODEL_BYTES[p] for p in pfs])]


def report_figures(rs: ResultSet | None, *, measured: tuple | None = None, paper: tuple | None = None,
                   study_table1: pd.DataFrame | None = None) -> dict[str, tuple[Figure, str]]:
    """{stem: (Figure, caption)}: accuracy, model size and the four Q-curve figures.

    measured, paper: ``(curve_points, crossovers)`` frames of costmodel.curves.
    """
    figs: dict[str, tuple[Figure, str]] = {}
    acc = accuracy_series(rs) if rs is not None else []
    study_acc = study_accuracy_series(study_table1) if study_table1 is not None else []
    if acc or study_acc:
        figs["accuracy"] = (F.accuracy_figure(acc, study_acc),
                            "Top-1 accuracy versus pruning factor (dashed: before fine-tuning)")
    sizes = size_series(rs) if rs is not None else []
    if sizes:
        figs["model_size"] = (F.model_size_figure(sizes, study_size_series()),
                              "Serialized model size versus pruning factor (dashed: gzip)")
    captions = {"latency_idle": "Pipeline latency versus Q, edge idle (rings: crossovers)",
                "latency_loaded": "Pipeline latency versus Q, edge loaded (rings: crossovers)",
                "data": "Data exchanged over the radio link versus Q",
                "energy": "Device energy versus Q, dotted: the 3.7 Wh battery budget"}
    for stem, fig in F.q_figures(measured, paper).items():
        figs[stem] = (fig, captions[stem])
    return figs


def write_report(results: ResultSet | None, out_dir: Path | str, *,
                 tables: Mapping[str, pd.DataFrame] | None = None,
                 measured: tuple | None = None, paper: tuple | None = None,
                 study_table1: pd.DataFrame | None = None,
                 title: str = REPORT_TITLE, run: str | None = None,
                 extra_warnings: Sequence[str] = ()) -> ReportFiles:
    """Write ``out_dir/index.html``, ``tables/*.md|csv`` and ``figures/*.png|svg``.

    results: the measured ResultSet (profiles, warnings, accuracy and size series), or
      None for a study-only report
    tables: {name: DataFrame} to show and write (e.g. table1, table2, crossovers)
    measured, paper: ``(curve_points, crossovers)`` frames of costmodel.curves
    study_table1: the study's Table I (accuracy panel of the study)
    """
    tables = dict(tables or {})
    if results is not None:
        if not results.measurements:
            raise ReportError("the results hold no measurement: nothing to report")
        tables = {**tables, "measurements": _measurement_table(results)}
    if results is None and measured is None and paper is None and not tables:
        raise ReportError("nothing to report: no results, tables or curves given")
    out_dir = Path(out_dir)
    figs = report_figures(results, measured=measured, paper=paper, study_table1=study_table1)
    table_paths, fig_paths = [], []
    for name, df in tables.items():
        table_paths += write_table(df, out_dir / "tables", name, FLOAT_FORMAT)
    pngs = {}
    for stem, (fig, caption) in figs.items():
        pngs[stem] = (F.figure_bytes(fig, "png"), caption)
        fig_paths += F.save_figure(fig, out_dir / "figures" / stem, rendered={"png": pngs[stem][0]})
    warnings = tuple((results.warnings() if results is not None else []) + list(extra_warnings))
    meta = [f"run {run or out_dir.name}, generated {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M UTC}"]
    if results is not None:
        meta.append("results: " + ", ".join(f"{p}: {s}" for p, s in results.sources.items()))
        presets = sorted({str(m.extra_info.get("preset")) for m in results.measurements})
        meta.append(f"preset: {', '.join(presets)}")
    page = html_lines(title=title, meta=meta, warnings=warnings,
                      profiles=results.profiles if results is not None else {},
                      sources=results.sources if results is not None else {},
                      tables={k: _shown(k, df) for k, df in tables.items()}, figures=pngs)
    out_dir.mkdir(parents=True, exist_ok=True)
    index = out_dir / "index.html"
    index.write_text("\n".join(page) + "\n", encoding="utf-8")
    return ReportFiles(out_dir, index, tuple(table_paths), tuple(fig_paths), warnings)


def _shown(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """What the page shows of a table: crossover tables keep only the pairs that cross
    (every pair is in the CSV)."""
    if name.endswith("crossovers") and "q" in df.columns:
        return df[df["q"].notna()].reset_index(drop=True)
    return df


def _measurement_table(rs: ResultSet) -> pd.DataFrame:
    df = rs.frame().drop(columns=["source"])
    return df.sort_values(["profile", "operation", "name"], kind="stable").reset_index(drop=True)


def check_presets(rs: ResultSet) -> None:
    """Every measurement from one preset; a file from another preset is a ReportError naming it."""
    by_preset: dict[str, set[str]] = {}
    for m in rs.measurements:
        by_preset.setdefault(str(m.extra_info.get("preset")), set()).add(m.source)
    if len(by_preset) > 1:
        detail = "; ".join(f"{p}: {', '.join(sorted(s))}" for p, s in sorted(by_preset.items()))
        raise ReportError(f"results from different presets cannot share a report ({detail})")


def build_report(paths: Sequence[Path | str], out_dir: Path | str, *, pruning_factor: float = 0.7,
                 pruning_method: str = "filter", runtime: str = "litert", radio_preset: str = "paper",
                 with_paper: bool = True, q=DEFAULT_Q_GRID, run: str | None = None) -> ReportFiles:
    """Load results files / folders, compute tables and curves (measured and the study's), write the report.

    A scenario whose results are incomplete (e.g. no edge-loaded profile) is left out of
    the measured curves with a warning on the page, never silently.
    Raises ResultsError / ReportError on missing, empty or mixed-preset results.
    """
    rs = load_results(*paths)
    check_presets(rs)
    link = radio.get_link(radio_preset)
    up, down = float(radio.uplink_rate(link)), float(radio.downlink_rate(link))
    warnings = []
    scenarios = {}
    for scenario in SCENARIO_PROFILES:
        try:
            scenarios[scenario] = scenario_from_results(rs, scenario, pruning_factor, uplink_bps=up,
                                                        downlink_bps=down, pruning_method=pruning_method,
                                                        runtime=runtime)
        except ResultsError as exc:
            warnings.append(f"no measured {scenario} curves: {exc}")
    tables = {"table1": table1(rs, pruning_method=pruning_method, runtime=runtime)}
    measured = None
    if scenarios:
        tables["table2"] = table2(scenarios)
        measured = (curve_points(scenarios, q), crossovers(scenarios))
        tables["crossovers"] = measured[1]
    paper = study_t1 = None
    if with_paper:
        study = paper_report(q=q, radio_preset=radio_preset)
        paper = (study["points"], study["crossovers"])
        study_t1 = study["table1"]
        tables.update({"study_table1": study_t1, "study_table2": study["table2"],
                       "study_crossovers": study["crossovers"]})
    return write_report(rs, out_dir, tables=tables, measured=measured, paper=paper, study_table1=study_t1,
                        run=run, extra_warnings=warnings)


def default_run_name(now: _dt.datetime | None = None) -> str:
    """``YYYYmmdd-HHMMSS`` (UTC): the folder of a report under reports/."""
    return (now or _dt.datetime.now(_dt.timezone.utc)).strftime("%Y%m%d-%H%M%S")


def run_report_html(results: Sequence[str], *, out: str = DEFAULT_OUT, run: str | None = None,
                    pruning_factor: float = 0.7, pruning_method: str = "filter", runtime: str = "litert",
                    radio_preset: str = "paper", with_paper: bool = True) -> Outcome:
    """``report-html`` without argparse: writes <out>/<run>/index.html; exit 2 on bad input."""
    run = run or default_run_name()
    try:
        files = build_report(results, Path(out) / run, pruning_factor=pruning_factor,
                             pruning_method=pruning_method, runtime=runtime, radio_preset=radio_preset,
                             with_paper=with_paper, run=run)
    except (ResultsError, ValueError) as exc:
        return Outcome((), EXIT_BAD_INPUT, f"report: {exc}")
    lines = [f"wrote {files.index}", f"  {len(files.tables)} table files, {len(files.figures)} figure files"]
    if files.warnings:
        lines.append(f"  {len(files.warnings)} warning(s), listed at the top of the page:")
        lines += [f"  - {w}" for w in files.warnings]
    return Outcome(tuple(lines), EXIT_OK)


def add_report_options(p) -> None:
    p.add_argument("results", nargs="+",
                   help="results: JSON files (one per profile), a folder of them, or history storage folders")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"parent folder of the report (default: {DEFAULT_OUT})")
    p.add_argument("--run", default=None, help="report folder name under --out (default: UTC time YYYYmmdd-HHMMSS)")
    p.add_argument("--pruning-factor", type=float, default=0.7,
                   help="pruning factor of the pruned pipelines, a fraction (default: 0.7)")
    p.add_argument("--pruning-method", choices=("magnitude", "filter"), default="filter",
                   help="pruning method of the pruned pipelines (default: filter)")
    p.add_argument("--runtime", choices=("keras", "litert"), default="litert",
                   help="inference runtime taken for the curves (default: litert)")
    p.add_argument("--radio-preset", default="paper", help="radio link preset for transfer times (default: paper)")
    p.add_argument("--no-paper", dest="with_paper", action="store_false",
                   help="leave out the study's figures (default: shown beside the measured ones)")


def add_parser(subparsers) -> None:
    """Register ``report-html`` on the costmodel CLI."""
    p = subparsers.add_parser("report-html", help="write reports/<run>/index.html (self-contained) and tables")
    add_report_options(p)


def run(args) -> Outcome:
    return run_report_html(args.results, out=args.out, run=args.run, pruning_factor=args.pruning_factor,
                           pruning_method=args.pruning_method, runtime=args.runtime,
                           radio_preset=args.radio_preset, with_paper=args.with_paper)
