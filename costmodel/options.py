"""Every way to serve the requests, ranked: a pipeline on one variant of the model, with its top-1.

An :class:`Option` is a pipeline (:data:`pipelines.PIPELINES`) run on one model variant,
named by the caller (``model``: ``full``, ``pf=70-magnitude``; ``quantization``: ``none``,
``int8``, ...), with the inputs its costs rest on and the variant's top-1 [fraction].
:func:`rank_options` orders the options by their cost at a Q, optionally leaving out those
below a top-1 floor; :func:`cheapest_change` says whether a quantized variant changes which
pipeline is cheapest. The caller builds the options (``reports.measured`` from results);
nothing here reads a file.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import pandas as pd

from .pipelines import METRIC_UNITS, PipelineInputs, check_metric, cost_coefficients, validate_q

#: The quantization label of a float model: the options :func:`cheapest_change` compares against.
FLOAT = "none"
#: A metric's unit as a column-name suffix (the renderers show it in the header).
COST_COLUMNS = {"latency": "latency_s", "energy": "energy_j", "data": "data_bytes"}
RANK_COLUMNS = ("rank", "pipeline", "model", "quantization", "top1_pct")


@dataclasses.dataclass(frozen=True)
class Option:
    """``pipeline`` on the model variant (``model``, ``quantization``) whose costs rest on ``inputs``;
    ``top1``: that variant's test top-1 [fraction], NaN where no record holds it."""

    pipeline: str
    model: str
    quantization: str
    inputs: PipelineInputs
    top1: float = math.nan

    @property
    def label(self) -> str:
        """``E-FT,D-Inf pf=70-filter int8``, ``D-Inf full int8``: a float variant without its quantization,
        a model the pipeline's name already says (``full``) not twice."""
        model = "" if self.pipeline.endswith(f" {self.model}") else f" {self.model}"
        quant = "" if self.quantization == FLOAT else f" {self.quantization}"
        return f"{self.pipeline}{model}{quant}"

    @property
    def order(self) -> tuple:
        """How options of the same cost are ordered: by pipeline and model, the float variant first
        (a quantized model that costs the same changes nothing)."""
        return self.pipeline, self.model, self.quantization != FLOAT, self.quantization


def check_min_top1(min_top1) -> None:
    """ValueError naming --min-top1 unless it is a fraction in [0, 1]."""
    ok = not isinstance(min_top1, bool) and isinstance(min_top1, (int, float)) and 0 <= min_top1 <= 1
    if not ok:
        raise ValueError(f"--min-top1 must be a fraction in [0, 1] (0.85 for 85 %), got {min_top1!r}")


def meets(option: Option, min_top1: float | None) -> bool:
    """Whether ``option`` reaches the floor; an unknown top-1 never does (nothing shows it would)."""
    return min_top1 is None or (not math.isnan(option.top1) and option.top1 >= min_top1)


def option_costs(options: Sequence[Option], metric: str, q) -> list[float]:
    """Each option's cost at ``q`` [s, J or byte], in the order given."""
    check_metric(metric)
    validate_q(q)
    return [float(cost_coefficients(o.pipeline, metric, o.inputs)(q)) for o in options]


def rank_options(options: Sequence[Option], metric: str, q, *, min_top1: float | None = None) -> pd.DataFrame:
    """The options reaching ``min_top1`` ordered by their ``metric`` at ``q``, cheapest first (ties by
    pipeline, model, quantization): rank, pipeline, model, quantization, top1_pct, the cost
    (:data:`COST_COLUMNS`) and ``x_cheapest`` (the cost over the cheapest's)."""
    if min_top1 is not None:
        check_min_top1(min_top1)
    kept = [o for o in options if meets(o, min_top1)]
    costs = option_costs(kept, metric, q)
    order = sorted(range(len(kept)), key=lambda i: (costs[i], kept[i].order))
    best = costs[order[0]] if order else math.nan
    column = COST_COLUMNS[metric]
    rows = [{"rank": n, "pipeline": kept[i].pipeline, "model": kept[i].model, "quantization": kept[i].quantization,
             "top1_pct": 100 * kept[i].top1, column: costs[i],
             "x_cheapest": costs[i] / best if best > 0 else (1.0 if costs[i] == best else math.inf)}
            for n, i in enumerate(order, start=1)]
    return pd.DataFrame(rows, columns=[*RANK_COLUMNS, column, "x_cheapest"])


@dataclasses.dataclass(frozen=True)
class Change:
    """At ``q``: the cheapest option of all, and the cheapest float one (None when there is none)."""

    q: float
    cheapest: Option
    cost: float
    cheapest_float: Option | None
    float_cost: float

    @property
    def pipeline_changes(self) -> bool:
        """A quantized variant makes another pipeline the cheapest."""
        return self.cheapest_float is not None and self.cheapest.pipeline != self.cheapest_float.pipeline


def cheapest_change(options: Sequence[Option], metric: str, qs, *, min_top1: float | None = None) -> list[Change]:
    """Per Q of ``qs``: the cheapest option reaching ``min_top1`` beside the cheapest float one."""
    kept = [o for o in options if meets(o, min_top1)]
    if not kept:
        raise ValueError(f"no option reaches top-1 {min_top1!r}")
    out = []
    for q in validate_q(qs).ravel():
        costs = option_costs(kept, metric, float(q))
        i = min(range(len(kept)), key=lambda k: (costs[k], kept[k].order))
        floats = [k for k in range(len(kept)) if kept[k].quantization == FLOAT]
        j = min(floats, key=lambda k: (costs[k], kept[k].order)) if floats else None
        out.append(Change(float(q), kept[i], costs[i], None if j is None else kept[j],
                          math.nan if j is None else costs[j]))
    return out


def _q_list(qs) -> str:
    return ", ".join(f"{q:,.0f}" for q in qs)


def change_sentence(changes: Sequence[Change], metric: str) -> str:
    """One line: whether quantization changes the cheapest pipeline at any Q of ``changes``, and how."""
    unit = METRIC_UNITS[metric]
    if not changes:
        return "no Q given"
    if all(c.cheapest_float is None for c in changes):
        return "no float option to compare with: every option ranked is quantized"
    changed = [c for c in changes if c.pipeline_changes]
    if changed:
        c = changed[0]
        return (f"yes: quantization changes the cheapest pipeline at Q = {_q_list(x.q for x in changed)} "
                f"(at Q = {c.q:,.0f}: {c.cheapest.label} {c.cost:.4g} {unit}, the cheapest float "
                f"{c.cheapest_float.label} {c.float_cost:.4g} {unit})")
    cheaper = [c for c in changes if c.cheapest.quantization != FLOAT]
    same = "; ".join(f"Q = {c.q:,.0f}: {c.cheapest_float.pipeline}" for c in changes)
    if cheaper:
        return (f"no: the cheapest pipeline is the same with and without quantization ({same}); a quantized "
                f"model makes it cheaper at Q = {_q_list(c.q for c in cheaper)}")
    return f"no: the cheapest pipeline is the same with and without quantization ({same}), and it is float"
