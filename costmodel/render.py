"""A command's result (a dict of scalars, lists and DataFrames) as lines: text, Markdown, CSV, JSON.

Every format shows the same tables with the same columns. Text is fixed-point (no
``1.4e+03``), the unit in each header, at most :data:`MAX_WIDTH` columns; Markdown escapes
``|``, ``<`` and newlines; CSV quotes a cell a spreadsheet would run as a formula.

Formatters return lines; only a command line prints them. The cost model's commands
(``python -m costmodel``) and every ``continuum-bench`` command render through here.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
import textwrap

import numpy as np
import pandas as pd

FORMATS = ("text", "markdown", "csv", "json")
FLOAT_FORMAT = ".4g"
#: Widest line a text table takes [characters]; a wider table is split into column blocks.
MAX_WIDTH = 100
#: Significant digits of a fixed-point cell in text (the smallest value of its column decides).
TEXT_DIGITS = 4
MAX_DECIMALS = 6
#: Column-name suffix -> the unit shown in a text or Markdown header.
UNIT_SUFFIXES = {"_s": "s", "_j": "J", "_bytes": "byte", "_pct": "%", "_bps": "bit/s", "_min": "min",
                 "_m": "m", "_hz": "Hz", "_w": "W"}
#: A spreadsheet evaluates a cell starting with one of these as a formula.
CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with control and direction-override characters shown as escapes (``\\x1b``), so
    that a name read from a file cannot clear or rewrite the user's terminal."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def is_missing(v) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def cell(v, floatfmt: str = FLOAT_FORMAT) -> str:
    """One value as table text: blank for missing, floats with ``floatfmt``, objects as JSON."""
    if is_missing(v):
        return ""
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return format(v, floatfmt)
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, default=str)
    return str(v)


def decimals(values) -> int:
    """Decimals that show the column's smallest non-zero magnitude with TEXT_DIGITS digits."""
    finite = [abs(float(v)) for v in values if isinstance(v, (float, np.floating)) and math.isfinite(v) and v]
    if not finite or all(v.is_integer() and v >= 10 ** (TEXT_DIGITS - 1) for v in finite):
        return 0
    return max(0, min(MAX_DECIMALS, TEXT_DIGITS - 1 - math.floor(math.log10(min(finite)))))


def fixed(v, places: int) -> str:
    """A number in fixed-point notation (never ``1.4e+03``); blank for missing."""
    return cell(v, f".{places}f")


def header(column: str) -> str:
    """A column name with its unit in brackets: ``latency_s`` -> ``latency [s]``."""
    for suffix, unit in UNIT_SUFFIXES.items():
        if column.endswith(suffix) and len(column) > len(suffix):
            return f"{column[:-len(suffix)]} [{unit}]"
    return column


def _text_cells(name: str, column: pd.Series) -> list[str]:
    """A column's cells: one number of decimals for a column of one unit (named by its suffix),
    each cell its own where the rows differ in unit (advice: s, J, byte)."""
    values = column.tolist()
    if not pd.api.types.is_float_dtype(column):
        return [cell(v) for v in values]
    if header(name) == name:
        return [fixed(v, decimals([v])) for v in values]
    places = decimals(values)
    return [fixed(v, places) for v in values]


def scalar_text(v, digits: int = 6) -> str:
    """A single value in fixed point with up to ``digits`` significant digits, trailing zeros dropped."""
    if not isinstance(v, (float, np.floating)) or not math.isfinite(v) or v == 0:
        return cell(v)
    v = float(v)
    places = max(0, min(MAX_DECIMALS + 3, digits - 1 - math.floor(math.log10(abs(v)))))
    text = f"{v:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def text_table(df: pd.DataFrame, width: int = MAX_WIDTH) -> list[str]:
    """A fixed-point text table, units in the headers, blank where a value does not apply; a table
    wider than ``width`` is split into column blocks, each repeating the first column."""
    cols = [[header(str(c))] + _text_cells(str(c), df[c]) for c in df.columns]
    widths = [max(len(x) for x in col) for col in cols]
    blocks, current, used = [], [], widths[0] if cols else 0
    for i in range(1, len(cols)):
        if current and used + 2 + widths[i] > width:
            blocks.append(current)
            current, used = [], widths[0]
        current.append(i)
        used += 2 + widths[i]
    blocks.append(current)
    lines = []
    for n, block in enumerate(blocks):
        shown = [0] + block if cols else []
        if n:
            lines.append("")
        for r in range(len(df) + 1):
            lines.append("  ".join(cols[i][r].rjust(widths[i]) if i else cols[i][r].ljust(widths[i])
                                   for i in shown).rstrip())
    return lines


