"""Table II from a scenario: each latency contribution at Q = 1 and per later request.

The study's own Table I is :func:`costmodel.paper.study_table1`; Table I from measured
results is ``reports.measured.table1``; writing tables to files is ``reports.render``."""
from __future__ import annotations

import math
from typing import Mapping

import pandas as pd

from .pipelines import BASELINES, TERMS, cost_terms


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

