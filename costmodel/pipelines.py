"""Latency, device energy and data exchanged per pipeline, as affine functions of Q.

Implements the study's cost equations (docs/spec.md, "Cost equations"). Every cost is
``intercept + slope * Q``: :func:`cost_terms` returns each contribution as an
:class:`Affine`, so Table II (contributions) and crossovers (closed form) come from
the same numbers as the curves. Units: s, J, byte, bit/s, W.

Transfer directions: the device sends samples, model requests and the dataset
(uplink); the edge sends results, the model and the dataset request (downlink).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Mapping

import numpy as np

PIPELINES = ("E-Inf full", "D-Inf full", "E-FT,E-Inf", "E-FT,D-Inf", "D-FT,D-Inf")
BASELINES = ("E-Inf full", "D-Inf full")
PRUNED_PIPELINES = ("E-FT,E-Inf", "E-FT,D-Inf", "D-FT,D-Inf")
METRICS = ("latency", "energy", "data")
METRIC_UNITS = {"latency": "s", "energy": "J", "data": "byte"}
# Contributions, in Table II order (the study's columns plus control messages and decryption).
TERMS = ("result_exchange", "control", "model_exchange", "pruning", "encryption",
         "dataset_exchange", "decryption", "inference", "finetuning", "quantization")

# Study's device powers (docs/spec.md): P_E, P_tx, P_rx, P_inf = P_ft; P_enc defaults to the CPU power.
CIRCUIT_POWER = 5.34  # [W] P^E baseband circuit
TX_POWER = 0.01  # [W] P^tx
RX_POWER = 0.1  # [W] P^rx
CPU_POWER = 2.8  # [W] P^inf = P^ft (= P^enc by default)
DEVICE_ENERGY_BUDGET = 3.7 * 3600.0  # [J] 3.7 Wh
STUDY_SAMPLE_BYTES = 300e3  # [byte] one input sample (kB = 1e3 byte)
STUDY_RESULT_BYTES = 2e3  # [byte] one inference result
CONTROL_MESSAGE_BYTES = 64.0  # [byte] "a few bytes": a request for the model / dataset


def _check_fields(obj, names, *, allow_zero=False):
    """ValueError naming Class.field unless each field is a finite number > 0 (>= 0)."""
    bound = ">=" if allow_zero else ">"
    for name in names:
        v = getattr(obj, name)
        ok = (not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
              and (v >= 0 if allow_zero else v > 0))
        if not ok:
            raise ValueError(f"{type(obj).__name__}.{name} must be a finite number {bound} 0, "
                             f"got {v!r}")


@dataclasses.dataclass(frozen=True)
class DevicePowers:
    """Device powers [W] (docs/spec.md): transmit, receive, baseband circuit, compute."""

    tx_w: float = TX_POWER
    rx_w: float = RX_POWER
    circuit_w: float = CIRCUIT_POWER
    inference_w: float = CPU_POWER
    finetune_w: float = CPU_POWER
    encryption_w: float = CPU_POWER

    def __post_init__(self):
        _check_fields(self, [f.name for f in dataclasses.fields(self)])


@dataclasses.dataclass(frozen=True)
class PipelineInputs:
    """Everything one pipeline's costs depend on.

    Sizes [byte] and rates [bit/s] must be > 0; times [s] >= 0 (0 = not measured /
    not part of the pipeline). model_bytes is the model the device downloads (the
    full model for the baselines, the pruned / fine-tuned one otherwise, quantized
    where the edge converts it); dataset_bytes is the encrypted dataset uploaded;
    quantize_s the edge's one conversion of the model to a quantized .tflite (0: float).
    """

    uplink_bps: float
    downlink_bps: float
    model_bytes: float
    dataset_bytes: float
    inference_edge_s: float
    inference_device_s: float
    prune_s: float = 0.0
    encrypt_s: float = 0.0
    decrypt_s: float = 0.0
    finetune_edge_s: float = 0.0
    finetune_device_s: float = 0.0
    quantize_s: float = 0.0
    sample_bytes: float = STUDY_SAMPLE_BYTES
    result_bytes: float = STUDY_RESULT_BYTES
    request_bytes: float = CONTROL_MESSAGE_BYTES
    powers: DevicePowers = DevicePowers()

    POSITIVE = ("uplink_bps", "downlink_bps", "model_bytes", "dataset_bytes", "sample_bytes",
                "result_bytes", "request_bytes")
    NON_NEGATIVE = ("inference_edge_s", "inference_device_s", "prune_s", "encrypt_s", "decrypt_s",
                    "finetune_edge_s", "finetune_device_s", "quantize_s")

    def __post_init__(self):
        _check_fields(self, self.POSITIVE)
        _check_fields(self, self.NON_NEGATIVE, allow_zero=True)
        if not isinstance(self.powers, DevicePowers):
            raise ValueError(f"PipelineInputs.powers must be a DevicePowers, got {self.powers!r}")

    def replace(self, **changes) -> "PipelineInputs":
        return dataclasses.replace(self, **changes)

    # transfer times [s] (study: l / D)
    @property
    def t_sample(self):
        return 8 * self.sample_bytes / self.uplink_bps

    @property
    def t_result(self):
        return 8 * self.result_bytes / self.downlink_bps

    @property
    def t_model(self):
        return 8 * self.model_bytes / self.downlink_bps

    @property
    def t_dataset(self):
        return 8 * self.dataset_bytes / self.uplink_bps

    @property
    def t_request_model(self):  # device -> edge
        return 8 * self.request_bytes / self.uplink_bps

    @property
    def t_request_dataset(self):  # edge -> device
        return 8 * self.request_bytes / self.downlink_bps


@dataclasses.dataclass(frozen=True)
class Affine:
    """cost(Q) = intercept + slope * Q."""

    intercept: float = 0.0
    slope: float = 0.0

    def __add__(self, other: "Affine") -> "Affine":
        return Affine(self.intercept + other.intercept, self.slope + other.slope)

    def __call__(self, q):
        return self.intercept + self.slope * validate_q(q)


def validate_q(q):
    """Q (number of requests served by one model) as a float array; Q >= 1."""
    arr = np.asarray(q, dtype=float)
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 1):
        raise ValueError(f"q must be >= 1 and finite, got {q!r}")
    return arr


def _check_pipeline(pipeline):
    if pipeline not in PIPELINES:
        raise ValueError(f"pipeline must be one of {PIPELINES}, got {pipeline!r}")


def check_metric(metric):
    """ValueError naming the metric and the allowed ones unless it is one of METRICS."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")


