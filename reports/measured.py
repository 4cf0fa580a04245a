"""From measured results to the cost model's inputs: pipeline inputs per scenario, Table I.

Reads a :class:`reports.model.ResultSet` (never a file): the edge times of a scenario
come from its edge profile (``idle``: edge-idle, ``loaded``: edge-loaded), the device
times from ``device``. Every result is taken with :meth:`ResultSet.one`, which refuses
two matches: the encryption time is the hybrid scheme's unless asked otherwise.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Mapping

import pandas as pd

from costmodel.pipelines import STUDY_RESULT_BYTES, STUDY_SAMPLE_BYTES, DevicePowers, PipelineInputs

from harness.contract import (COLD_FIELDS, HYBRID_SCHEME, INFERENCE_ASSUMPTIONS, PRUNING_METHODS, QUANTIZATIONS,
                              SCENARIO_PROFILES)
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


def model_id(pruning_factor: float, pruning_method: str | None = None, quantization: str = "none") -> str:
    """A model variant as the case ids name it: ``full``, ``pf=70-magnitude``, ``pf=70-filter-int8``."""
    head = "full" if not pruning_factor else f"pf={round(pruning_factor * 100):d}-{pruning_method}"
    return head if quantization == "none" else f"{head}-{quantization}"


def full_quantization(quantization: str) -> str:
    """The full model's variant under ``quantization``: quantization-aware training is a fine-tuning,
    and the full model is not fine-tuned, so its post-training int8 stands in for int8-qat."""
    return "int8" if quantization == "int8-qat" else quantization


def check_quantization(quantization: str) -> None:
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"--quantization must be one of {QUANTIZATIONS}, got {quantization!r}")


def required_cases(scenario: str, pruning_factor: float, pruning_method: str, quantization: str) -> list[tuple]:
    """(operation, profile, pf, method, quantization) of every record a quantized scenario reads: the
    variants' inference on the device and the edge, their conversion (``quantize``) at the edge and,
    for int8-qat, the quantization-aware fine-tuning at the edge."""
    edge = SCENARIO_PROFILES[scenario]
    qf = full_quantization(quantization)
    out = [("inference", p, 0.0, None, qf) for p in ("device", edge)]
    out += [("inference", p, pruning_factor, pruning_method, quantization) for p in ("device", edge)]
    out.append(("quantize", edge, 0.0, None, qf))
    if quantization == "int8-qat":
        out.append(("finetune", edge, pruning_factor, pruning_method, quantization))
    else:
        out.append(("quantize", edge, pruning_factor, pruning_method, quantization))
    return out


def check_quantized_cases(rs: ResultSet, scenario: str, pruning_factor: float, pruning_method: str,
                          quantization: str, runtime: str = "litert") -> None:
    """ResultsError naming every case a ``quantization`` scenario needs and the results lack
    (``test_inference[pf=70-magnitude-int8] on device``), with the remedy."""
    missing = []
    for op, profile, pf, method, q in required_cases(scenario, pruning_factor, pruning_method, quantization):
        kw = {"runtime": runtime} if op == "inference" else {}
        if not rs.select(op, profile, pf, quantization=q, pruning_method=method if pf else None, **kw):
            missing.append(f"test_{op}[{model_id(pf, method, q)}] on {profile}")
    if missing:
        held = sorted({m.quantization for m in rs.measurements} - {"none"})
        raise ResultsError(
            f"--quantization {quantization}: the results lack {len(missing)} case(s) the {scenario}-edge scenario "
            f"needs: {', '.join(missing)} (quantized records held: {', '.join(held) or 'none'}); run the "
            "quantized cases of the grid on those profiles, or choose another --quantization")


def quantized_model_bytes(rs: ResultSet, pruning_factor: float, pruning_method: str | None, quantization: str,
                          compressed: bool = True) -> float:
    """The size [byte] of a quantized .tflite: ``model_bytes_gzip`` (``compressed``) or ``model_bytes`` of
    the variant's first inference record (device, edge-idle, edge-loaded), else of its quantize record."""
    method = pruning_method if pruning_factor else None
    key = "model_bytes_gzip" if compressed else "model_bytes"
    for op in ("inference", "quantize", "finetune"):
        found = sorted((m for m in rs.select(op, None, pruning_factor, quantization=quantization,
                                              pruning_method=method) if m.field(key) is not None),
                       key=lambda m: PROFILE_ORDER.index(m.profile) if m.profile in PROFILE_ORDER else 9)
        if found:
            return float(found[0].extra_info[key])
    raise ResultsError(f"no record of {model_id(pruning_factor, method, quantization)} holds extra_info {key!r} "
                       "(the quantized model's size: its inference or quantize record)")


