"""Turning results into lines and files: durations, counts, aligned text tables, table files.

Formatters return lines; only the command line prints them. A command's result dict, a cell
and a Markdown table are rendered by :mod:`costmodel.render`, which the cost model's own
command line shares.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from costmodel.render import FLOAT_FORMAT, csv_safe, markdown_lines


def fmt_time(value: float | None) -> str:
    """A duration [s] with a readable unit (s, ms, us, ns); "-" when missing."""
    if value is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(value) >= scale:
            return f"{value / scale:.3f} {unit}"
    return f"{value / 1e-9:.1f} ns"


def fmt_count(value: float | None) -> str:
    """Instructions per call, all digits (a count is exact to the instruction): ``3,949,690 Ir``."""
    return "-" if value is None else f"{value:,.0f} Ir"


def short_name(name: str) -> str:
    """A benchmark's name without its file: ``test_inference[full-litert]``."""
    return name.rsplit("::", 1)[-1]


def format_table(rows: list[tuple[str, ...]], left: tuple[int, ...]) -> list[str]:
    """Rows of cells as aligned text lines: columns in ``left`` left-aligned, the others right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) if i in left else c.rjust(w)
                      for i, (c, w) in enumerate(zip(row, widths))).rstrip() for row in rows]


def write_table(df: pd.DataFrame, outdir, stem: str, floatfmt: str = FLOAT_FORMAT) -> list[Path]:
    """Write <outdir>/<stem>.md and .csv; returns the paths."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    md, csv = outdir / f"{stem}.md", outdir / f"{stem}.csv"
    md.write_text("\n".join(markdown_lines(df, floatfmt)) + "\n", encoding="utf-8")
    csv_safe(df).to_csv(csv, index=False)  # a name starting with = is not a formula
    return [md, csv]
