"""From measured results to the cost model's inputs: pipeline inputs per scenario, Table I.

Reads a :class:`reports.model.ResultSet` (never a file): the edge times of a scenario
come from its edge profile (``idle``: edge-idle, ``loaded``: edge-loaded), the device
times from ``device``. Every result is taken with :meth:`ResultSet.one`, which refuses
two matches: the encryption time is the hybrid scheme's unless asked otherwise.
"""
from __future__ import annotations

import dataclasses
import math

import pandas as pd

from costmodel.pipelines import STUDY_RESULT_BYTES, STUDY_SAMPLE_BYTES, DevicePowers, PipelineInputs

from harness.contract import COLD_FIELDS, HYBRID_SCHEME, INFERENCE_ASSUMPTIONS, PRUNING_METHODS, SCENARIO_PROFILES
from .model import ResultsError, ResultSet

SIZE_SOURCES = ("study", "results")
PROFILE_ORDER = ("device", "edge-idle", "edge-loaded")
#: Table I as the study printed it, the method beside the pruning factor: the full model's row
#: (method empty), top-1 as pruned / after BatchNorm re-estimation / after fine-tuning [%],
#: fine-tuning [min] and warm batch-1 inference [s] per profile.
TABLE1_COLUMNS = ("pruning_factor_pct", "pruning_method", "top1_no_ft_pct", "top1_bn_pct", "top1_ft_pct",
                  "ft_min_edge_idle", "ft_min_edge_loaded", "ft_min_device", "inf_s_edge_idle",
                  "inf_s_edge_loaded", "inf_s_device")
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


def inference_s(m, inference: str = "warm", statistic: str = "mean") -> float:
    """The per-request inference time [s] of inference record ``m`` under an assumption
    (:data:`INFERENCE_ASSUMPTIONS`); ResultsError naming the benchmark and the field when a
    cold start's field is missing or not a number."""
    if inference not in INFERENCE_ASSUMPTIONS:
        raise ValueError(f"inference must be one of {INFERENCE_ASSUMPTIONS}, got {inference!r}")
    if inference == "warm":
        return m.time(statistic)
    total = 0.0
    for f in COLD_FIELDS:
        v = m.extra_info.get(f)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            got = "missing" if v is None else f"{v!r}, not a time [s] >= 0"
            raise ResultsError(f"{m.source}: benchmark {m.name!r} ({m.profile}): extra_info field {f!r} {got} "
                               f"(the cold assumption is {' + '.join(COLD_FIELDS)}; rerun the inference "
                               "benchmarks with this suite, or use inference='warm')")
        total += float(v)
    return total


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
                          uplink_bps: float, downlink_bps: float, pruning_method: str = "magnitude",
                          runtime: str = "litert", model_download: ModelDownload = ModelDownload(),
                          sizes: str = "study", statistic: str = "mean",
                          powers: DevicePowers = DevicePowers(),
                          scheme: str = HYBRID_SCHEME, inference: str = "warm") -> dict[str, PipelineInputs]:
    """{pipeline: PipelineInputs} for a scenario ('idle' or 'loaded'): the edge times come
    from the edge-idle / edge-loaded profile, device times from 'device'; baselines use
    the full model (pf 0), the pruned pipelines pruning_factor with pruning_method; the
    dataset is encrypted with ``scheme`` (default: the hybrid RSA-OAEP + AES-256-GCM);
    each request's inference time is warm or cold (:func:`inference_s`)."""
    if inference not in INFERENCE_ASSUMPTIONS:
        raise ValueError(f"inference must be one of {INFERENCE_ASSUMPTIONS}, got {inference!r}")
    if scenario not in SCENARIO_PROFILES:
        raise ValueError(f"scenario must be one of {tuple(SCENARIO_PROFILES)}, got {scenario!r}")
    edge = SCENARIO_PROFILES[scenario]
    pf, meth = pruning_factor, pruning_method

    def t(op, profile, p=None, **kw):
        return rs.one(op, profile, p, **kw).time(statistic)

    def inf(profile, p, **kw):
        return inference_s(rs.one("inference", profile, p, **kw), inference, statistic)

    sample, result = _sizes(rs, sizes, 0.0, runtime)
    enc = rs.one("encryption", "device", scheme=scheme)
    dec = rs.one("decryption", edge, scheme=scheme) if rs.select("decryption", edge, scheme=scheme) else None
    common = dict(uplink_bps=uplink_bps, downlink_bps=downlink_bps, sample_bytes=sample,
                  result_bytes=result, powers=powers,
                  dataset_bytes=float(enc.extra_info["ciphertext_bytes"]))
    full = PipelineInputs(
        model_bytes=model_download.size(rs, 0.0, model_download.inference_format),
        inference_edge_s=inf(edge, 0.0, runtime=runtime),
        inference_device_s=inf("device", 0.0, runtime=runtime), **common)
    pruned = PipelineInputs(
        model_bytes=model_download.size(rs, pf, model_download.inference_format, meth),
        inference_edge_s=inf(edge, pf, runtime=runtime, pruning_method=meth),
        inference_device_s=inf("device", pf, runtime=runtime, pruning_method=meth),
        prune_s=t("prune", edge, pf, pruning_method=meth),
        encrypt_s=enc.time(statistic),
        decrypt_s=dec.time(statistic) if dec is not None else 0.0,
        finetune_edge_s=t("finetune", edge, pf, pruning_method=meth),
        finetune_device_s=t("finetune", "device", pf, pruning_method=meth), **common)
    ft_model = model_download.size(rs, pf, model_download.finetune_format, meth)
    return {"E-Inf full": full, "D-Inf full": full, "E-FT,E-Inf": pruned, "E-FT,D-Inf": pruned,
            "D-FT,D-Inf": pruned.replace(model_bytes=ft_model)}


