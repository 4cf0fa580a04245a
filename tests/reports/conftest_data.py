"""Noisy runs, slowed-down copies and history folders for the compare / history / gate tests.

Built on :mod:`tests.reports.benchjson` (the shared hand-made pytest-benchmark 5.3
documents); this module only adds what those lack: raw round data drawn with a
fixed seed, a run's operation scaled by a factor, and pytest-benchmark storage
entries ``<storage>/<machine-id>/NNNN_<commit>_<datetime>.json``.
"""
from __future__ import annotations

import copy
import statistics
from pathlib import Path

import numpy as np

from . import benchjson as B

MACHINE_ID = B.MACHINE_ID
GATE_OPERATIONS = ("inference", "serialization")


def stats_from_data(data) -> dict:
    """pytest-benchmark's ``stats`` block computed from raw round times [s]."""
    arr = np.asarray(data, dtype=float)
    q1, q3 = (float(v) for v in np.percentile(arr, [25, 75]))
    mean = float(arr.mean())
    return {"min": float(arr.min()), "max": float(arr.max()), "mean": mean,
            "stddev": float(arr.std(ddof=1)) if arr.size > 1 else 0.0, "rounds": int(arr.size),
            "median": float(statistics.median(arr.tolist())), "iqr": q3 - q1, "q1": q1, "q3": q3,
            "iqr_outliers": 0, "stddev_outliers": 0, "outliers": "0;0", "ld15iqr": float(arr.min()),
            "hd15iqr": float(arr.max()), "ops": 1.0 / mean, "total": float(arr.sum()),
            "data": [float(v) for v in arr], "iterations": 1}


def honest_run(seed: int, *, profile: str = "edge-idle", rounds: int = 30, cv: float = 0.025,
               slowdown: dict | None = None, preset: str = "tiny", commit: str = "0123abcd",
               between_sd: float = 0.0, shift: float = 1.0) -> dict:
    """The gate's float cases (inference, serialization) of ``profile`` with ``rounds`` raw round
    times drawn around each case's mean with coefficient of variation ``cv`` (fixed seed);
    ``slowdown`` maps an operation to a factor applied to its times. A session's own
    level: every case's mean times ``shift`` and ``exp(between_sd * N(0, 1))``, drawn per
    case (what moves between two honest sessions on one host)."""
    rng = np.random.default_rng(seed)
    doc = B.profile_doc(profile, quantized=False)  # the gate's float cases, as its thresholds were set on
    doc["commit_info"]["id"] = commit
    doc["benchmarks"] = [b for b in doc["benchmarks"] if b["extra_info"]["operation"] in GATE_OPERATIONS]
    for b in doc["benchmarks"]:
        b["extra_info"]["preset"] = preset
        factor = (slowdown or {}).get(b["extra_info"]["operation"], 1.0)
        mean = b["stats"]["mean"] * factor * shift * float(np.exp(between_sd * rng.standard_normal()))
        # a wide spread (cv 0.6) would draw negative times, which the store refuses: mirror them
        b["stats"] = stats_from_data(mean * np.abs(1.0 + cv * rng.standard_normal(rounds)))
    return doc


def scaled(doc: dict, operation: str, factor: float) -> dict:
    """A copy of ``doc`` with every round of ``operation`` multiplied by ``factor``."""
    out = copy.deepcopy(doc)
    for b in out["benchmarks"]:
        if b["extra_info"]["operation"] == operation:
            b["stats"] = stats_from_data([v * factor for v in b["stats"]["data"]])
    return out


def with_rounds(doc: dict, rounds: int) -> dict:
    """A copy of ``doc`` keeping only the first ``rounds`` rounds of every benchmark."""
    out = copy.deepcopy(doc)
    for b in out["benchmarks"]:
        b["stats"] = stats_from_data(b["stats"]["data"][:rounds])
    return out


def save_history(storage: Path, docs: list[dict], machine_id: str = MACHINE_ID) -> list[Path]:
    """Write ``docs`` as storage entries ``NNNN_<commit>_<YYYYmmdd_HHMMSS>.json``, 0001 first."""
    paths = []
    for i, doc in enumerate(docs, start=1):
        name = f"{i:04d}_{doc['commit_info']['id']}_20261127_08{i:02d}00.json"
        paths.append(B.write(storage / machine_id / name, doc))
    return paths