def quantize_s(rs: ResultSet, edge: str, pruning_factor: float, pruning_method: str | None, quantization: str,
               statistic: str = "mean") -> float:
    """The edge's conversion of the model to ``quantization`` [s] (its ``quantize`` record); 0 for a float
    model. int8-qat: its own quantize record where one exists, else the int8 one of the same model (which
    also calibrates on the representative set: an upper bound)."""
    if quantization == "none":
        return 0.0
    method = pruning_method if pruning_factor else None
    for q in ((quantization, "int8") if quantization == "int8-qat" else (quantization,)):
        if rs.select("quantize", edge, pruning_factor, quantization=q, pruning_method=method):
            return rs.one("quantize", edge, pruning_factor, quantization=q, pruning_method=method).time(statistic)
    return rs.one("quantize", edge, pruning_factor, quantization=quantization, pruning_method=method).time(statistic)


@dataclasses.dataclass(frozen=True)
class MeasuredInputs:
    """Reads one scenario's pipeline inputs from results: the edge times from its edge profile, the
    device's from ``device``, the encryption and the link shared by every model variant."""

    rs: ResultSet
    scenario: str
    common: Mapping
    encrypt_s: float
    decrypt_s: float
    runtime: str = "litert"
    model_download: ModelDownload = ModelDownload()
    statistic: str = "mean"
    inference: str = "warm"

    @property
    def edge(self) -> str:
        return SCENARIO_PROFILES[self.scenario]

    def _time(self, op, profile, pf=None, **kw) -> float:
        return self.rs.one(op, profile, pf, **kw).time(self.statistic)

    def _inference(self, profile, pf, **kw) -> float:
        return inference_s(self.rs.one("inference", profile, pf, runtime=self.runtime, **kw), self.inference,
                           self.statistic)

    def _size(self, pf, method, quantization) -> float:
        if quantization == "none":
            return self.model_download.size(self.rs, pf, self.model_download.inference_format, method)
        return quantized_model_bytes(self.rs, pf, method, quantization, self.model_download.compressed)

    def full(self, quantization: str = "none") -> PipelineInputs:
        """The baselines' inputs: the full model, in its variant under ``quantization``."""
        q = full_quantization(quantization)
        return PipelineInputs(model_bytes=self._size(0.0, None, q),
                              inference_edge_s=self._inference(self.edge, 0.0, quantization=q),
                              inference_device_s=self._inference("device", 0.0, quantization=q),
                              quantize_s=quantize_s(self.rs, self.edge, 0.0, None, q, self.statistic), **self.common)

    def pruned(self, pf: float, method: str, quantization: str = "none") -> PipelineInputs:
        """The E-FT pipelines' inputs: pruned at the edge, fine-tuned there (quantization-aware for
        int8-qat), converted there to ``quantization`` and run quantized; D-FT's float fine-tuning on
        the device is read beside it."""
        return PipelineInputs(
            model_bytes=self._size(pf, method, quantization),
            inference_edge_s=self._inference(self.edge, pf, pruning_method=method, quantization=quantization),
            inference_device_s=self._inference("device", pf, pruning_method=method, quantization=quantization),
            prune_s=self._time("prune", self.edge, pf, pruning_method=method),
            encrypt_s=self.encrypt_s, decrypt_s=self.decrypt_s,
            finetune_edge_s=self._time("finetune", self.edge, pf, pruning_method=method,
                                       quantization="int8-qat" if quantization == "int8-qat" else "none"),
            finetune_device_s=self._time("finetune", "device", pf, pruning_method=method),
            quantize_s=quantize_s(self.rs, self.edge, pf, method, quantization, self.statistic), **self.common)

    def finetuned_on_device(self, pf: float, method: str) -> PipelineInputs:
        """D-FT,D-Inf's inputs: the float pruned model, downloaded in the fine-tuning format; the device
        fine-tunes it and would convert it itself, which no case times: it stays float."""
        return self.pruned(pf, method).replace(
            model_bytes=self.model_download.size(self.rs, pf, self.model_download.finetune_format, method))


