"""The page's tables as people read them: headers in words with their unit, one unit per column.

The CSV and Markdown tables beside the page keep the machine names and SI units
(``inf_s_edge_idle`` in seconds); the page shows ``inference, edge idle [ms]`` with
the same number of decimals down a column, so 0.449 and 0.081 line up instead of
``0.0004491`` beside ``8.126e-05``. Inference times are in ms, fine-tuning in min,
top-1 in %, Table II's contributions in s with their share beside them. Every cell
keeps its raw value for sorting (``data-v``).

:func:`table_view` turns a report table into a :class:`TableView`; :func:`view_html`
writes it. No I/O.
"""
from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from typing import Callable, Sequence

import pandas as pd

from costmodel.render import is_missing

#: Most decimals a column shows (a column of values under 0.001 switches to significant digits).
MAX_DECIMALS = 4
#: Significant digits of a column's largest value.
SIGNIFICANT = 3
#: Table II's contributions in words
TERM_LABELS = {"result_exchange": "sample and result", "control": "control messages", "model_exchange": "model download",
               "pruning": "pruning", "encryption": "encryption", "dataset_exchange": "dataset upload",
               "decryption": "decryption", "inference": "inference", "finetuning": "fine-tuning",
               "quantization": "quantization"}
#: Fixed labels: raw column -> (label, kind); kinds are in KIND_SCALE (None: text or as is).
LABELS = {
    "pruning_factor_pct": ("pruning factor [%]", "int"), "pruning_method": ("method", None),
    "top1_no_ft_pct": ("top-1 as pruned [%]", "pct"), "top1_bn_pct": ("top-1 after BN re-estimation [%]", "pct"),
    "top1_ft_pct": ("top-1 fine-tuned [%]", "pct"),
    "model": ("model", None), "profile": ("profile", None), "scenario": ("edge", None), "metric": ("metric", None),
    "pipeline": ("pipeline", None), "operation": ("operation", None), "case": ("case", None),
    "study_s": ("the study [ms]", "ms"), "warm_s": ("ours, warm [ms]", "ms"), "cold_s": ("ours, cold [ms]", "ms"),
    "study_over_warm": ("study / warm", "ratio"), "study_over_cold": ("study / cold", "ratio"),
    "a": ("pipeline A", None), "b": ("pipeline B", None), "q": ("same cost at Q", "q"),
    "cheaper_below": ("cheaper below", None), "cheaper_above": ("cheaper above", None),
    "total_q1_s": ("total at Q = 1 [s]", "num"), "per_request_s": ("each later request [s]", "num"),
    "instructions_per_call": ("instructions per call", "int"), "counted_calls": ("calls counted", "int"),
    "quantization": ("quantization", None), "model_bytes_gzip": ("size, gzip [MB]", "mb"),
    "top1_pct": ("top-1 [%]", "pct"), "at_q": ("Q", "q"), "cheapest": ("cheapest", None),
    "cost": ("its cost [s, J or byte]", "num"), "cheapest_float": ("cheapest float", None),
    "float_cost": ("its cost [s, J or byte]", "num"), "pipeline_changes": ("another pipeline?", None),
}
#: Columns the page leaves to the CSV (one of two forms of the same number).
HIDDEN = {"q_int"}
#: kind -> factor applied to the raw value before it is shown
KIND_SCALE = {"ms": 1e3, "pct": 1.0, "ratio": 1.0, "num": 1.0, "min": 1.0, "int": 1.0, "q": 1.0, "mb": 1e-6}
PROFILE_WORDS = {"edge_idle": "edge idle", "edge_loaded": "edge loaded", "edge-idle": "edge idle",
                 "edge-loaded": "edge loaded", "device": "device"}


@dataclass(frozen=True)
class Cell:
    """What a cell shows, the value it sorts by (None: its text), and whether it is flagged."""

    text: str
    sort: float | None = None
    bad: bool = False
    small: str = ""  # a second, smaller line (Table II's share)


@dataclass(frozen=True)
class TableView:
    headers: tuple[str, ...]
    numeric: tuple[bool, ...]
    rows: tuple[tuple[Cell, ...], ...]
    row_bad: tuple[bool, ...] = ()


def _profile(s: str) -> str:
    return PROFILE_WORDS.get(s, s.replace("_", " "))


#: Column names with a profile in them: (pattern, header with the profile's words, kind).
PROFILE_COLUMNS = (
    (r"inf_s_(.+)", "inference, {} [ms]", "ms"),
    (r"quantize_s_(.+)", "conversion, {} [s]", "num"),
    (r"ft_min_(.+)", "fine-tuning, {} [min]", "min"),
    (r"(.+)_median_s", "{}, median [ms]", "ms"),
)


