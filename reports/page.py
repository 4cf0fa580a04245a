"""The HTML page of a report: one self-contained ``index.html`` that answers first.

The first screen (1,280 x 800 px) holds the answer: the scenario and its assumptions
(edge load, distance, warm or cold inference, what the preset's model and data are),
then per metric the cheapest pipeline for each range of Q with its cost and the
runner-up's at a few Q, and one sentence where the metrics disagree; under it the
legend of the five pipelines and of Q. Then Table I, the inference per request and
the Q-curves with their crossovers; the instruction counts beside the profiles'
times when a counted run was given; one compact table of the profiles with the full
read-back folded below it; the warnings, one line each with its remedy; then the
other tables, the every-benchmark table folded and sortable. Tables show words and
units (:mod:`reports.pagetables`); figures are inlined as base64 PNG and the only
script is the few lines that sort a table: nothing is fetched, the page opens
offline and survives being mailed or archived as a CI artifact.

Every function here takes what :mod:`reports.report` computed and returns lines.
"""

from __future__ import annotations

import base64
import html
import math
from typing import Mapping, Sequence

import pandas as pd

from costmodel.render import cell

from .figures import PIPELINE_COLORS
from .pagetables import SORT_SCRIPT, TableView, duration, generic_view, table_view, times, view_html

REPORT_TITLE = "continuum-bench report"
TABLE_NOTES = {
    "table1": "Table I from the measurements, as the study printed it: the full model's row, then per pruning "
              "factor the default method and the other beside it; top-1 as pruned, after BatchNorm "
              "re-estimation and after fine-tuning, fine-tuning time and warm batch-1 inference per profile",
    "table1_quantization": "Table I's quantization columns: each model in float (none), with int8 weights "
                           "(dynamic), full-integer post-training (int8) and after quantization-aware fine-tuning "
                           "(int8-qat); its .tflite's size (gzip), its top-1 through LiteRT, warm batch-1 inference "
                           "per profile and the edge's conversion",
    "quantization_effect": "per edge load, metric and Q: the cheapest of every measured pipeline on every model "
                           "variant (continuum-bench advise --rank) beside the cheapest float one, and whether "
                           "quantization makes another pipeline the cheapest",
    "inference_assumptions": "inference per request: the study's inputs (Table II full model, Table I pf 70 %) "
                             "beside ours, warm (steady-state batch-1 time) and cold (model set-up plus first "
                             "call), and the ratios study / ours",
    "crossovers_warm": "crossovers (measured) with warm inference per request",
    "crossovers_cold": "crossovers (measured) with cold inference per request: model set-up plus first call",
    "table2": "Table II from the measurements: each latency contribution at Q = 1 with its share of the total "
              "under it, the total for Q = 1 and each later request",
    "crossovers": "Q at which two pipelines cost the same (measured), per edge load and metric; "
                  "pairs that never cross for Q >= 1 are only in the CSV",
    "study_table1": "the study's Table I, as published",
    "study_table2": "Table II rebuilt from the study's figures (totals are the exact sums of their parts)",
    "study_crossovers": "crossovers from the study's figures (pairs that cross for Q >= 1)",
    "measurements": "every benchmark's times per call, rounds and coefficient of variation; shaded: a spread "
                    "over 10 % that more rounds would narrow. Click a header to sort.",
}

TABLE_TITLES = {"quantization_effect": "Does quantization change the cheapest pipeline? (measured)",
                "table1": "Table I (measured)", "table1_quantization": "Table I, quantized models (measured)", "table2": "Table II (measured)",
                "study_table1": "Table I (the study, as published)", "study_table2": "Table II (the study's figures)",
                "crossovers": "Crossovers (measured)", "study_crossovers": "Crossovers (the study's figures)",
                "inference_assumptions": "Inference per request: warm, cold and the study's",
                "crossovers_warm": "Crossovers (measured, warm inference)",
                "crossovers_cold": "Crossovers (measured, cold inference)",
                "measurements": "Every benchmark"}
#: Tables shown folded (a summary line to open them): long, and read only to look something up.
FOLDED_TABLES = {"measurements": "every benchmark ({n} rows): times, rounds, spread; sortable",
                 "crossovers_warm": "crossovers with warm inference ({n} pairs)",
                 "crossovers_cold": "crossovers with cold inference ({n} pairs)",
                 "study_table1": "the study's Table I ({n} rows)", "study_table2": "the study's Table II ({n} rows)",
                 "study_crossovers": "the study's crossovers ({n} pairs)"}