def measured_inputs(rs: ResultSet, scenario: str = "idle", *, uplink_bps: float, downlink_bps: float,
                    runtime: str = "litert", model_download: ModelDownload = ModelDownload(), sizes: str = "study",
                    statistic: str = "mean", powers: DevicePowers = DevicePowers(), scheme: str = HYBRID_SCHEME,
                    inference: str = "warm") -> MeasuredInputs:
    """The reader of a scenario's inputs (:class:`MeasuredInputs`); ValueError naming a bad choice."""
    if inference not in INFERENCE_ASSUMPTIONS:
        raise ValueError(f"inference must be one of {INFERENCE_ASSUMPTIONS}, got {inference!r}")
    if scenario not in SCENARIO_PROFILES:
        raise ValueError(f"scenario must be one of {tuple(SCENARIO_PROFILES)}, got {scenario!r}")
    edge = SCENARIO_PROFILES[scenario]
    sample, result = _sizes(rs, sizes, 0.0, runtime)
    enc = rs.one("encryption", "device", scheme=scheme)
    dec = rs.one("decryption", edge, scheme=scheme) if rs.select("decryption", edge, scheme=scheme) else None
    common = dict(uplink_bps=uplink_bps, downlink_bps=downlink_bps, sample_bytes=sample,
                  result_bytes=result, powers=powers,
                  dataset_bytes=float(enc.extra_info["ciphertext_bytes"]))
    return MeasuredInputs(rs, scenario, common, enc.time(statistic), dec.time(statistic) if dec is not None else 0.0,
                          runtime, model_download, statistic, inference)


def check_quantized_choice(quantization: str, runtime: str, model_download: ModelDownload) -> None:
    """ValueError naming the option: a quantized model is a .tflite that LiteRT runs."""
    check_quantization(quantization)
    if quantization == "none":
        return
    if runtime != "litert":
        raise ValueError(f"--quantization {quantization}: a quantized model is a .tflite that LiteRT runs; "
                         f"--runtime {runtime} goes with --quantization none")
    if model_download.inference_format != "tflite":
        raise ValueError(f"--quantization {quantization}: a quantized model is downloaded as its .tflite; "
                         f"--inference-model-format {model_download.inference_format} goes with --quantization none")