def label(column: str) -> tuple[str, str | None]:
    """(header, kind) of a raw column name: fixed names, then the patterns with a profile in them."""
    if column in LABELS:
        return LABELS[column]
    for pattern, header, kind in PROFILE_COLUMNS:
        m = re.fullmatch(pattern, column)
        if m:
            return header.format(_profile(m.group(1))), kind
    m = re.fullmatch(r"(.+)_s", column)
    if m and m.group(1) in TERM_LABELS:
        return f"{TERM_LABELS[m.group(1)]} [s]", "num"
    return column.replace("_", " "), None


def decimals(values: Sequence[float]) -> int:
    """Decimals that give the column's largest magnitude SIGNIFICANT digits (0 to MAX_DECIMALS)."""
    finite = [abs(v) for v in values if not is_missing(v) and math.isfinite(v) and v != 0]
    if not finite:
        return 0
    return max(0, min(MAX_DECIMALS, SIGNIFICANT - 1 - math.floor(math.log10(max(finite)))))


def number(v: float, places: int) -> str:
    """``v`` with ``places`` decimals and thousands separators; a value the decimals would show as 0
    reads ``<0.001`` (its cell sorts by the value itself)."""
    if math.isinf(v):
        return "never" if v > 0 else "-inf"
    if v != 0 and abs(v) < 0.5 * 10 ** -places:
        return f"<{10 ** -places:.{places}f}" if v > 0 else f">-{10 ** -places:.{places}f}"
    return f"{v:,.{places}f}"


