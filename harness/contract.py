"""The results contract: the vocabulary every benchmark record and every reader shares.

Pure standard library, no TensorFlow, no matplotlib: ``harness/record.py`` checks
each case's ``extra_info`` with :func:`check_case` before it is written, and
``reports.storage`` checks every file it reads against the same names. See
docs/design.md ("Results contract") and docs/INTERFACES.md.
"""
from __future__ import annotations

import re
import secrets
import socket
from typing import Any, Mapping

#: Timed operations (``extra_info["operation"]``). ``bn_recalibration``: BatchNorm
#: statistics re-estimated after pruning, before fine-tuning; ``quantize``: a float model
#: converted to a quantized ``.tflite`` (dynamic-range or full-integer int8).
OPERATIONS = ("prune", "bn_recalibration", "finetune", "inference", "encryption", "decryption",
              "serialization", "quantize")
PRUNING_METHODS = ("magnitude", "filter")
#: Per-request inference time handed to the cost model. ``warm``: the steady state, the
#: benchmark's batch-1 time; ``cold``: a request that builds the model and runs it once,
#: extra_info ``init_s`` + ``first_call_s`` (:data:`COLD_FIELDS`) of the inference record.
INFERENCE_ASSUMPTIONS = ("warm", "cold")
COLD_FIELDS = ("init_s", "first_call_s")
RUNTIMES = ("keras", "litert")
#: ``model_format`` of a serialization: three model formats, and the dataset archive.
MODEL_FORMATS = ("keras", "h5", "tflite")
DATASET_FORMATS = ("dataset-tar",)
#: ``scheme`` of an encryption or decryption: RSA-OAEP wrapping an AES-256-GCM key
#: (what a real system does), and RSA-OAEP block by block (the study's wording).
ENCRYPTION_SCHEMES = ("rsa-oaep+aes-256-gcm", "rsa-oaep-blocks")
HYBRID_SCHEME = "rsa-oaep+aes-256-gcm"
#: ``model_state`` of an inference or serialization record: which model was measured.
#: ``full``: the unpruned base model; ``finetuned``: pruned, then fine-tuned in this
#: session; ``pruned``: pruned only (its fine-tuning case did not run, e.g. under ``-k``).
MODEL_STATES = ("full", "pruned", "finetuned")
#: ``quantization`` of a record's model: ``none`` (float32), ``dynamic`` (int8 weights, float
#: activations), ``int8`` (full-integer, post-training), ``int8-qat`` (full-integer after
#: quantization-aware fine-tuning); pipeline/quantize.py converts them.
QUANTIZATIONS = ("none", "dynamic", "int8", "int8-qat")
PROFILES = ("device", "edge-idle", "edge-loaded")
#: The cost model's scenarios and the edge profile each reads.
SCENARIO_PROFILES = {"idle": "edge-idle", "loaded": "edge-loaded"}

#: The paired gate's record (``gate --against REF --json``): what a block's time is, ``wall``
#: (perf_counter: what a user waits) or ``cpu`` (the worker process's CPU time: without the time
#: other processes held its CPU); and the orders of a quad's blocks, alternating quad by quad.
CLOCKS = ("wall", "cpu")
QUAD_ORDERS = ("ABBA", "BAAB")