def _accuracy(rs: ResultSet, pf: float, method: str | None) -> dict:
    """Top-1 [fraction] of (pf, method): as pruned and after BatchNorm re-estimation from the
    ``bn_recalibration`` record, else the fine-tuning's; after fine-tuning from ``finetune``.
    The device's record where it ran, else an edge's (accuracy does not depend on the profile)."""
    def first(op):
        found = sorted(rs.select(op, None, pf, pruning_method=method), key=lambda m: PROFILE_ORDER.index(m.profile))
        return found[0].extra_info if found else {}

    bn, ft = first("bn_recalibration"), first("finetune")

    def pick(key, *records):
        v = next((r.get(key) for r in records if r.get(key) is not None), None)
        return math.nan if v is None else 100 * float(v)

    return {"top1_no_ft_pct": pick("top1_before_ft", bn, ft), "top1_bn_pct": pick("top1_after_bn", bn, ft),
            "top1_ft_pct": pick("top1_after_ft", ft)}


def full_model_top1(rs: ResultSet) -> float:
    """The full model's top-1 [fraction]: ``top1_full`` of any record, else ``top1_before_ft``
    of a pf 0 record; NaN where no record holds it."""
    for m in rs.measurements:
        if m.field("top1_full") is not None:
            return float(m.field("top1_full"))
    for m in rs.measurements:
        if m.pruning_factor == 0.0 and m.field("top1_before_ft") is not None:
            return float(m.field("top1_before_ft"))
    return math.nan