def _q(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def times(ratio: float) -> str:
    """A ratio as ``5.27x`` or ``1,760x`` (three significant digits, no exponent)."""
    return f"{ratio:,.0f}x" if abs(ratio) >= 100 else f"{ratio:.3g}x"


def column_cells(values: Sequence, kind: str | None) -> list[Cell]:
    """One column's cells: numbers scaled by ``kind`` with one number of decimals for the column."""
    if kind is None:
        return [Cell("" if is_missing(v) else str(v)) for v in values]
    scale = KIND_SCALE[kind]
    nums = [None if is_missing(v) else float(v) * scale for v in values]
    places = 0 if kind == "int" else decimals([v for v in nums if v is not None])
    out = []
    for v, raw in zip(nums, values):
        if v is None:
            out.append(Cell(""))
        elif kind == "q":
            out.append(Cell(_q(v), v))
        elif kind == "ratio":
            out.append(Cell(times(v), v))
        else:
            out.append(Cell(number(v, places), v))
    return out


def generic_view(df: pd.DataFrame, bad: Callable[[object], bool] | None = None) -> TableView:
    """Every column labelled (:func:`label`) and formatted as one; ``bad(value)`` flags a cell."""
    cols = [c for c in df.columns if c not in HIDDEN and c != "unstable"]
    heads, kinds = zip(*(label(c) for c in cols)) if cols else ((), ())
    columns = [column_cells(df[c].tolist(), k) for c, k in zip(cols, kinds)]
    if bad is not None:
        columns = [[Cell(x.text, x.sort, bad(v)) for x, v in zip(col, df[c].tolist())] for col, c in zip(columns, cols)]
    rows = tuple(zip(*columns)) if columns else ()
    row_bad = tuple(bool(v) for v in df["unstable"]) if "unstable" in df.columns else ()
    return TableView(tuple(heads), tuple(k is not None for k in kinds), rows, row_bad)


def table2_view(df: pd.DataFrame) -> TableView:
    """Table II: per pipeline, each contribution [s] with its share [%] under it; columns every row
    leaves empty are dropped."""
    terms = [t for t in TERM_LABELS if f"{t}_s" in df.columns and df[f"{t}_s"].notna().any()]
    heads = ["edge", "pipeline", "model"] + [f"{TERM_LABELS[t]} [s]" for t in terms] + \
            [label("total_q1_s")[0], label("per_request_s")[0]]
    text_cols = [column_cells(df[c].tolist(), None) for c in ("scenario", "pipeline", "model") if c in df.columns]
    num_cols = []
    for t in terms:
        secs = column_cells(df[f"{t}_s"].tolist(), "num")
        shares = df[f"{t}_pct"].tolist() if f"{t}_pct" in df.columns else [None] * len(df)
        num_cols.append([Cell(c.text, c.sort, small="" if is_missing(p) or not c.text else f"{p:.0f} %")
                         for c, p in zip(secs, shares)])
    num_cols += [column_cells(df[c].tolist(), "num") for c in ("total_q1_s", "per_request_s")]
    heads = heads[3 - len(text_cols):] if len(text_cols) < 3 else heads
    return TableView(tuple(heads), tuple([False] * len(text_cols) + [True] * len(num_cols)),
                     tuple(zip(*(text_cols + num_cols))))


#: The every-benchmark table's columns: (raw, header, time?)
MEASUREMENT_COLUMNS = (("profile", "profile", False), ("operation", "operation", False), ("name", "case", False),
                       ("model_state", "model", False), ("median_s", "median", True), ("mean_s", "mean", True),
                       ("min_s", "min", True), ("stddev_s", "SD", True), ("rounds", "rounds", False),
                       ("cv", "CV [%]", False))


def duration(v: float) -> str:
    """A duration [s] in the unit that reads best: 3 significant digits in us, ms, s or min."""
    if v >= 120:
        return f"{v / 60:.3g} min"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if v >= scale:
            return f"{v / scale:.3g} {unit}"
    return f"{v / 1e-9:.3g} ns"


def measurements_view(df: pd.DataFrame) -> TableView:
    """Every benchmark: its case without the file name, times in the unit that reads best (sorted
    by their value in seconds), CV in %."""
    rows = []
    for rec in df.to_dict("records"):
        cells = []
        for raw, _, is_time in MEASUREMENT_COLUMNS:
            v = rec.get(raw)
            if is_missing(v):
                cells.append(Cell(""))
            elif is_time:
                cells.append(Cell(duration(float(v)), float(v)))
            elif raw == "cv":
                cells.append(Cell(f"{float(v) * 100:.1f}", float(v)))
            elif raw == "rounds":
                cells.append(Cell(f"{int(v)}", float(v)))
            else:
                cells.append(Cell(str(v).rsplit("::", 1)[-1]))
        rows.append(tuple(cells))
    return TableView(tuple(h for _, h, _ in MEASUREMENT_COLUMNS),
                     tuple(t or raw in ("rounds", "cv") for raw, _, t in MEASUREMENT_COLUMNS), tuple(rows),
                     tuple(bool(v) for v in df["unstable"]) if "unstable" in df.columns else ())


def table_view(name: str, df: pd.DataFrame, bad: Callable[[object], bool] | None = None) -> TableView:
    """The view of a report table by its name (``table2``, ``measurements``, anything else generic)."""
    if name.endswith("table2"):
        return table2_view(df)
    if name == "measurements":
        return measurements_view(df)
    return generic_view(df, bad)


def _esc(v) -> str:
    return html.escape(str(v), quote=True)


def view_html(view: TableView, *, sortable: bool = False, table_id: str | None = None) -> list[str]:
    """The view as an HTML table in a horizontally scrolling container (it should never need to)."""
    attrs = (f' id="{_esc(table_id)}"' if table_id else "") + (' class="sortable"' if sortable else "")
    title = ' title="click to sort"' if sortable else ""
    lines = ['<div class="scroll">', f"<table{attrs}><thead><tr>" + "".join(
        f'<th{"" if n else " class=t"}{title}>{_esc(h)}</th>' for h, n in zip(view.headers, view.numeric))
        + "</tr></thead><tbody>"]
    for i, row in enumerate(view.rows):
        row_cls = ' class="bad"' if i < len(view.row_bad) and view.row_bad[i] else ""
        cells = []
        for c, n in zip(row, view.numeric):
            cls = " ".join(x for x in ("" if n else "t", "bad" if c.bad else "") if x)
            sort = f' data-v="{c.sort:.6g}"' if c.sort is not None and math.isfinite(c.sort) else ""
            small = f"<br><small>{_esc(c.small)}</small>" if c.small else ""
            cells.append(f"<td{f' class={chr(34)}{cls}{chr(34)}' if cls else ''}{sort}>{_esc(c.text)}{small}</td>")
        lines.append(f"<tr{row_cls}>" + "".join(cells) + "</tr>")
    lines.append("</tbody></table></div>")
    return lines


#: Sorts a table.sortable by the clicked column: numbers by data-v, text by its words.
SORT_SCRIPT = (
    "document.querySelectorAll('table.sortable th').forEach(th=>th.addEventListener('click',()=>{"
    "const i=th.cellIndex,b=th.closest('table').tBodies[0],d=th.dataset.d==='1'?-1:1;th.dataset.d=d>0?'1':'0';"
    "const k=r=>{const c=r.cells[i];return c.dataset.v!==undefined?parseFloat(c.dataset.v):c.textContent};"
    "[...b.rows].sort((x,y)=>{const u=k(x),v=k(y);return d*(typeof u==='number'&&typeof v==='number'?u-v:"
    "String(u).localeCompare(String(v)))}).forEach(r=>b.appendChild(r))}));")