def _latency_terms(p: str, x: PipelineInputs) -> dict:
    """The study's latency terms, and the edge's conversion of the model where it quantizes one: once
    per model, before the model is served or sent (it costs the device no energy and no bytes)."""
    terms = _study_latency_terms(p, x)
    if x.quantize_s:
        terms["quantization"] = Affine(x.quantize_s)
    return terms


def _study_latency_terms(p: str, x: PipelineInputs) -> dict:
    A = Affine
    if p == "E-Inf full":
        return {"result_exchange": A(0, x.t_sample + x.t_result), "inference": A(0, x.inference_edge_s)}
    if p == "D-Inf full":
        return {"control": A(x.t_request_model), "model_exchange": A(x.t_model),
                "inference": A(0, x.inference_device_s)}
    if p == "E-FT,E-Inf":
        return {"result_exchange": A(0, x.t_sample + x.t_result), "control": A(x.t_request_dataset),
                "pruning": A(x.prune_s), "encryption": A(x.encrypt_s),
                "dataset_exchange": A(x.t_dataset), "decryption": A(x.decrypt_s),
                "finetuning": A(x.finetune_edge_s), "inference": A(0, x.inference_edge_s)}
    if p == "E-FT,D-Inf":
        return {"control": A(x.t_request_model + x.t_request_dataset), "pruning": A(x.prune_s),
                "encryption": A(x.encrypt_s), "dataset_exchange": A(x.t_dataset),
                "decryption": A(x.decrypt_s), "finetuning": A(x.finetune_edge_s),
                "model_exchange": A(x.t_model), "inference": A(0, x.inference_device_s)}
    # D-FT,D-Inf
    return {"control": A(x.t_request_model), "pruning": A(x.prune_s), "model_exchange": A(x.t_model),
            "finetuning": A(x.finetune_device_s), "inference": A(0, x.inference_device_s)}


