"""Cost curves versus Q, exact crossovers (closed form) and the best pipeline per Q range.

A scenario is a mapping ``pipeline name -> PipelineInputs`` (baselines carry the full
model's inputs, the pruned pipelines the pruned model's). Scenarios are a mapping
``scenario name -> scenario`` (the study's: 'idle' and 'loaded').
"""
from __future__ import annotations

import itertools
import math
from typing import Mapping

import numpy as np
import pandas as pd

from .pipelines import METRICS, Affine, cost_coefficients, validate_q

POINT_COLUMNS = {"latency": "latency_s", "energy": "energy_j", "data": "data_bytes"}
DEFAULT_Q_GRID = np.unique(np.round(np.logspace(0, 4, 41)))  # 1 .. 10 000, log spaced


def curve_points(scenarios: Mapping[str, Mapping], q=DEFAULT_Q_GRID, **kw) -> pd.DataFrame:
    """One row per (scenario, pipeline, q): latency_s, energy_j, data_bytes."""
    qs = validate_q(q).ravel()
    frames = []
    for name, scenario in scenarios.items():
        for pipeline, inputs in scenario.items():
            row = {"scenario": name, "pipeline": pipeline, "q": qs}
            for metric, col in POINT_COLUMNS.items():
                row[col] = cost_coefficients(pipeline, metric, inputs, **kw)(qs)
            frames.append(pd.DataFrame(row))
    columns = ["scenario", "pipeline", "q", *POINT_COLUMNS.values()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def crossover_q(a: Affine, b: Affine, q_min: float = 1.0) -> float | None:
    """Q at which a(Q) = b(Q), if it lies at or above q_min; None otherwise (parallel,
    identical, or crossing below q_min). Closed form: (b0 - a0) / (a1 - b1)."""
    ds = a.slope - b.slope
    if ds == 0:
        return None
    q = (b.intercept - a.intercept) / ds
    return float(q) if q >= q_min else None


def crossovers(scenarios: Mapping[str, Mapping], metrics=METRICS, **kw) -> pd.DataFrame:
    """Every pair of pipelines per scenario and metric with the crossover Q (None where
    they do not cross for Q >= 1), and which pipeline is cheaper below and above it."""
    rows = []
    for name, scenario in scenarios.items():
        for metric in metrics:
            coef = {p: cost_coefficients(p, metric, x, **kw) for p, x in scenario.items()}
            for a, b in itertools.combinations(coef, 2):
                q = crossover_q(coef[a], coef[b])
                lo_q = 1.0 if q is None else max(1.0, q / 2)
                cheaper_below = a if coef[a](lo_q) <= coef[b](lo_q) else b
                if q is None:
                    cheaper_above = cheaper_below
                else:
                    cheaper_above = b if cheaper_below == a else a
                rows.append({"scenario": name, "metric": metric, "a": a, "b": b,
                             "q": q, "q_int": None if q is None else int(math.floor(q)) + 1,
                             "cheaper_below": cheaper_below, "cheaper_above": cheaper_above})
    out = pd.DataFrame(rows, columns=["scenario", "metric", "a", "b", "q", "q_int",
                                      "cheaper_below", "cheaper_above"])
    out["q_int"] = out["q_int"].astype("Int64")  # first whole Q past the crossover
    return out


def best_ranges(coefficients: Mapping[str, Affine], q_min: float = 1.0) -> list[dict]:
    """Lower envelope of affine costs on [q_min, inf): list of {q_from, q_to, pipeline}
    (q_to = inf for the last range). Ties are resolved by name order."""
    if not coefficients:
        raise ValueError("coefficients must hold at least one pipeline, got none")
    breaks = {q_min}
    for a, b in itertools.combinations(coefficients, 2):
        q = crossover_q(coefficients[a], coefficients[b], q_min)
        if q is not None:
            breaks.add(q)
    edges = sorted(breaks) + [math.inf]
    ranges = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        probe = lo + 1.0 if math.isinf(hi) else (lo + hi) / 2
        best = min(sorted(coefficients), key=lambda p: (coefficients[p].intercept
                                                        + coefficients[p].slope * probe))
        if ranges and ranges[-1]["pipeline"] == best:
            ranges[-1]["q_to"] = hi
        else:
            ranges.append({"q_from": lo, "q_to": hi, "pipeline": best})
    return ranges


def best_ranges_table(scenarios: Mapping[str, Mapping], metrics=METRICS, **kw) -> pd.DataFrame:
    """best_ranges for every scenario and metric as one table."""
    rows = []
    for name, scenario in scenarios.items():
        for metric in metrics:
            coef = {p: cost_coefficients(p, metric, x, **kw) for p, x in scenario.items()}
            for r in best_ranges(coef):
                rows.append({"scenario": name, "metric": metric, **r})
    return pd.DataFrame(rows, columns=["scenario", "metric", "q_from", "q_to", "pipeline"])


def ranking(coefficients: Mapping[str, Affine], q: float) -> list[tuple[str, float]]:
    """Pipelines sorted by cost at q: [(pipeline, cost), ...], cheapest first."""
    validate_q(q)
    return sorted(((p, float(c.intercept + c.slope * q)) for p, c in coefficients.items()),
                  key=lambda t: (t[1], t[0]))
