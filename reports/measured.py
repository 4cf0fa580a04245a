"""From measured results to the cost model's inputs: pipeline inputs per scenario, Table I.

Reads a :class:`reports.store.ResultSet` (never a file): the edge times of a scenario
come from its edge profile (``idle``: edge-idle, ``loaded``: edge-loaded), the device
times from ``device``. Every result is taken with :meth:`ResultSet.one`, which refuses
two matches: the encryption time is the hybrid scheme's unless asked otherwise.
"""
from __future__ import annotations

import dataclasses
import math

import pandas as pd

from costmodel.pipelines import STUDY_RESULT_BYTES, STUDY_SAMPLE_BYTES, DevicePowers, PipelineInputs

from .contract import HYBRID_SCHEME, SCENARIO_PROFILES
from .store import ResultsError, ResultSet

SIZE_SOURCES = ("study", "results")
PROFILE_ORDER = ("device", "edge-idle", "edge-loaded")
TABLE1_COLUMNS = ("pruning_factor_pct", "top1_no_ft_pct", "top1_ft_pct", "ft_min_edge_idle",
                  "ft_min_edge_loaded", "ft_min_device", "inf_s_edge_idle", "inf_s_edge_loaded",
                  "inf_s_device")
TABLE1_PROFILES = {"edge_idle": "edge-idle", "edge_loaded": "edge-loaded", "device": "device"}
SECONDS_PER_MINUTE = 60.0


@dataclasses.dataclass(frozen=True)
class ModelDownload:
    """Which serialized size is "the model download" (overridable).

    Default: a model the device only runs (D-Inf full, E-FT,D-Inf) is sent as
    ``tflite``; a model the device fine-tunes (D-FT,D-Inf) as ``keras``; gzip-compressed
    (``model_bytes_gzip``) since zeroed weights only shrink the compressed file.
    """

    inference_format: str = "tflite"
    finetune_format: str = "keras"
    compressed: bool = True

    def size(self, rs: ResultSet, pruning_factor: float, fmt: str, pruning_method=None) -> float:
        """The size [byte] of the model the device downloads, from the first profile (device,
        edge-idle, edge-loaded) that serialized it: a file's size does not depend on the profile."""
        method = pruning_method if pruning_factor else None
        profile = next((p for p in PROFILE_ORDER if rs.select("serialization", p, pruning_factor, model_format=fmt,
                                                              pruning_method=method)), None)
        m = rs.one("serialization", profile, pruning_factor, model_format=fmt, pruning_method=method)
        key = "model_bytes_gzip" if self.compressed else "model_bytes"
        return float(m.extra_info[key])


def _sizes(rs: ResultSet, sizes: str, pf: float, runtime: str) -> tuple[float, float]:
    if sizes not in SIZE_SOURCES:
        raise ValueError(f"sizes must be one of {SIZE_SOURCES}, got {sizes!r}")
    if sizes == "study":
        return STUDY_SAMPLE_BYTES, STUDY_RESULT_BYTES
    found = [m for m in rs.select("inference", None, pf, runtime=runtime)
             if m.field("sample_bytes") is not None and m.field("result_bytes") is not None]
    m = found[0] if found else rs.one("inference", "device", pf, runtime=runtime)
    for f in ("sample_bytes", "result_bytes"):
        if m.extra_info.get(f) is None:
            raise ResultsError(f"{m.source}: benchmark {m.name!r}: extra_info field {f!r} missing "
                               f"(needed by sizes='results'; use sizes='study' for 300 kB / 2 kB)")
    return float(m.extra_info["sample_bytes"]), float(m.extra_info["result_bytes"])