#: extra_info fields each operation must carry (a dataset serialization: dataset_bytes).
REQUIRED_FIELDS = {
    "prune": ("pruning_factor", "pruning_method"),
    "bn_recalibration": ("pruning_factor",),
    "finetune": ("pruning_factor", "pruning_method", "top1_before_ft", "top1_after_ft"),
    "inference": ("pruning_factor", "runtime"),
    "encryption": ("scheme", "dataset_bytes", "ciphertext_bytes"),
    "decryption": ("scheme", "ciphertext_bytes"),
    "serialization": ("pruning_factor", "model_format", "model_bytes", "model_bytes_gzip"),
    "quantize": ("pruning_factor", "quantization", "model_bytes", "model_bytes_gzip"),
}
DATASET_SERIALIZATION_FIELDS = ("dataset_bytes",)
#: Field -> the values it may take (checked wherever the field is present).
VOCABULARY = {
    "operation": OPERATIONS,
    "pruning_method": PRUNING_METHODS,
    "runtime": RUNTIMES,
    "model_format": MODEL_FORMATS + DATASET_FORMATS,
    "scheme": ENCRYPTION_SCHEMES,
    "model_state": MODEL_STATES,
    "quantization": QUANTIZATIONS,
}
#: Fractions in [0, 1] (pruning_factor: [0, 1)).
#: ``top1``: the measured model's own test top-1 (a quantized model's through LiteRT), ``top1_float``:
#: its float parent's on the same split, ``top1_int8_ptq``: post-training int8 beside int8-qat.
FRACTION_FIELDS = ("top1_before_ft", "top1_after_ft", "top1_after_bn", "sparsity_measured", "top1",
                   "top1_float", "top1_int8_ptq")


def required_fields(operation: str, info: Mapping[str, Any]) -> tuple[str, ...]:
    """The fields ``info`` of ``operation`` must carry."""
    if operation == "serialization" and info.get("model_format") in DATASET_FORMATS:
        return DATASET_SERIALIZATION_FIELDS
    if operation == "serialization" and "dataset_bytes" in info and "model_bytes" not in info:
        return DATASET_SERIALIZATION_FIELDS
    return REQUIRED_FIELDS[operation]


def contract_errors(info: Mapping[str, Any]) -> list[str]:
    """What in one ``extra_info`` breaks the contract, each naming the field and its value."""
    op = info.get("operation")
    if op not in OPERATIONS:
        return [f"extra_info.operation is {op!r}; expected one of {OPERATIONS}"]
    errors = []
    missing = [f for f in required_fields(op, info) if info.get(f) is None]
    if missing:
        errors.append(f"({op}): extra_info field(s) {', '.join(repr(f) for f in missing)} missing")
    for field, allowed in VOCABULARY.items():
        value = info.get(field)
        if field != "operation" and value is not None and value not in allowed:
            errors.append(f"extra_info.{field} is {value!r}; expected one of {allowed}")
    pf = info.get("pruning_factor")
    if pf is not None:
        if isinstance(pf, bool) or not isinstance(pf, (int, float)):
            errors.append(f"extra_info.pruning_factor must be a number, got {pf!r}")
        elif not 0 <= pf < 1:
            errors.append(f"extra_info.pruning_factor must be a fraction in [0, 1) (0.7 for 70 %), got {pf!r}")
    for field in FRACTION_FIELDS:
        v = info.get(field)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1):
            errors.append(f"extra_info.{field} must be a fraction in [0, 1], got {v!r}")
    return errors


def check_case(info: Mapping[str, Any]) -> None:
    """Raise ValueError naming the field when ``info`` breaks the contract."""
    errors = contract_errors(info)
    if errors:
        raise ValueError("; ".join(errors))


#: Where a run is filed: a profile's history holds ``<hostname>/<machine id>/NNNN_*.json``.
def current_hostname() -> str:
    return socket.gethostname() or "unknown-host"


def host_storage(storage: str, hostname: str | None = None) -> str:
    """The storage a session on this host writes into: ``<storage>/<hostname>`` (pytest-benchmark
    then adds ``<machine id>/NNNN_*.json``). ``storage`` may be a ``file://`` URL."""
    return storage.rstrip("/") + "/" + (hostname or current_hostname())


def unique_entry_name(name: str, token: str | None = None) -> str:
    """pytest-benchmark's save name (``<commit>_<datetime>[_uncommitted-changes]`` or the user's)
    with a run token (``_r`` + 8 hex digits, random unless given) appended: pytest-benchmark numbers
    entries per folder, so two machines filing under one hostname both write ``0001_...``; the token
    keeps every entry's name unique when their histories are merged by plain copy or git."""
    token = token or secrets.token_hex(4)
    if not re.fullmatch(r"[0-9a-f]{8}", token):
        raise ValueError(f"run token must be 8 lower-case hex digits, got {token!r}")
    return f"{name}_r{token}"
