"""The HTML page of a report: one self-contained ``index.html`` that answers first.

Order: the answer (the cheapest pipeline per range of Q, idle and loaded edge,
latency / energy / data), Table I, the Q-curves with their crossovers; then the
instruction counts beside the profiles' times when a counted run was given; then one
compact table of the profiles (CPUs, memory, threads, the load achieved, enforced
yes/no per limit) with the full read-back folded below it; then the warnings, one
line each with its remedy; then the other tables and figures. Figures are inlined
as base64 PNG: nothing is fetched, the page opens offline and survives being
mailed or archived as a CI artifact.

Every function here takes what :mod:`reports.report` computed and returns lines.
"""

from __future__ import annotations

import base64
import html
import math
from typing import Mapping, Sequence

import pandas as pd

from costmodel.render import cell

REPORT_TITLE = "continuum-bench report"
TABLE_NOTES = {
    "table1": "Table I from the measurements, as the study printed it: the full model's row, then per pruning "
              "factor the default method and the other beside it; top-1 [%] as pruned / after BatchNorm "
              "re-estimation / after fine-tuning, fine-tuning [min] and warm batch-1 inference [s] per profile",
    "inference_assumptions": "per-request inference [s]: the study's inputs (Table II full model, Table I pf 70 %) "
                             "beside ours, warm (steady-state batch-1 time) and cold (model set-up plus first "
                             "call: init_s + first_call_s), and the ratios study / ours",
    "crossovers_warm": "crossovers (measured) with warm inference per request",
    "crossovers_cold": "crossovers (measured) with cold inference per request: model set-up plus first call",
    "table2": "Table II from the measurements: each latency contribution at Q = 1 [s] and its share [%], "
              "the total for Q = 1 and each later request [s]",
    "crossovers": "Q at which two pipelines cost the same (measured), per scenario and metric; "
                  "pairs that never cross for Q >= 1 are only in the CSV",
    "study_table1": "the study's Table I, as published",
    "study_table2": "Table II rebuilt from the study's figures (totals are the exact sums of their parts)",
    "study_crossovers": "crossovers from the study's figures (pairs that cross for Q >= 1)",
    "measurements": "every benchmark: times [s], rounds, coefficient of variation; unstable rows shaded",
}

TABLE_TITLES = {"table1": "Table I (measured)", "table2": "Table II (measured)",
                "study_table1": "Table I (the study, as published)", "study_table2": "Table II (the study's figures)",
                "crossovers": "Crossovers (measured)", "study_crossovers": "Crossovers (the study's figures)",
                "inference_assumptions": "Inference per request: warm, cold and the study's",
                "crossovers_warm": "Crossovers (measured, warm inference)",
                "crossovers_cold": "Crossovers (measured, cold inference)",
                "measurements": "Every benchmark"}
#: What to run when a profile's results are missing.
MISSING_REMEDY = {"device": "the device columns and the D-* pipelines are missing; run tox -e device",
                  "edge-idle": "the idle-edge answer and curves are the study's only; run tox -e edge-idle",
                  "edge-loaded": "the loaded-edge answer and curves are the study's only; run tox -e edge-loaded"}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:1.7em;margin:0 0 4px} h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:36px}
