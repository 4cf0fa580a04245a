"""A command's result (a dict of scalars, lists and DataFrames) as lines: text, Markdown, JSON.

Formatters return lines; only a command line prints them. The cost model's commands
(``python -m costmodel``) and every ``continuum-bench`` command render through here.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

FORMATS = ("text", "json", "markdown")
FLOAT_FORMAT = ".4g"


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


def markdown_lines(df: pd.DataFrame, floatfmt: str = FLOAT_FORMAT) -> list[str]:
    """A GitHub Markdown table as lines (no dependency on tabulate); NaN as blank."""
    header = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(df[c]) else "---"
                            for c in df.columns) + "|"]
    for rec in df.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v, floatfmt).replace("|", "\\|") for v in rec) + " |")
    return lines


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


def _scalar_lines(key, value) -> list[str]:
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