def scenario_from_results(rs: ResultSet, scenario: str = "idle", pruning_factor: float = 0.7, *,
                          uplink_bps: float, downlink_bps: float, pruning_method: str = "filter",
                          runtime: str = "litert", model_download: ModelDownload = ModelDownload(),
                          sizes: str = "study", statistic: str = "mean",
                          powers: DevicePowers = DevicePowers(),
                          scheme: str = HYBRID_SCHEME) -> dict[str, PipelineInputs]:
    """{pipeline: PipelineInputs} for a scenario ('idle' or 'loaded'): the edge times come
    from the edge-idle / edge-loaded profile, device times from 'device'; baselines use
    the full model (pf 0), the pruned pipelines pruning_factor with pruning_method; the
    dataset is encrypted with ``scheme`` (default: the hybrid RSA-OAEP + AES-256-GCM)."""
    if scenario not in SCENARIO_PROFILES:
        raise ValueError(f"scenario must be one of {tuple(SCENARIO_PROFILES)}, got {scenario!r}")
    edge = SCENARIO_PROFILES[scenario]
    pf, meth = pruning_factor, pruning_method

    def t(op, profile, p=None, **kw):
        return rs.one(op, profile, p, **kw).time(statistic)

    sample, result = _sizes(rs, sizes, 0.0, runtime)
    enc = rs.one("encryption", "device", scheme=scheme)
    dec = rs.one("decryption", edge, scheme=scheme) if rs.select("decryption", edge, scheme=scheme) else None
    common = dict(uplink_bps=uplink_bps, downlink_bps=downlink_bps, sample_bytes=sample,
                  result_bytes=result, powers=powers,
                  dataset_bytes=float(enc.extra_info["ciphertext_bytes"]))
    full = PipelineInputs(
        model_bytes=model_download.size(rs, 0.0, model_download.inference_format),
        inference_edge_s=t("inference", edge, 0.0, runtime=runtime),
        inference_device_s=t("inference", "device", 0.0, runtime=runtime), **common)
    pruned = PipelineInputs(
        model_bytes=model_download.size(rs, pf, model_download.inference_format, meth),
        inference_edge_s=t("inference", edge, pf, runtime=runtime, pruning_method=meth),
        inference_device_s=t("inference", "device", pf, runtime=runtime, pruning_method=meth),
        prune_s=t("prune", edge, pf, pruning_method=meth),
        encrypt_s=enc.time(statistic),
        decrypt_s=dec.time(statistic) if dec is not None else 0.0,
        finetune_edge_s=t("finetune", edge, pf, pruning_method=meth),
        finetune_device_s=t("finetune", "device", pf, pruning_method=meth), **common)
    ft_model = model_download.size(rs, pf, model_download.finetune_format, meth)
    return {"E-Inf full": full, "D-Inf full": full, "E-FT,E-Inf": pruned, "E-FT,D-Inf": pruned,
            "D-FT,D-Inf": pruned.replace(model_bytes=ft_model)}


def table1(rs: ResultSet, *, pruning_method: str = "filter", runtime: str = "litert",
           statistic: str = "mean") -> pd.DataFrame:
    """Table I from results: per pruning factor, top-1 [%] without / with fine-tuning,
    fine-tuning time [min] and batch-1 inference time [s] per profile (NaN where the
    result is missing). Top-1 is the device's fine-tuning where it ran, else an edge's."""
    rows = []
    pfs = sorted(set(rs.pruning_factors("finetune")) | set(rs.pruning_factors("inference")))
    for pf in pfs:
        meth = pruning_method if pf else None
        row = {"pruning_factor_pct": round(100 * pf, 6)}
        ft = sorted(rs.select("finetune", None, pf, pruning_method=meth), key=lambda m: PROFILE_ORDER.index(m.profile))
        row["top1_no_ft_pct"] = 100 * float(ft[0].extra_info["top1_before_ft"]) if ft else math.nan
        row["top1_ft_pct"] = 100 * float(ft[0].extra_info["top1_after_ft"]) if ft else math.nan
        for key, prof in TABLE1_PROFILES.items():
            f = rs.select("finetune", prof, pf, pruning_method=meth)
            row[f"ft_min_{key}"] = rs.one("finetune", prof, pf, pruning_method=meth).time(statistic) \
                / SECONDS_PER_MINUTE if f else math.nan
            i = rs.select("inference", prof, pf, pruning_method=meth, runtime=runtime)
            row[f"inf_s_{key}"] = rs.one("inference", prof, pf, pruning_method=meth, runtime=runtime).time(
                statistic) if i else math.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=list(TABLE1_COLUMNS))
