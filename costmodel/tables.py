"""The study's Table I and Table II as pandas DataFrames, rendered to Markdown and CSV."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import pandas as pd

from .pipelines import BASELINES, TERMS, cost_terms
from .results import ResultSet

TABLE1_COLUMNS = ("pruning_factor_pct", "top1_no_ft_pct", "top1_ft_pct", "ft_min_edge_idle",
                  "ft_min_edge_loaded", "ft_min_device", "inf_s_edge_idle", "inf_s_edge_loaded",
                  "inf_s_device")
TABLE1_PROFILES = {"edge_idle": "edge-idle", "edge_loaded": "edge-loaded", "device": "device"}
SECONDS_PER_MINUTE = 60.0


def table1(rs: ResultSet, *, pruning_method: str = "filter", runtime: str = "litert",
           statistic: str = "mean") -> pd.DataFrame:
    """Table I from results: per pruning factor, top-1 [%] without / with fine-tuning,
    fine-tuning time [min] and batch-1 inference time [s] per profile (NaN where the
    result is missing). Top-1 is taken from the first profile that fine-tuned."""
    rows = []
    pfs = sorted(set(rs.pruning_factors("finetune")) | set(rs.pruning_factors("inference")))
    for pf in pfs:
        meth = pruning_method if pf else None
        row = {"pruning_factor_pct": round(100 * pf, 6)}
        ft = rs.select("finetune", None, pf, pruning_method=meth)
        row["top1_no_ft_pct"] = 100 * float(ft[0].extra_info["top1_before_ft"]) if ft else math.nan
        row["top1_ft_pct"] = 100 * float(ft[0].extra_info["top1_after_ft"]) if ft else math.nan
        for key, prof in TABLE1_PROFILES.items():
            f = rs.select("finetune", prof, pf, pruning_method=meth)
            row[f"ft_min_{key}"] = f[0].time(statistic) / SECONDS_PER_MINUTE if f else math.nan
            i = rs.select("inference", prof, pf, pruning_method=meth, runtime=runtime)
            row[f"inf_s_{key}"] = i[0].time(statistic) if i else math.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=list(TABLE1_COLUMNS))


def table2(scenarios: Mapping[str, Mapping]) -> pd.DataFrame:
    """Table II: per scenario and pipeline, each latency contribution at Q = 1 [s] and its
    share [%], the total for Q = 1 (the exact sum of the contributions) and the latency
    of each later request (the slope in Q). Columns: scenario, pipeline, model,
    <term>_s and <term>_pct for every term in TERMS, total_q1_s, per_request_s."""
    rows = []
    for name, scenario in scenarios.items():
        for pipeline, inputs in scenario.items():
            terms = cost_terms(pipeline, "latency", inputs)
            row = {"scenario": name, "pipeline": pipeline,
                   "model": "full" if pipeline in BASELINES else "pruned"}
            parts = {t: (terms[t].intercept + terms[t].slope) if t in terms else math.nan
                     for t in TERMS}
            total = math.fsum(v for v in parts.values() if not math.isnan(v))
            for t in TERMS:
                row[f"{t}_s"] = parts[t]
            for t in TERMS:
                row[f"{t}_pct"] = 100 * parts[t] / total if total > 0 else math.nan
            row["total_q1_s"] = total
            row["per_request_s"] = math.fsum(v.slope for v in terms.values())
            rows.append(row)
    cols = (["scenario", "pipeline", "model"] + [f"{t}_s" for t in TERMS]
            + [f"{t}_pct" for t in TERMS] + ["total_q1_s", "per_request_s"])
    return pd.DataFrame(rows, columns=cols)


def _cell(v, floatfmt: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return format(v, floatfmt)
    return str(v).replace("|", "\\|")


def markdown_lines(df: pd.DataFrame, floatfmt: str = ".4g") -> list[str]:
    """A GitHub Markdown table as lines (no dependency on tabulate); NaN as blank."""
    header = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(df[c]) else "---"
                            for c in df.columns) + "|"]
    for rec in df.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v, floatfmt) for v in rec) + " |")
    return lines


def to_markdown(df: pd.DataFrame, floatfmt: str = ".4g") -> str:
    return "\n".join(markdown_lines(df, floatfmt)) + "\n"


def write_table(df: pd.DataFrame, outdir, stem: str, floatfmt: str = ".4g") -> list[Path]:
    """Write <outdir>/<stem>.md and .csv; returns the paths."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    md, csv = outdir / f"{stem}.md", outdir / f"{stem}.csv"
    md.write_text(to_markdown(df, floatfmt), encoding="utf-8")
    df.to_csv(csv, index=False)
    return [md, csv]