h3{margin:22px 0 8px;font-size:1.05em}
.meta{color:#555;font-size:.9em;margin:0 0 16px}
.warn{background:#fff4e5;border-left:5px solid #e69f00;padding:10px 14px;margin:10px 0}
.warn li{margin:3px 0;font-size:.92em}
.note{background:#eef4fb;border-left:5px solid #0072b2;padding:8px 14px;margin:6px 0 14px}
.ok{background:#e9f7ef;border-left:5px solid #009e73;padding:10px 14px}
table{border-collapse:collapse;margin:8px 0 14px;font-size:.85em;background:#fff}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;vertical-align:top;white-space:nowrap}
td.bad,tr.bad td{background:#fde8e4 !important;color:#8a1c00}
th{background:#f0f0f0;text-align:center;white-space:normal} td.t,th.t{text-align:left}
tr:nth-child(even) td{background:#fbfbfb}
.scroll{overflow-x:auto}
.profiles{display:flex;flex-wrap:wrap;gap:18px}
.profile{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 14px;flex:1 1 330px}
figure{margin:14px 0 26px;background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px}
figure img{max-width:100%;height:auto;display:block;margin:0 auto}
figcaption{color:#444;font-size:.9em;margin-top:4px;text-align:center}
nav a{margin-right:14px}
.answer td,.answer th{font-size:1.05em;padding:6px 10px;white-space:normal} .r{white-space:nowrap}
.alert{background:#fde8e4;border-left:5px solid #c0392b;padding:6px 12px;margin:6px 0;color:#8a1c00;font-weight:600}
.warnline{color:#8a1c00;margin:4px 0}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:10px}
.grid figure{margin:6px 0}
details{margin:8px 0} summary{cursor:pointer;color:#0b5394}
"""


# ----------------------------------------------------------------------- HTML pieces


def _esc(v) -> str:
    return html.escape(str(v), quote=True)


def dataframe_html(df: pd.DataFrame, bad=None) -> list[str]:
    """A DataFrame as an HTML table (numbers right-aligned, text left-aligned); rows flagged
    ``unstable`` shaded, and cells for which ``bad(value)`` is true."""
    numeric = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) for c in df.columns]
    lines = ['<div class="scroll"><table>', "<tr>" + "".join(
        f'<th{"" if n else " class=t"}>{_esc(c).replace("_", "_<wbr>")}</th>' for c, n in zip(df.columns, numeric))
        + "</tr>"]
    flag = list(df.columns).index("unstable") if "unstable" in df.columns else None
    for rec in df.itertuples(index=False):
        row_cls = ' class="bad"' if flag is not None and bool(rec[flag]) else ""
        cells = []
        for v, n in zip(rec, numeric):
            cls = ("" if n else "t") + (" bad" if bad is not None and bad(v) else "")
            cells.append(f'<td class="{cls.strip()}">{_esc(cell(v))}</td>' if cls else f"<td>{_esc(cell(v))}</td>")
        lines.append(f"<tr{row_cls}>" + "".join(cells) + "</tr>")
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
            lines.append(f'<tr><th class=t>{_esc(key)}</th><td class="{cls}">{_esc(cell(value))}</td></tr>')
    lines.append("</table>")
    return lines


def profile_html(name: str, record: Mapping, source: str | None) -> list[str]:
    """The full read-back of one profile: requested, enforced (read back from the OS), load, the rest."""
    prof = record.get("profile") if isinstance(record.get("profile"), Mapping) else {}
    lines = [f'<div class="profile"><h3>{_esc(name)}</h3>']
    if source:
        lines.append(f'<p class="meta">{_esc(source)}</p>')
    for key, title in (("requested", "requested"), ("enforced", "enforced (read back from the OS)")):
        if isinstance(prof.get(key), Mapping):
            lines.append(f"<p><b>{_esc(title)}</b></p>")
            lines += record_html(prof[key])
    rest = {k: v for k, v in prof.items() if k not in ("requested", "enforced", "name")}
    load = record.get("load")
    lines.append("<p><b>background load achieved</b></p>")
    lines += record_html(load) if isinstance(load, Mapping) and load else ["<p>none recorded</p>"]
    others = {**rest, **{k: v for k, v in record.items() if k not in ("profile", "load")}}
    if others:
        lines.append("<p><b>also recorded</b></p>")
        lines += record_html(others)
    lines.append("</div>")
    return lines


def _get(record: Mapping, *path):
    for key in path:
        if not isinstance(record, Mapping):
            return None
        record = record.get(key)
    return record


def _yes_no(entry) -> str:
    if isinstance(entry, bool):
        return "yes" if entry else "NO"
    if not isinstance(entry, Mapping):
        return "-"
    if entry.get("requested") is False:
        return "not requested"
    return {True: "yes", False: "NO", None: "not observable"}[entry.get("enforced")]


THREAD_LABELS = {"tf_intra_op": "TF intra", "tf_inter_op": "TF inter", "omp": "OMP", "blas": "BLAS",
                 "litert": "LiteRT"}


def _gib(v) -> str:
    return "-" if not isinstance(v, (int, float)) else f"{v / 2**30:.3g} GiB"


def profile_summary(name: str, record: Mapping) -> dict:
    """One row of the compact profiles table: what was asked, what was read back, the load."""
    req = _get(record, "profile", "requested") or {}
    enf = _get(record, "profile", "enforced") or {}
    load = record.get("load") if isinstance(record.get("load"), Mapping) else {}
    cpus = _get(enf, "affinity", "value")
    threads = req.get("threads") if isinstance(req.get("threads"), Mapping) else {}
    thread_env = enf.get("threads") if isinstance(enf.get("threads"), Mapping) else {}
    env_ok = [e.get("enforced") for e in thread_env.values() if isinstance(e, Mapping) and e.get("enforced") is not None]
    if load.get("workers"):
        achieved = (f"{load.get('workers')} workers, {cell(load.get('inferences_per_s'), '.3g')} inf/s, "
                    f"{cell(load.get('cpu_share_of_cpus'), '.0%') if load.get('cpu_share_of_cpus') is not None else '-'}"
                    " of its CPUs")
        if load.get("valid") is False or load.get("died"):
            achieved = "NOT VALID (a worker died): " + achieved
    else:
        achieved = "none"
    enforced = {"affinity": _yes_no(enf.get("affinity")), "quota": _yes_no(enf.get("cpu_quota")),
                "memory": _yes_no(enf.get("memory_limit", enf.get("memory"))),
                "thread variables": "-" if not env_ok else "yes" if all(env_ok) else "NO"}
    return {
        "profile": name,
        "CPUs": f"{req.get('cpus', '-')}" + (f" (read back: {', '.join(map(str, cpus))})" if cpus else ""),
        "CPU quota": "-" if req.get("cpu_quota") is None else f"{req.get('cpu_quota')} CPU-s/s",
        "memory": _gib(req.get("memory_bytes")) + (f" (read back {_gib(_get(enf, 'memory_limit', 'value'))})"
                                                    if _get(enf, "memory_limit", "value") else ""),
        "threads": ", ".join(f"{THREAD_LABELS.get(k, k)} {v}" for k, v in threads.items()) or "-",
        "background load achieved": achieved,
        "enforced": "; ".join(f"{k} {v}" for k, v in enforced.items() if v != "-"),
    }


def profiles_html(profiles: Mapping[str, Mapping], sources: Mapping[str, str], missing: Sequence[str]) -> list[str]:
    """The compact profiles table, the missing profiles, the full read-back folded below."""
    out = []
    if profiles:
        rows = pd.DataFrame([profile_summary(n, r) for n, r in profiles.items()])
        out += dataframe_html(rows, bad=lambda v: isinstance(v, str) and (" NO" in v or v.startswith("NOT VALID")))
    if missing:
        out.append(f'<p class="warnline">no results of {_esc(", ".join(missing))} (see the top of the page)</p>')
    if profiles:
        out.append("<details><summary>full read-back of each profile (requested, enforced, load, versions)</summary>")
        out.append('<div class="profiles">')
        for name, record in profiles.items():
            out += profile_html(name, record, sources.get(name))
        out.append("</div></details>")
    return out


#: What the counts section says about every counted run: why one serves all profiles.
COUNTS_NOTE = ("Instructions per call of exactly the call each timed case times, counted under valgrind "
               "(callgrind) by tox -e counts. The number of instructions a call executes does not depend on a CPU "
               "quota, a memory limit or background load, so one counted run serves all profiles: the count sits "
               "beside each profile's timed median [s] of the same call (LiteRT counted with 1 thread, timed with "
               "the profile's threads). The gate judges these cases on counts: continuum-bench gate --profile counts.")


def counts_html(table: pd.DataFrame, run_note: str) -> list[str]:
    """The counted cases beside the profiles' times, with :data:`COUNTS_NOTE` and ``run_note`` (which run)."""
    shown = table.assign(instructions_per_call=[f"{v:,.0f}" for v in table["instructions_per_call"]])
    return [f'<p class="note">{_esc(COUNTS_NOTE)}</p>', f'<p class="meta">{_esc(run_note)}</p>',
            *dataframe_html(shown)]


def counts_missing_html() -> list[str]:
    return ['<p class="meta">no counted run among the results: run tox -e counts (results/counts.json) for '
            "instructions per call beside the times; one counted run serves all profiles</p>"]


def figure_html(name: str, png: bytes, caption: str) -> list[str]:
    """The figure inlined as a base64 PNG."""
    data = base64.b64encode(png).decode("ascii")
    return [f'<figure id="fig-{_esc(name)}"><img alt="{_esc(caption)}" src="data:image/png;base64,{data}">',
            f"<figcaption>{_esc(caption)}</figcaption></figure>"]


def figures_html(figures: Mapping[str, tuple[bytes, str]]) -> list[str]:
    return [line for name, (png, caption) in figures.items() for line in figure_html(name, png, caption)]


def warnings_html(warnings: Sequence[str]) -> list[str]:
    """One line per warning about a run (each says its remedy); unstable results counted per
    profile in one line, their list folded (a full grid on a shared VM gives hundreds)."""
    unstable = [w for w in warnings if " unstable (" in w]
    notes = [w for w in warnings if " unstable (" not in w]
    out = ['<div class="warn"><ul>']
    out += [f"<li>{_esc(w)}</li>" for w in notes]
    if unstable:
        per_profile: dict[str, int] = {}
        for w in unstable:
            profile = w.split(":", 1)[0]
            per_profile[profile] = per_profile.get(profile, 0) + 1
        counts = ", ".join(f"{p} {n}" for p, n in per_profile.items())
        out.append(f"<li>{len(unstable)} unstable result(s) (CV over 10 % or fewer than 5 rounds; {_esc(counts)}): "
                   "read their medians, and rerun with more rounds (--benchmark-min-rounds) on a quieter "
                   "machine where it matters</li>")
    out.append("</ul>")
    if unstable:
        out.append(f"<details><summary>the {len(unstable)} unstable result(s)</summary><ul>")
        out += [f"<li>{_esc(w)}</li>" for w in unstable]
        out.append("</ul></details>")
    out.append("</div>")
    return out


def _q_range(lo: float, hi: float) -> str:
    lo_i = max(1, math.ceil(lo - 1e-9))
    if math.isinf(hi):
        return f"Q &ge; {lo_i:,}"
    hi_i = math.ceil(hi - 1e-9) - 1 if float(hi).is_integer() else math.floor(hi)
    return f"Q {lo_i:,}" if hi_i <= lo_i else f"Q {lo_i:,}&ndash;{hi_i:,}"


def answer_html(best_ranges: pd.DataFrame, source: Mapping[str, str],
                study: pd.DataFrame | None = None) -> list[str]:
    """The study's question answered: per metric (rows) and edge load (columns), the cheapest
    pipeline for each range of Q. ``source``: scenario -> where its numbers come from;
    ``study``: the study's own best ranges, shown beside measured columns for comparison."""
    columns = [(s, f"edge {s}", source.get(s, ""), best_ranges) for s in ("idle", "loaded")
               if s in set(best_ranges["scenario"])]
    if study is not None:
        columns += [(s, f"the study, edge {s}", "its published figures", study) for s, _, src, _ in list(columns)
                    if src == "measured"]
    head = "".join(f"<th class=t>{_esc(title)} <span class=meta>({_esc(src)})</span></th>"
                   for _, title, src, _ in columns)
    lines = ['<table class="answer">', f"<tr><th class=t>cheapest for</th>{head}</tr>"]
    for metric, unit in (("latency", "latency"), ("energy", "device energy"), ("data", "data exchanged")):
        cells = []
        for scen, _, _, frame in columns:
            rows = frame[(frame.scenario == scen) & (frame.metric == metric)]
            parts = [f"<span class=r><b>{_esc(r.pipeline)}</b> for {_q_range(r.q_from, r.q_to)}</span>"
                     for r in rows.itertuples()]
            cells.append("<td class=t>" + "<br>".join(parts) + "</td>")
        lines.append(f"<tr><th class=t>{_esc(unit)}</th>{''.join(cells)}</tr>")
    lines.append("</table>")
    return lines


def table_section(name: str, df: pd.DataFrame) -> list[str]:
    """A table's title, its note and the table."""
    out = [f'<h3 id="table-{_esc(name)}">{_esc(TABLE_TITLES.get(name, name))}</h3>']
    if name in TABLE_NOTES:
        out.append(f'<p class="meta">{_esc(TABLE_NOTES[name])}</p>')
    return out + dataframe_html(df)


def html_lines(*, title: str, meta: Sequence[str], answer: Sequence[str], first_tables: Mapping[str, pd.DataFrame],
               curves: Mapping[str, tuple[bytes, str]], alerts: Sequence[str], profiles: Sequence[str],
               warnings: Sequence[str], tables: Mapping[str, pd.DataFrame],
               figures: Mapping[str, tuple[bytes, str]], first_note: str = "",
               other_curves: Mapping[str, tuple[bytes, str]] | None = None, other_title: str = "",
               counts: Sequence[str] = ()) -> list[str]:
    """The whole page, answers first. ``answer``, ``profiles``: lines from :func:`answer_html`,
    :func:`profiles_html`; ``alerts``: one line each, shown in red above the answer (a run not
    valid, a profile missing); figures and curves as ``{name: (PNG bytes, caption)}``;
    ``first_note``: a paragraph after the first tables (which inference assumption the study resembles);
    ``other_curves``: the curves under the other inference assumption, below ``other_title``;
    ``counts``: lines from :func:`counts_html` (or :func:`counts_missing_html`), after the curves."""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_esc(title)}</title><style>{CSS}</style></head><body><main>",
           f"<h1>{_esc(title)}</h1>"]
    out += [f'<p class="meta">{_esc(m)}</p>' for m in meta]
    out += [f'<p class="alert">{_esc(a)}</p>' for a in alerts]
    out.append('<nav><a href="#answer">answer</a><a href="#counts">counts</a><a href="#profiles">profiles</a>'
               '<a href="#warnings">warnings '
               f'({len(warnings)})</a><a href="#tables">tables</a><a href="#figures">more figures</a></nav>')
    out.append('<h2 id="answer">Which pipeline is cheapest, for which Q</h2>')
    out += list(answer)
    for name, df in first_tables.items():
        out += table_section(name, df)
    if first_note:
        out.append(f'<p class="note">{_esc(first_note)}</p>')
    out += ['<div class="grid">', *figures_html(curves), "</div>"]
    if other_curves:
        out.append(f"<h3>{_esc(other_title)}</h3>")
        out += ['<div class="grid">', *figures_html(other_curves), "</div>"]
    if counts:
        out.append('<h2 id="counts">Instruction counts beside times</h2>')
        out += list(counts)
    out.append('<h2 id="profiles">Profiles: what ran where</h2>')
    out += list(profiles)
    out.append(f'<h2 id="warnings">Warnings ({len(warnings)})</h2>')
    out += warnings_html(warnings) if warnings else ['<div class="ok">Every result is stable (CV at most 10 %, '
                                                     "at least 5 rounds) and every profile was enforced.</div>"]
    out.append('<h2 id="tables">Tables</h2>')
    out.append('<p class="meta">also in tables/&lt;name&gt;.md and .csv beside this page</p>')
    for name, df in tables.items():
        out += table_section(name, df)
    out += ['<h2 id="figures">More figures</h2>', *figures_html(figures)]
    out.append("</main></body></html>")
    return out
