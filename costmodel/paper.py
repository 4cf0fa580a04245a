"""Paper mode: the study's own measurements (costmodel/data/*.csv) through the model.

Inputs per scenario ('idle', 'loaded'): the per-pruning-factor times of Table I for
pf 70 % (fine-tuning minutes x 60, inference seconds), the contributions only Table II
gives (pruning 0.15 s / 0.75 s, encryption 0.12 s, full-model inference 0.98 s /
5.86 s at the edge and 5.04 s on the device), the study's sizes (300 kB sample, 2 kB
result, 412.193 MB encrypted dataset, 16.9 MB full model) and the link rates of a
radio preset (default 'paper'). The pf 70 % model's size is not published: it is the
size that the published 0.195 s takes at the study's downlink rate (6.334 MB).
"""
from __future__ import annotations

import dataclasses
import math
from functools import lru_cache
from importlib import resources

import pandas as pd

from . import radio
from .curves import best_ranges_table, crossovers, curve_points
from .pipelines import DevicePowers, PipelineInputs
from .tables import table2

SCENARIOS = ("idle", "loaded")
PAPER_PRUNING_FACTOR_PCT = 70
PUBLISHED_PIPELINES = {"E-Inf": "E-Inf full", "D-Inf": "D-Inf full"}
PF70_MODEL_BYTES = radio.STUDY_PF70_MODEL_DOWNLOAD_S * radio.STUDY_DOWNLINK_BPS / 8  # [byte]
TABLE1_PROFILE_COLUMNS = {"idle": "edge_idle", "loaded": "edge_loaded"}


def _read(name: str) -> pd.DataFrame:
    with resources.files("costmodel").joinpath("data", name).open("r", encoding="utf-8") as f:
        return pd.read_csv(f, comment="#")


@lru_cache(maxsize=None)
def _table(name):
    return _read(name)


def study_table1() -> pd.DataFrame:
    """The study's Table I (costmodel/data/table1.csv)."""
    return _table("table1.csv").copy()


def study_table2() -> pd.DataFrame:
    """The study's Table II (costmodel/data/table2.csv), as published."""
    return _table("table2.csv").copy()


def _published(scenario: str, pipeline: str, column: str) -> float:
    t2 = _table("table2.csv")
    row = t2[(t2.scenario == scenario) & (t2.pipeline == pipeline)]
    return float(row[column].iloc[0])


def study_scenario(scenario: str, link: radio.RadioLink | None = None,
                   powers: DevicePowers = DevicePowers()) -> dict[str, PipelineInputs]:
    """{pipeline: PipelineInputs} from the study's figures for 'idle' or 'loaded'."""
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {SCENARIOS}, got {scenario!r}")
    link = link or radio.PRESETS["paper"]
    up, down = float(radio.uplink_rate(link)), float(radio.downlink_rate(link))
    t1 = _table("table1.csv")
    row = t1[t1.pruning_factor_pct == PAPER_PRUNING_FACTOR_PCT].iloc[0]
    col = TABLE1_PROFILE_COLUMNS[scenario]
    common = dict(uplink_bps=up, downlink_bps=down, dataset_bytes=radio.STUDY_DATASET_BYTES,
                  sample_bytes=radio.STUDY_SAMPLE_BYTES, result_bytes=radio.STUDY_RESULT_BYTES,
                  powers=powers)
    full = PipelineInputs(model_bytes=radio.STUDY_FULL_MODEL_BYTES,
                          inference_edge_s=_published(f"full-{scenario}", "E-Inf", "inference_s"),
                          inference_device_s=_published(f"full-{scenario}", "D-Inf", "inference_s"),
                          **common)
    pf = f"pf{PAPER_PRUNING_FACTOR_PCT}-{scenario}"
    pruned = PipelineInputs(
        model_bytes=PF70_MODEL_BYTES,
        inference_edge_s=float(row[f"inf_s_{col}"]),
        inference_device_s=float(row["inf_s_device"]),
        prune_s=_published(pf, "E-FT,E-Inf", "pruning_s"),
        encrypt_s=_published(pf, "E-FT,E-Inf", "encryption_s"),
        finetune_edge_s=float(row[f"ft_min_{col}"]) * 60.0,
        finetune_device_s=float(row["ft_min_device"]) * 60.0, **common)
    return {"E-Inf full": full, "D-Inf full": full, "E-FT,E-Inf": pruned, "E-FT,D-Inf": pruned,
            "D-FT,D-Inf": pruned}


def study_scenarios(link: radio.RadioLink | None = None, **kw) -> dict[str, dict]:
    return {s: study_scenario(s, link, **kw) for s in SCENARIOS}


def table2_comparison(rebuilt: pd.DataFrame) -> pd.DataFrame:
    """Published Table II totals against the sum of their published parts and the
    rebuilt totals, per row: differences in s and relative to the published total."""
    pub = study_table2()
    part_cols = [c for c in pub.columns if c.endswith("_s") and c not in
                 ("total_q1_s", "per_request_q_gt_1_s")]
    rows = []
    for r in pub.itertuples(index=False):
        scen = r.scenario.split("-", 1)[1]
        pipe = PUBLISHED_PIPELINES.get(r.pipeline, r.pipeline)
        mine = rebuilt[(rebuilt.scenario == scen) & (rebuilt.pipeline == pipe)].iloc[0]
        parts = math.fsum(v for v in (getattr(r, c) for c in part_cols) if not math.isnan(v))
        rows.append({"published_scenario": r.scenario, "scenario": scen, "pipeline": pipe,
                     "published_total_s": r.total_q1_s, "published_parts_sum_s": parts,
                     "parts_minus_published_s": parts - r.total_q1_s,
                     "rebuilt_total_s": float(mine.total_q1_s),
                     "rebuilt_minus_published_s": float(mine.total_q1_s) - r.total_q1_s,
                     "rebuilt_rel_diff": float(mine.total_q1_s) / r.total_q1_s - 1,
                     "published_per_request_s": r.per_request_q_gt_1_s,
                     "rebuilt_per_request_s": float(mine.per_request_s)})
    return pd.DataFrame(rows)


def paper_report(q=None, link: radio.RadioLink | None = None, *, published_swap: bool = False,
                 radio_preset: str = "paper") -> dict:
    """Everything paper mode produces, as DataFrames / dicts: radio, transfer_errors,
    table1, table2, table2_comparison, crossovers, best_ranges and (with q) points."""
    link = link or radio.get_link(radio_preset)
    scen = study_scenarios(link)
    t2 = table2(scen)
    out = {
        "radio": {"preset": radio_preset, **dataclasses.asdict(link),
                  "uplink_bps": float(radio.uplink_rate(link)),
                  "downlink_bps": float(radio.downlink_rate(link))},
        "transfer_errors": pd.DataFrame(radio.paper_transfer_errors(link)),
        "table1": study_table1(),
        "table2": t2,
        "table2_comparison": table2_comparison(t2),
        "crossovers": crossovers(scen, published_swap=published_swap),
        "best_ranges": best_ranges_table(scen, published_swap=published_swap),
    }
    if q is not None:
        out["points"] = curve_points(scen, q, published_swap=published_swap)
    return out