def markdown_text(text: str) -> str:
    """A value as Markdown cell text: no raw HTML, no table break, one line."""
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r\n", " ").replace("\n", " ").replace("\r", " "))


def markdown_lines(df: pd.DataFrame, floatfmt: str = FLOAT_FORMAT) -> list[str]:
    """A GitHub Markdown table as lines (no dependency on tabulate); NaN as blank."""
    head = [markdown_text(str(c)) for c in df.columns]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(df[c]) else "---"
                            for c in df.columns) + "|"]
    for rec in df.itertuples(index=False):
        lines.append("| " + " | ".join(markdown_text(cell(v, floatfmt)) for v in rec) + " |")
    return lines


def csv_cell(v) -> str:
    """A value as CSV text; a string a spreadsheet would run as a formula gets a leading quote."""
    if isinstance(v, str):
        return "'" + v if v.startswith(CSV_FORMULA_START) else v
    if isinstance(v, (float, np.floating)) and math.isfinite(v):
        return repr(float(v))  # every digit: CSV is read by programs
    return cell(v)


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every text cell a spreadsheet would run as a formula prefixed by a quote."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = [("'" + v) if isinstance(v, str) and v.startswith(CSV_FORMULA_START) else v for v in out[c]]
    return out


def csv_lines(df: pd.DataFrame) -> list[str]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([csv_cell(str(c)) for c in df.columns])
    for rec in df.itertuples(index=False):
        writer.writerow([csv_cell(v) for v in rec])
    return buf.getvalue().splitlines()


def jsonable(v):
    """Plain JSON values from DataFrames, numpy numbers and nested containers (inf, NaN: null)."""
    if isinstance(v, pd.DataFrame):
        return [{k: jsonable(x) for k, x in row.items()} for row in v.to_dict("records")]
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return jsonable(v.tolist())
    if is_missing(v):
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return None if math.isinf(v) else v  # inf: an unbounded range
    if isinstance(v, (str, int)):
        return v
    return str(v)


def render_json(result: dict) -> list[str]:
    return json.dumps(jsonable(result), indent=2, allow_nan=False).splitlines()


def _scalar_lines(key, value, item: str = "  ") -> list[str]:
    if isinstance(value, dict):
        return [f"{key}:"] + [f"{item}{header(str(k))}: {scalar_text(v)}" for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        return [f"{key}:"] + [f"{item}{scalar_text(v)}" for v in value] if value else [f"{key}: none"]
    return [f"{key}: {scalar_text(value)}"]


def render_text(result: dict) -> list[str]:
    lines = []
    for key, value in result.items():
        if isinstance(value, pd.DataFrame):
            lines += [f"== {key} ==", *(text_table(value) if len(value) else ["(empty)"]), ""]
        else:  # a long value (a list of sources) goes on indented lines within the width
            lines += [part for line in _scalar_lines(key, value)
                      for part in textwrap.wrap(line, MAX_WIDTH, subsequent_indent="    ", break_long_words=False,
                                                break_on_hyphens=False) or [line]]
    return lines


def render_markdown(result: dict) -> list[str]:
    """Tables as Markdown tables, a block of values as a list (one item a line), text escaped."""
    lines = []
    for key, value in result.items():
        if isinstance(value, pd.DataFrame):
            lines += [f"## {markdown_text(str(key))}", ""] + (markdown_lines(value) if len(value) else ["(empty)"])
        elif isinstance(value, dict):
            lines += [f"## {markdown_text(str(key))}", ""] + [
                f"- {markdown_text(header(str(k)))}: {markdown_text(scalar_text(v))}" for k, v in value.items()]
        elif isinstance(value, (list, tuple)):
            lines += [f"## {markdown_text(str(key))}", ""] + ([f"- {markdown_text(scalar_text(v))}" for v in value]
                                                               or ["none"])
        else:
            lines.append(f"- **{markdown_text(str(key))}**: {markdown_text(scalar_text(value))}")
        lines.append("")
    return lines


def render_csv(result: dict) -> list[str]:
    """Each table as CSV under a ``# name`` line, blank lines between; values as ``# key: value``."""
    lines = []
    for key, value in result.items():
        if isinstance(value, pd.DataFrame):
            lines += ([""] if lines else []) + [f"# {key}"] + csv_lines(value)
        else:
            lines += [f"# {line}" for line in _scalar_lines(key, value)]
    return lines


RENDERERS = {"json": render_json, "text": render_text, "markdown": render_markdown, "csv": render_csv}


def render(result: dict, fmt: str = "text") -> list[str]:
    if fmt not in RENDERERS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    return RENDERERS[fmt](result)