def table1(rs: ResultSet, *, pruning_method: str = "magnitude", runtime: str = "litert",
           statistic: str = "mean") -> pd.DataFrame:
    """Table I from results, as the study printed it: the full model's row first (its top-1,
    its fine-tuning where one ran, its inference), then per pruning factor one row per method,
    ``pruning_method`` first and the other beside it; top-1 [%] as pruned / after BatchNorm
    re-estimation / after fine-tuning, fine-tuning [min] and warm batch-1 inference [s] per
    profile (NaN where the result is missing)."""
    methods = [pruning_method] + [m for m in PRUNING_METHODS if m != pruning_method]
    pfs = sorted(set(rs.pruning_factors("finetune")) | set(rs.pruning_factors("inference"))
                 | set(rs.pruning_factors("bn_recalibration")) | {0.0})
    rows = []
    for pf in pfs:
        for meth in ([None] if pf == 0 else methods):
            if pf and not any(rs.select(op, None, pf, pruning_method=meth)
                              for op in ("finetune", "inference", "bn_recalibration")):
                continue
            row = {"pruning_factor_pct": round(100 * pf, 6), "pruning_method": meth or ""}
            if pf == 0:
                full = 100 * full_model_top1(rs)
                row.update({"top1_no_ft_pct": full, "top1_bn_pct": math.nan, "top1_ft_pct": math.nan})
            else:
                row.update(_accuracy(rs, pf, meth))
            for key, prof in TABLE1_PROFILES.items():
                f = rs.select("finetune", prof, pf, pruning_method=meth)
                row[f"ft_min_{key}"] = rs.one("finetune", prof, pf, pruning_method=meth).time(statistic) \
                    / SECONDS_PER_MINUTE if f else math.nan
                i = rs.select("inference", prof, pf, pruning_method=meth, runtime=runtime)
                row[f"inf_s_{key}"] = rs.one("inference", prof, pf, pruning_method=meth, runtime=runtime).time(
                    statistic) if i else math.nan
            rows.append(row)
    return pd.DataFrame(rows, columns=list(TABLE1_COLUMNS))


def inference_comparison(rs: ResultSet, *, pruning_factor: float = 0.7, pruning_method: str = "magnitude",
                         runtime: str = "litert", statistic: str = "mean") -> pd.DataFrame:
    """The study's per-request inference inputs (Table II full model, Table I pf 70 %) beside
    ours, warm and cold, per profile; ``study_over_warm`` / ``study_over_cold``: the ratios
    (NaN where a result or a cold-start field is missing)."""
    from costmodel.paper import study_scenarios

    study = study_scenarios()
    study_s = {(0.0, "edge-idle"): study["idle"]["E-Inf full"].inference_edge_s,
               (0.0, "edge-loaded"): study["loaded"]["E-Inf full"].inference_edge_s,
               (0.0, "device"): study["idle"]["D-Inf full"].inference_device_s,
               (0.7, "edge-idle"): study["idle"]["E-FT,E-Inf"].inference_edge_s,
               (0.7, "edge-loaded"): study["loaded"]["E-FT,E-Inf"].inference_edge_s,
               (0.7, "device"): study["idle"]["E-FT,D-Inf"].inference_device_s}
    rows = []
    for (study_pf, prof), s in study_s.items():
        pf = pruning_factor if study_pf else 0.0
        meth = pruning_method if pf else None
        row = {"model": "full" if not pf else f"pf {100 * pf:g} % {meth}", "profile": prof, "study_s": s}
        found = rs.select("inference", prof, pf, pruning_method=meth, runtime=runtime)
        for a in INFERENCE_ASSUMPTIONS:
            v = math.nan
            if found:
                m = rs.one("inference", prof, pf, pruning_method=meth, runtime=runtime)
                if a == "warm" or all(isinstance(m.field(f), (int, float)) for f in COLD_FIELDS):
                    v = inference_s(m, a, statistic)
            row[f"{a}_s"] = v
        for a in INFERENCE_ASSUMPTIONS:
            row[f"study_over_{a}"] = s / row[f"{a}_s"] if row[f"{a}_s"] > 0 else math.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=["model", "profile", "study_s", "warm_s", "cold_s", "study_over_warm",
                                       "study_over_cold"])


def closer_assumption(comparison: pd.DataFrame) -> tuple[str | None, dict[str, float]]:
    """(the assumption whose per-request times the study's resemble, {assumption: geometric mean
    of study/ours}): the one whose geometric-mean ratio is nearer 1 on a log scale; None
    where neither has a figure."""
    means = {}
    for a in INFERENCE_ASSUMPTIONS:
        r = comparison[f"study_over_{a}"].dropna()
        r = r[r > 0]
        means[a] = float(math.exp(sum(math.log(v) for v in r) / len(r))) if len(r) else math.nan
    known = {a: abs(math.log(v)) for a, v in means.items() if not math.isnan(v)}
    return (min(known, key=known.get) if known else None), means