def scenario_from_results(rs: ResultSet, scenario: str = "idle", pruning_factor: float = 0.7, *,
                          uplink_bps: float, downlink_bps: float, pruning_method: str = "magnitude",
                          runtime: str = "litert", model_download: ModelDownload = ModelDownload(),
                          sizes: str = "study", statistic: str = "mean",
                          powers: DevicePowers = DevicePowers(),
                          scheme: str = HYBRID_SCHEME, inference: str = "warm",
                          quantization: str = "none") -> dict[str, PipelineInputs]:
    """{pipeline: PipelineInputs} for a scenario ('idle' or 'loaded'): the edge times come
    from the edge-idle / edge-loaded profile, device times from 'device'; baselines use
    the full model (pf 0), the pruned pipelines pruning_factor with pruning_method; the
    dataset is encrypted with ``scheme`` (default: the hybrid RSA-OAEP + AES-256-GCM);
    each request's inference time is warm or cold (:func:`inference_s`). ``quantization``:
    the edge converts the model it serves or sends (the full model's int8 under int8-qat,
    :func:`full_quantization`) and its conversion time counts once; D-FT,D-Inf stays float
    (:meth:`MeasuredInputs.finetuned_on_device`). ResultsError naming the missing cases."""
    check_quantized_choice(quantization, runtime, model_download)
    x = measured_inputs(rs, scenario, uplink_bps=uplink_bps, downlink_bps=downlink_bps, runtime=runtime,
                        model_download=model_download, sizes=sizes, statistic=statistic, powers=powers,
                        scheme=scheme, inference=inference)
    if quantization != "none":
        check_quantized_cases(rs, scenario, pruning_factor, pruning_method, quantization, runtime)
    full, pruned = x.full(quantization), x.pruned(pruning_factor, pruning_method, quantization)
    return {"E-Inf full": full, "D-Inf full": full, "E-FT,E-Inf": pruned, "E-FT,D-Inf": pruned,
            "D-FT,D-Inf": x.finetuned_on_device(pruning_factor, pruning_method)}


def variant_top1(rs: ResultSet, pruning_factor: float, pruning_method: str | None, quantization: str = "none") -> float:
    """A model variant's test top-1 [fraction]: ``top1`` of its LiteRT inference or quantize record (any
    profile: accuracy does not depend on it); int8-qat: its fine-tuning's ``top1_after_ft``; a float
    model without such a record: the fine-tuned model's ``top1_after_ft`` (the full model's
    :func:`full_model_top1`). NaN where no record holds it."""
    method = pruning_method if pruning_factor else None
    for op in ("inference", "quantize"):
        for m in sorted(rs.select(op, None, pruning_factor, quantization=quantization, pruning_method=method),
                        key=lambda m: str(m.profile)):
            if m.field("top1") is not None:
                return float(m.field("top1"))
    if quantization == "int8-qat" or (quantization == "none" and pruning_factor):
        for m in rs.select("finetune", None, pruning_factor, quantization=quantization, pruning_method=method):
            if m.field("top1_after_ft") is not None:
                return float(m.field("top1_after_ft"))
    if quantization == "none" and not pruning_factor:
        return full_model_top1(rs)
    return math.nan


def measured_variants(rs: ResultSet, runtime: str = "litert") -> list[tuple[float, str | None, str]]:
    """(pf, method, quantization) of every model variant the results time inference of, in ``runtime``:
    the full model first, then by pruning factor, method and QUANTIZATIONS' order."""
    found = {(m.pruning_factor, m.pruning_method if m.pruning_factor else None, m.quantization)
             for m in rs.select("inference", None, None, quantization=None, runtime=runtime)}
    return sorted(found, key=lambda v: (v[0], v[1] or "", QUANTIZATIONS.index(v[2])))