#: What to run when a profile's results are missing.
MISSING_REMEDY = {"device": "the device columns and the D-* pipelines are missing; run tox -e device",
                  "edge-idle": "the idle-edge answer and curves are the study's only; run tox -e edge-idle",
                  "edge-loaded": "the loaded-edge answer and curves are the study's only; run tox -e edge-loaded"}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:10px 24px 60px;box-sizing:border-box}
h1{font-size:1.3em;margin:0 0 2px} h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:32px}
h3{margin:20px 0 6px;font-size:1.05em}
.meta{color:#555;font-size:.85em;margin:0 0 6px}
.warn{background:#fff4e5;border-left:5px solid #e69f00;padding:10px 14px;margin:10px 0}
.warn li{margin:3px 0;font-size:.92em}
.note{background:#eef4fb;border-left:5px solid #0072b2;padding:8px 14px;margin:6px 0 14px}
.ok{background:#e9f7ef;border-left:5px solid #009e73;padding:10px 14px}
table{border-collapse:collapse;margin:8px 0 14px;font-size:.85em;background:#fff}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:right;vertical-align:top}
td{white-space:nowrap} td.t{white-space:normal;overflow-wrap:break-word}
td small{color:#666}
td.bad,tr.bad td{background:#fde8e4 !important;color:#8a1c00}
th{background:#f0f0f0;text-align:center;white-space:normal} td.t,th.t{text-align:left}
tr:nth-child(even) td{background:#fbfbfb}
.scroll{overflow-x:auto;max-width:100%}
table.sortable th{cursor:pointer}
.profiles{display:flex;flex-wrap:wrap;gap:18px}
.profile{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 14px;flex:1 1 330px;min-width:0}
.profile td.t{overflow-wrap:anywhere} .profile table{max-width:100%}
figure{margin:14px 0 22px;background:#fff;border:1px solid #ddd;border-radius:6px;padding:6px}
figure img{max-width:100%;height:auto;display:block;margin:0 auto}
figcaption{color:#444;font-size:.9em;margin-top:4px;text-align:center}
nav{font-size:.9em;margin:4px 0} nav a{margin-right:14px}
#answer-block{background:#fff;border:1px solid #cfd8e3;border-radius:6px;padding:8px 14px;margin:6px 0}
#answer-block h2{margin:0 0 4px;border:0;padding:0;font-size:1.2em}
.scenario{margin:2px 0 6px;font-size:.92em}
table.answer{width:100%;margin:4px 0 6px;font-size:.92em}
.answer td,.answer th{padding:4px 8px;white-space:normal}
.answer td.c{text-align:left} .answer .next{color:#555;font-size:.9em}
.verdict{margin:4px 0 2px;font-size:.95em}
.sw{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:4px;vertical-align:-1px}
table.legend{font-size:.82em;width:100%;margin:4px 0}
.legend td{white-space:normal}
.alert{background:#fde8e4;border-left:5px solid #c0392b;padding:6px 12px;margin:6px 0;color:#8a1c00;font-weight:600}
.warnline{color:#8a1c00;margin:4px 0}
details{margin:8px 0} summary{cursor:pointer;color:#0b5394}
"""


# ----------------------------------------------------------------------- HTML pieces


def _esc(v) -> str:
    return html.escape(str(v), quote=True)


def dataframe_html(df: pd.DataFrame, bad=None) -> list[str]:
    """A DataFrame as an HTML table, headers in words with units (:func:`pagetables.generic_view`);
    rows flagged ``unstable`` shaded, and cells for which ``bad(value)`` is true."""
    return view_html(generic_view(df, bad))


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
    return [f'<p class="note">{_esc(COUNTS_NOTE)}</p>', f'<p class="meta">{_esc(run_note)}</p>',
            *dataframe_html(table)]


def counts_missing_html() -> list[str]:
    return ['<p class="meta">no counted run among the results: run tox -e counts (results/counts.json) for '
            "instructions per call beside the times; one counted run serves all profiles</p>"]


def figure_html(name: str, png: bytes, caption: str, min_font_px: float | None = None) -> list[str]:
    """The figure inlined as a base64 PNG; ``min_font_px``: its smallest text at the PNG's size."""
    data = base64.b64encode(png).decode("ascii")
    font = f' data-min-font-px="{min_font_px:.3g}"' if min_font_px else ""
    return [f'<figure id="fig-{_esc(name)}"><img alt="{_esc(caption)}"{font} src="data:image/png;base64,{data}">',
            f"<figcaption>{_esc(caption)}</figcaption></figure>"]


def figures_html(figures: Mapping[str, tuple[bytes, str]], min_font_px: Mapping[str, float] | None = None) -> list[str]:
    fonts = min_font_px or {}
    return [line for name, (png, caption) in figures.items()
            for line in figure_html(name, png, caption, fonts.get(name))]


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
        out.append(f"<li>{len(unstable)} unstable result(s) (CV over 10 % over 5 or more rounds; {_esc(counts)}): "
                   "their times are uncertain; rerun those profiles on a quieter machine where it matters</li>")
    out.append("</ul>")
    if unstable:
        out.append(f"<details><summary>the {len(unstable)} unstable result(s)</summary><ul>")
        out += [f"<li>{_esc(w)}</li>" for w in unstable]
        out.append("</ul></details>")
    out.append("</div>")
    return out


def q_bounds(lo: float, hi: float) -> tuple[int, int | None]:
    """The whole Q of a range [lo, hi) of the cheapest pipeline: (first, last); last None when unbounded."""
    lo_i = max(1, math.ceil(lo - 1e-9))
    if math.isinf(hi):
        return lo_i, None
    return lo_i, max(lo_i, math.ceil(hi - 1e-9) - 1 if float(hi).is_integer() else math.floor(hi))


def q_range_text(lo: float, hi: float) -> str:
    """``Q 1-13,624``, ``Q 7``, ``Q >= 13,625`` (plain text)."""
    first, last = q_bounds(lo, hi)
    return f"Q >= {first:,}" if last is None else f"Q {first:,}" if last == first else f"Q {first:,}-{last:,}"


def _q_range(lo: float, hi: float) -> str:
    first, last = q_bounds(lo, hi)
    return f"Q &ge; {first:,}" if last is None else f"Q {first:,}" if last == first else f"Q {first:,}&ndash;{last:,}"


#: metric -> what the answer calls it
METRIC_WORDS = {"latency": "latency", "energy": "device energy", "data": "data exchanged"}
#: What each metric's limit is, for the sentence when the metrics disagree.
METRIC_LIMITS = {"latency": "the response time", "energy": "the device's battery", "data": "a metered radio link"}
#: pipeline -> (prunes, fine-tunes, infers, once per model, each request): SPEC's pipelines in one line each
PIPELINE_LEGEND = {
    "E-Inf full": ("-", "-", "edge", "nothing", "sample up, result down"),
    "D-Inf full": ("-", "-", "device", "full model down", "nothing over the radio"),
    "E-FT,E-Inf": ("edge", "edge", "edge", "encrypted dataset up", "sample up, result down"),
    "E-FT,D-Inf": ("edge", "edge", "device", "encrypted dataset up, fine-tuned model down", "nothing over the radio"),
    "D-FT,D-Inf": ("edge", "device", "device", "pruned model down", "nothing over the radio"),
}
Q_DEFINITION = ("Q: the number of inference requests one model serves before it is replaced (the data drift); "
                "each cost is a one-off part plus Q times a per-request part.")
STUDY_SOURCE = "(the study's figures)"
RUNTIME_WORDS = {"litert": "LiteRT", "keras": "Keras"}
INFERENCE_WORDS = {"warm": "warm inference: each request finds the model loaded (steady-state batch-1 time); "
                           "cold starts are further down",
                   "cold": "cold inference: each request loads the model and runs it once (model set-up plus "
                           "first call); warm requests are further down"}


def quantity(value: float, metric: str) -> str:
    """A cost in the unit that reads best: ms / s / min / h, mJ / J / kJ, kB / MB / GB (1 MB = 1e6 byte)."""
    if metric == "latency":
        return duration(value) if value < 7200 else f"{value / 3600:.3g} h"
    steps = (("kJ", 1e3), ("J", 1.0), ("mJ", 1e-3)) if metric == "energy" else \
        (("GB", 1e9), ("MB", 1e6), ("kB", 1e3))
    for unit, scale in steps:
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    unit, scale = steps[-1]
    return f"{value / scale:.3g} {unit}"


def swatch(pipeline: str) -> str:
    """The pipeline's colour in every figure, as a small square."""
    return f'<span class="sw" style="background:{PIPELINE_COLORS.get(pipeline, "#999")}"></span>'


def answer_rows(costs: pd.DataFrame, source: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(row label, scenario, metric) of the answer: latency per edge load; energy and data once when
    they are the same for both loads (the device's energy and the bytes do not depend on the edge's load)."""
    scenarios = [s for s in ("idle", "loaded") if s in set(costs["scenario"])]
    rows = []
    for metric in ("latency", "energy", "data"):
        sub = costs[costs.metric == metric]
        per = {s: sub[sub.scenario == s][["q", "pipeline", "cost"]].reset_index(drop=True) for s in scenarios}
        same = len(scenarios) > 1 and all(source.get(s) == source.get(scenarios[0]) for s in scenarios) and all(
            per[s].equals(per[scenarios[0]]) for s in scenarios)
        for s in scenarios[:1] if same or len(scenarios) == 1 else scenarios:
            where = "" if same else f", edge {s}"
            rows.append((f"{METRIC_WORDS[metric]}{where}", s, metric))
    return rows


def disagreement(costs: pd.DataFrame, rows: Sequence[tuple[str, str, str]]) -> str:
    """One sentence: where the cheapest pipeline differs between metrics at the same Q and edge load,
    and which limit each metric stands for; or that they agree."""
    firsts = costs[costs["rank"] == 1]
    cheapest = {(s, m, q): p for s, m, q, p in firsts[["scenario", "metric", "q", "pipeline"]].itertuples(index=False)}
    shown = {(scen, metric) for _, scen, metric in rows}
    first_of = {}  # metric -> the scenario of its first row (the one row when both loads cost the same)
    for _, scen, metric in rows:
        first_of.setdefault(metric, scen)
    for scen in ("idle", "loaded"):
        for q in sorted(costs["q"].unique()):
            picks = {m: cheapest.get((scen if (scen, m) in shown else first_of[m], m, q)) for m in first_of}
            if len({p for p in picks.values() if p}) > 1:
                said = ", ".join(f"{METRIC_WORDS[m]} {p}" for m, p in picks.items())
                limits = ", ".join(f"{METRIC_LIMITS[m]}: {METRIC_WORDS[m]}" for m in picks)
                return (f"The metrics disagree (at Q = {q:,.0f}, edge {scen}: {said}): choose by the limit that "
                        f"binds ({limits}).")
    return "All metrics name the same pipeline at every Q shown."


def scenario_text(*, radio: Mapping, options: Mapping, scale: Mapping,
                  source: Mapping[str, str]) -> tuple[str, str]:
    """(the scenario in one line, what the preset is in one line)."""
    measured = [s for s, src in source.items() if src == "measured"]
    study = [s for s, src in source.items() if src != "measured"]
    edges = ("edge idle and edge loaded" if len(source) == 2 else " and ".join(f"edge {s}" for s in source))
    where = (f" (measured: {', '.join(measured) or 'none'}; the study's figures: {', '.join(study)})"
             if study else " (measured)")
    link = ""
    if radio.get("distance"):
        link = (f"; the device {radio['distance']:,.0f} m from the base station ({radio.get('preset', '')} radio: "
                f"uplink {radio.get('uplink_bps', 0) / 1e6:,.0f} Mbit/s, downlink {radio.get('downlink_bps', 0) / 1e6:,.0f} "
                "Mbit/s)")
    pf = options.get("pruning_factor")
    runtime = RUNTIME_WORDS.get(options.get("runtime"), options.get("runtime"))
    pruned = (f"; pruned pipelines: pf {pf * 100:g} % {options.get('pruning_method', '')}, {runtime} inference"
              if pf is not None else "")
    quant = options.get("quantization")
    if quant and quant != "none":
        pruned += f"; {quant} models served and sent by the edge (D-FT,D-Inf float: the device fine-tunes)"
    scenario = f"{edges}{where}{link}{pruned}"
    name = scale.get("preset") or "unknown"
    if "alpha" in scale and "input_size" in scale:
        images = (f"{scale['num_classes'] * scale['images_per_class']:,} generated images"
                  if scale.get("embedded") and scale.get("images_per_class") else
                  f"the images in {scale.get('data_dir') or 'a data folder'}")
        preset = (f"preset {name}: MobileNet v1 at width {scale['alpha']:g}, {scale['input_size']}x"
                  f"{scale['input_size']} px inputs, {scale.get('num_classes', '?')} classes, {images}; the study's "
                  "model is width 1.0 at 224 px on 100 ImageNet classes: the magnitudes above are this model's")
    else:
        preset = (f"preset {name}: these results do not record its model and input size "
                  "(fixtures/presets.py defines them); the study's model is MobileNet v1 at width 1.0, 224 px")
    return scenario, preset


def answer_html(costs: pd.DataFrame, best_ranges: pd.DataFrame, source: Mapping[str, str], *, inference: str,
                scenario: str, preset: str) -> list[str]:
    """The first screen: the scenario and its assumption, per metric the cheapest pipeline for each range
    of Q and its cost and the runner-up's at each Q of ``costs``, the sentence on disagreeing metrics,
    the pipelines' legend and Q. Elements a reader must see first carry ``data-answer``."""
    rows = answer_rows(costs, source)
    qs = sorted(costs["q"].unique())
    out = ['<section id="answer-block">', '<h2 id="answer">Which pipeline is cheapest, for which Q</h2>',
           f'<p class="scenario"><b>Scenario:</b> {_esc(scenario)}.<br><b data-answer="assumption">Assumes '
           f'{_esc(INFERENCE_WORDS[inference])}</b>.<br><b>Model:</b> {_esc(preset)}.</p>',
           '<table class="answer"><thead><tr><th class=t>cost</th><th class=t>cheapest pipeline, by Q</th>'
           + "".join(f"<th class=t>at Q = {q:,.0f}</th>" for q in qs) + "</tr></thead><tbody>"]
    for title, scen, metric in rows:
        ranges = best_ranges[(best_ranges.scenario == scen) & (best_ranges.metric == metric)]
        spans = "<br>".join(f'<span data-answer="pipeline">{swatch(r.pipeline)}<b>{_esc(r.pipeline)}</b></span> '
                            f"{_q_range(r.q_from, r.q_to)}" for r in ranges.itertuples())
        label = _esc(title) + ("" if source.get(scen) == "measured" else f" <small>{_esc(STUDY_SOURCE)}</small>")
        cells = []
        for q in qs:
            ranked = costs[(costs.scenario == scen) & (costs.metric == metric) & (costs.q == q)].sort_values("rank")
            if ranked.empty:
                cells.append("<td></td>")
                continue
            first = ranked.iloc[0]
            cell_html = (f'{swatch(first.pipeline)}<b>{_esc(first.pipeline)}</b> '
                         f'<span data-answer="cost">{_esc(quantity(first.cost, metric))}</span>')
            if len(ranked) > 1:
                second = ranked.iloc[1]
                ratio = second.cost / first.cost if first.cost > 0 else math.inf
                more = "" if math.isinf(ratio) else f" ({times(ratio)})"
                cell_html += (f'<br><span class="next">next: {_esc(second.pipeline)} '
                              f"{_esc(quantity(second.cost, metric))}{more}</span>")
            cells.append(f'<td class="c">{cell_html}</td>')
        out.append(f"<tr><th class=t>{label}</th><td class=c>{spans}</td>{''.join(cells)}</tr>")
    out.append("</tbody></table>")
    out.append(f'<p class="verdict">{_esc(disagreement(costs, rows))}</p>')
    out += legend_html()
    out.append("</section>")
    return out


def legend_html() -> list[str]:
    """The five pipelines (where each step runs, what crosses the radio) and Q."""
    lines = ['<table class="legend"><thead><tr><th class=t>pipeline</th><th class=t>prunes</th>'
             "<th class=t>fine-tunes</th><th class=t>infers</th><th class=t>over the radio, once per model</th>"
             "<th class=t>over the radio, each request</th></tr></thead><tbody>"]
    for name, parts in PIPELINE_LEGEND.items():
        lines.append(f"<tr><td class=t>{swatch(name)}<b>{_esc(name)}</b></td>"
                     + "".join(f"<td class=t>{_esc(p)}</td>" for p in parts) + "</tr>")
    lines.append("</tbody></table>")
    lines.append(f'<p class="meta">{_esc(Q_DEFINITION)}</p>')
    return lines


def study_answer_html(best_ranges: pd.DataFrame) -> list[str]:
    """The study's own answer (its published figures): the cheapest pipeline per range of Q."""
    scenarios = [s for s in ("idle", "loaded") if s in set(best_ranges["scenario"])]
    lines = ['<table class="answer"><thead><tr><th class=t>cheapest for</th>'
             + "".join(f"<th class=t>the study, edge {s}</th>" for s in scenarios) + "</tr></thead><tbody>"]
    for metric, words in METRIC_WORDS.items():
        cells = []
        for scen in scenarios:
            rows = best_ranges[(best_ranges.scenario == scen) & (best_ranges.metric == metric)]
            cells.append("<td class=t>" + "<br>".join(f"{swatch(r.pipeline)}<b>{_esc(r.pipeline)}</b> for "
                                                      f"{_q_range(r.q_from, r.q_to)}" for r in rows.itertuples())
                         + "</td>")
        lines.append(f"<tr><th class=t>{_esc(words)}</th>{''.join(cells)}</tr>")
    lines.append("</tbody></table>")
    return lines


def table_section(name: str, df: pd.DataFrame) -> list[str]:
    """A table's title, its note and the table (words and units); a long one folded and sortable."""
    out = [f'<h3 id="table-{_esc(name)}">{_esc(TABLE_TITLES.get(name, name))}</h3>']
    if name in TABLE_NOTES:
        out.append(f'<p class="meta">{_esc(TABLE_NOTES[name])}</p>')
    view: TableView = table_view(name, df)
    if name in FOLDED_TABLES:
        return out + [f"<details><summary>{_esc(FOLDED_TABLES[name].format(n=len(df)))}</summary>",
                      *view_html(view, sortable=True, table_id=f"t-{name}"), "</details>"]
    return out + view_html(view)


def html_lines(*, title: str, meta: Sequence[str], answer: Sequence[str], first_tables: Mapping[str, pd.DataFrame],
               curves: Mapping[str, tuple[bytes, str]], alerts: Sequence[str], profiles: Sequence[str],
               warnings: Sequence[str], tables: Mapping[str, pd.DataFrame],
               figures: Mapping[str, tuple[bytes, str]], first_note: str = "",
               other_curves: Mapping[str, tuple[bytes, str]] | None = None, other_title: str = "",
               counts: Sequence[str] = (), study_answer: Sequence[str] = (),
               min_font_px: Mapping[str, float] | None = None) -> list[str]:
    """The whole page, answers first. ``answer``, ``profiles``: lines from :func:`answer_html`,
    :func:`profiles_html`; ``alerts``: one line each, shown in red above the answer (a run not
    valid, a profile missing); figures and curves as ``{name: (PNG bytes, caption)}``;
    ``first_note``: a paragraph after the first tables (which inference assumption the study resembles);
    ``other_curves``: the curves under the other inference assumption, folded below ``other_title``;
    ``counts``: lines from :func:`counts_html` (or :func:`counts_missing_html`), after the curves;
    ``study_answer``: the study's own answer, after the first screen; ``min_font_px``: per figure, its
    smallest text [px] at the PNG's own size (``data-min-font-px``, what a browser test scales)."""
    fonts = min_font_px or {}
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_esc(title)}</title><style>{CSS}</style></head><body><main>",
           f"<h1>{_esc(title)}</h1>"]
    out += [f'<p class="meta">{_esc(m)}</p>' for m in meta]
    out += [f'<p class="alert">{_esc(a)}</p>' for a in alerts]
    out += list(answer)
    out.append('<nav><a href="#answer">answer</a><a href="#table-table1">Table I</a><a href="#curves">Q-curves</a>'
               '<a href="#counts">counts</a><a href="#profiles">profiles</a><a href="#warnings">warnings '
               f'({len(warnings)})</a><a href="#tables">tables</a><a href="#figures">more figures</a></nav>')
    if study_answer:
        out.append("<h3>The study's own answer (its published figures), for comparison</h3>")
        out += list(study_answer)
    for name, df in first_tables.items():
        out += table_section(name, df)
    if first_note:
        out.append(f'<p class="note">{_esc(first_note)}</p>')
    out.append('<h2 id="curves">Costs versus Q</h2>')
    out += figures_html(curves, fonts)
    if other_curves:
        out.append(f"<details><summary>{_esc(other_title)}</summary>")
        out += [*figures_html(other_curves, fonts), "</details>"]
    if counts:
        out.append('<h2 id="counts">Instruction counts beside times</h2>')
        out += list(counts)
    out.append('<h2 id="profiles">Profiles: what ran where</h2>')
    out += list(profiles)
    out.append(f'<h2 id="warnings">Warnings ({len(warnings)})</h2>')
    out += warnings_html(warnings) if warnings else ['<div class="ok">Every result is stable (CV at most 10 % where '
                                                     "timed 5 or more times) and every profile was enforced.</div>"]
    out.append('<h2 id="tables">Tables</h2>')
    out.append('<p class="meta">also in tables/&lt;name&gt;.md and .csv beside this page (names and SI units as '
               "the code has them)</p>")
    for name, df in tables.items():
        out += table_section(name, df)
    out += ['<h2 id="figures">More figures</h2>', *figures_html(figures, fonts)]
    out.append(f"</main><script>{SORT_SCRIPT}</script></body></html>")
    return out