def _energy_terms(p: str, x: PipelineInputs, published_swap: bool) -> dict:
    A, w = Affine, x.powers
    rx = w.rx_w + w.circuit_w  # receiving costs P_rx + P_E (study)
    if p == "E-Inf full":
        return {"result_exchange": A(0, w.tx_w * x.t_sample + rx * x.t_result)}
    if p == "D-Inf full":
        return {"control": A(w.tx_w * x.t_request_model), "model_exchange": A(rx * x.t_model),
                "inference": A(0, w.inference_w * x.inference_device_s)}
    if p == "E-FT,E-Inf":
        return {"result_exchange": A(0, w.tx_w * x.t_sample + rx * x.t_result),
                "control": A(rx * x.t_request_dataset), "encryption": A(w.encryption_w * x.encrypt_s),
                "dataset_exchange": A(w.tx_w * x.t_dataset)}
    if p == "E-FT,D-Inf":
        return {"control": A(w.tx_w * x.t_request_model + rx * x.t_request_dataset),
                "encryption": A(w.encryption_w * x.encrypt_s),
                "dataset_exchange": A(w.tx_w * x.t_dataset), "model_exchange": A(rx * x.t_model),
                "inference": A(0, w.inference_w * x.inference_device_s)}
    # D-FT,D-Inf: the published formula swaps P_inf and P_ft; published_swap=True reproduces it.
    p_ft, p_inf = (w.inference_w, w.finetune_w) if published_swap else (w.finetune_w, w.inference_w)
    return {"control": A(w.tx_w * x.t_request_model), "model_exchange": A(rx * x.t_model),
            "finetuning": A(p_ft * x.finetune_device_s), "inference": A(0, p_inf * x.inference_device_s)}


def _data_terms(p: str, x: PipelineInputs) -> dict:
    A = Affine
    per_request = A(0, x.sample_bytes + x.result_bytes)
    if p == "E-Inf full":
        return {"result_exchange": per_request}
    if p == "D-Inf full":
        return {"control": A(x.request_bytes), "model_exchange": A(x.model_bytes)}
    if p == "E-FT,E-Inf":
        return {"result_exchange": per_request, "control": A(x.request_bytes),
                "dataset_exchange": A(x.dataset_bytes)}
    if p == "E-FT,D-Inf":
        return {"control": A(2 * x.request_bytes), "dataset_exchange": A(x.dataset_bytes),
                "model_exchange": A(x.model_bytes)}
    return {"control": A(x.request_bytes), "model_exchange": A(x.model_bytes)}


def cost_terms(pipeline: str, metric: str, inputs: PipelineInputs, *,
               published_swap: bool = False) -> dict[str, Affine]:
    """Each contribution (key in TERMS order) to `metric` of `pipeline` as an Affine in Q.

    metric: 'latency' [s], 'energy' (device) [J] or 'data' (over the radio) [byte].
    published_swap: use the study's D-FT,D-Inf energy formula with P_inf and P_ft swapped.
    """
    _check_pipeline(pipeline)
    check_metric(metric)
    if not isinstance(inputs, PipelineInputs):
        raise ValueError(f"inputs must be a PipelineInputs, got {type(inputs).__name__}")
    if metric == "latency":
        terms = _latency_terms(pipeline, inputs)
    elif metric == "energy":
        terms = _energy_terms(pipeline, inputs, published_swap)
    else:
        terms = _data_terms(pipeline, inputs)
    return {k: terms[k] for k in TERMS if k in terms}


def cost_coefficients(pipeline: str, metric: str, inputs: PipelineInputs, **kw) -> Affine:
    """The Affine (intercept, slope) of the whole cost: the sum of :func:`cost_terms`."""
    total = Affine()
    for term in cost_terms(pipeline, metric, inputs, **kw).values():
        total = total + term
    return total


def pipeline_latency(pipeline: str, inputs: PipelineInputs, q=1):
    """Latency [s] of `pipeline` serving q requests (array-like, q >= 1), study eqs."""
    return cost_coefficients(pipeline, "latency", inputs)(q)


def device_energy(pipeline: str, inputs: PipelineInputs, q=1, *, published_swap=False):
    """Energy spent by the device [J] for q requests, study eqs."""
    return cost_coefficients(pipeline, "energy", inputs, published_swap=published_swap)(q)


def data_exchanged(pipeline: str, inputs: PipelineInputs, q=1):
    """Bytes moved over the radio link for q requests."""
    return cost_coefficients(pipeline, "data", inputs)(q)


def scenario_coefficients(scenario: Mapping[str, PipelineInputs], metric: str, **kw) -> dict:
    """{pipeline: Affine} of `metric` for a scenario mapping pipeline -> inputs."""
    return {p: cost_coefficients(p, metric, x, **kw) for p, x in scenario.items()}