def measured_options(rs: ResultSet, scenario: str, *, uplink_bps: float, downlink_bps: float,
                     **choices) -> tuple[list, list[str]]:
    """Every pipeline on every measured model variant (:class:`costmodel.options.Option`) of a scenario,
    and one line per variant left out (a record it needs is missing). The full model's variants serve
    the baselines; each pruned variant the E-FT pipelines; D-FT,D-Inf each float pruned model.
    ``choices``: :func:`measured_inputs`'s runtime, model_download, sizes, statistic, inference."""
    from costmodel.options import Option

    x = measured_inputs(rs, scenario, uplink_bps=uplink_bps, downlink_bps=downlink_bps, **choices)
    options, left_out, unconverted = [], [], []
    for pf, method, q in measured_variants(rs, x.runtime):
        name = model_id(pf, method)
        if q != "none" and not any(rs.select("quantize", x.edge, pf, quantization=c, pruning_method=method if pf else None)
                                   for c in ((q, "int8") if q == "int8-qat" else (q,))):
            unconverted.append(model_id(pf, method, q))  # its edge conversion was not timed: no pipeline cost
            continue
        try:
            top1 = variant_top1(rs, pf, method, q)
            if not pf:
                if q == "int8-qat":
                    continue
                full = x.full(q)
                options += [Option(p, name, q, full, top1) for p in ("E-Inf full", "D-Inf full")]
                continue
            pruned = x.pruned(pf, method, q)
            options += [Option(p, name, q, pruned, top1) for p in ("E-FT,E-Inf", "E-FT,D-Inf")]
            if q == "none":
                options.append(Option("D-FT,D-Inf", name, q, x.finetuned_on_device(pf, method), top1))
        except ResultsError as exc:
            left_out.append(f"{model_id(pf, method, q)} left out of the {scenario}-edge ranking: "
                            f"{str(exc).split('; available')[0]}")
    if unconverted:  # one line for all: the quantize cases time a subset of the models
        left_out.append(f"{len(unconverted)} quantized variant(s) left out of the {scenario}-edge ranking, no timed "
                        f"conversion ('quantize' case) on {x.edge}: {', '.join(unconverted)}")
    return options, left_out


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


#: Table I's quantization columns, one row per measured model variant: the .tflite's gzip size [byte],
#: its top-1 [%] through LiteRT, warm batch-1 inference [s] per profile, the edge's conversion [s].
TABLE1_QUANTIZATION_COLUMNS = ("pruning_factor_pct", "pruning_method", "quantization", "model_bytes_gzip", "top1_pct",
                               "inf_s_edge_idle", "inf_s_edge_loaded", "inf_s_device", "quantize_s_edge_idle",
                               "quantize_s_edge_loaded")
QUANTIZE_PROFILES = {"edge_idle": "edge-idle", "edge_loaded": "edge-loaded"}


def _variant_size(rs: ResultSet, pf: float, method: str | None, quantization: str) -> float:
    try:
        if quantization == "none" and rs.select("serialization", None, pf, model_format="tflite",
                                                pruning_method=method if pf else None):
            return ModelDownload().size(rs, pf, "tflite", method)
        return quantized_model_bytes(rs, pf, method, quantization)
    except ResultsError:
        return math.nan


def table1_quantization(rs: ResultSet, *, runtime: str = "litert", statistic: str = "mean") -> pd.DataFrame:
    """Table I's quantization columns: every measured variant of each model (float first, then dynamic,
    int8, int8-qat) with its size, top-1 (:func:`variant_top1`), inference per profile and the edge's
    conversion (NaN where not measured); empty when the results hold no quantized record."""
    variants = measured_variants(rs, runtime)
    if all(q == "none" for _, _, q in variants):
        return pd.DataFrame(columns=list(TABLE1_QUANTIZATION_COLUMNS))
    rows = []
    for pf, method, q in variants:
        where = {"quantization": q, "pruning_method": method if pf else None}
        row = {"pruning_factor_pct": round(100 * pf, 6), "pruning_method": method or "", "quantization": q,
               "model_bytes_gzip": _variant_size(rs, pf, method, q), "top1_pct": 100 * variant_top1(rs, pf, method, q)}
        for key, prof in TABLE1_PROFILES.items():
            found = rs.select("inference", prof, pf, runtime=runtime, **where)
            row[f"inf_s_{key}"] = rs.one("inference", prof, pf, runtime=runtime, **where).time(statistic) \
                if found else math.nan
        for key, prof in QUANTIZE_PROFILES.items():
            found = rs.select("quantize", prof, pf, **where) if q != "none" else []
            row[f"quantize_s_{key}"] = rs.one("quantize", prof, pf, **where).time(statistic) if found else math.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=list(TABLE1_QUANTIZATION_COLUMNS))


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
