"""What every result carries: the results contract (see docs/design.md).

``extra_info`` of each case: SI units, the unit in the key. ``machine_info`` of
the run (under ``"continuum"``): the preset, the profile as requested and as
enforced and read back, the background load achieved, library versions. The
models of the grid and their ids are here too: the counted run
(harness/counts.py) prepares the same models the cases of benchmarks/grid.py time.
"""

from __future__ import annotations

import importlib.metadata
import platform
import socket
from typing import Any

import pytest

from fixtures.presets import PAPER_PRUNING_FACTORS, Preset, get_preset
from harness.contract import OPERATIONS, PRUNING_METHODS, RUNTIMES, check_case
from harness.fingerprint import RECORD_KEY, fingerprint

__all__ = ["MODELS", "OPERATIONS", "PRUNED_MODELS", "PRUNING_METHODS", "RUNTIMES", "case_id", "case_info",
           "add_fingerprint", "add_quantization_info", "machine_record"]
VERSIONED_PACKAGES = (
    "tensorflow",
    "tf-keras",
    "tensorflow-model-optimization",
    "ai-edge-litert",
    "cryptography",
    "numpy",
    "pytest-benchmark",
)


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _base_model_record(info: Any) -> dict | None:
    if info is None:
        return None
    return {
        "source": info.source,
        "train_time_s": info.train_time_s,
        "top1_test": info.top1_test,
        "top1_val": info.top1_val,
        "epochs": info.epochs,
        "model_bytes": info.bytes,
        "sha256": info.sha256,
        "code_version": info.code_version,
        "weights_route": info.weights_route,
        "weights_sha256": info.weights_sha256,
        "weights_note": info.weights_note,
    }


def machine_record(config: pytest.Config, *, applied: Any = None, load: Any = None, base_info: Any = None) -> dict:
    """The ``machine_info["continuum"]`` block: what this run was, as enforced."""
    preset = get_preset(config.getoption("preset"))
    if applied is None:
        profile = {
            "name": "none",
            "requested": {},
            "enforced": {},
            "note": "no profile applied: the host ran unconstrained",
        }
    else:
        profile = applied.record()
    return {
        "profile": profile,
        "load": load.report() if load is not None else {"workers": 0, "note": "no background load"},
        "preset": preset.name,
        "config_hash": preset.config_hash,
        "seed": preset.seed,
        "scale": {f: getattr(preset, f) for f in ("alpha", "input_size", "num_classes", "images_per_class", "embedded")},
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "base_model": _base_model_record(base_info),
        "data_dir": config.getoption("data_dir"),
        "weights": config.getoption("weights"),
        "versions": {name: _version(name) for name in VERSIONED_PACKAGES},
    }


def add_fingerprint(machine_info: dict) -> None:
    """Store the run's hardware identity (:func:`harness.fingerprint.fingerprint` of the CPU py-cpuinfo
    read and the limits the profile enforced) at ``machine_info.continuum.fingerprint``: readers group
    runs by it, not by hostname. Library versions stay beside it, in ``continuum.versions``."""
    machine_info["continuum"][RECORD_KEY] = fingerprint(machine_info)


def add_quantization_info(machine_info: dict, kernel_path: str | None) -> None:
    """``machine_info.continuum.isa_features`` (what XNNPACK's int8 and float kernels dispatch on,
    :func:`pipeline.isa.features_from_flags` of the CPU flags the fingerprint reads) and
    ``litert_kernel_path`` (``"xnnpack"`` or ``"builtin"``: the kernels the LiteRT inference cases
    ran on; None when none ran)."""
    from pipeline.isa import features_from_flags

    cpu = machine_info.get("cpu")
    flags = cpu.get("flags") if isinstance(cpu, dict) else None
    machine_info["continuum"]["isa_features"] = features_from_flags(flags if isinstance(flags, (list, tuple)) else None)
    machine_info["continuum"]["litert_kernel_path"] = kernel_path


def case_info(preset: Preset, operation: str, **fields: Any) -> dict:
    """``extra_info`` for one case: the operation, the preset's identity, then ``fields``.

    Raises ``ValueError`` naming the field for anything outside the contract
    (``harness.contract``: operation, method, runtime, format, scheme, required fields),
    so a typo in a benchmark never produces a result the reports cannot read.
    """
    info = {"operation": operation, "preset": preset.name, "config_hash": preset.config_hash, "seed": preset.seed}
    info.update(fields)
    check_case(info)
    return info


def case_id(pf: float, method: str | None = None, *rest: str) -> str:
    """Parametrize id that reads like ``pf=70-filter-litert`` (``full-keras`` for the full model)."""
    head = "full" if pf == 0 else f"pf={round(pf * 100):d}"
    parts = [head] + ([method] if method and pf else []) + list(rest)
    return "-".join(parts)


#: The pruned models of the grid: every pruning factor of the study by both methods.
PRUNED_MODELS = [(pf, method) for pf in PAPER_PRUNING_FACTORS for method in PRUNING_METHODS]
#: Every model of the grid: the full model (pruning factor 0, no method), then the pruned ones.
MODELS = [(0.0, None)] + PRUNED_MODELS
