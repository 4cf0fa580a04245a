"""The case grid: which pruning factors, methods, runtimes, quantizations and formats the cases run,
and their ids (``pf=70-filter-litert``, ``full-keras``, ``pf=70-filter-int8``, ``full-dynamic``,
``pf=70-magnitude-int8-qat``). The models and :func:`case_id` come from harness/record.py, which
the counted run shares."""

from __future__ import annotations

from harness.record import MODELS, PRUNED_MODELS, PRUNING_METHODS, RUNTIMES, case_id

#: Pruning, recalibration and fine-tuning: each pruned model.
CASES = PRUNED_MODELS
#: Post-training quantizations of every model (pipeline/quantize.py), run by LiteRT.
CONVERTED_QUANTIZATIONS = ("dynamic", "int8")
#: Models also fine-tuned quantization-aware (``int8-qat``), beside their float fine-tuning.
QAT_CASES = [(0.7, method) for method in PRUNING_METHODS]
#: Inference, model by model: Keras and LiteRT float (quantization ``none``), then LiteRT
#: dynamic-range and int8, then int8-qat where the model has one.
INFERENCE_CASES = [
    case
    for pf, method in MODELS
    for case in ([(pf, method, runtime, "none") for runtime in RUNTIMES]
                 + [(pf, method, "litert", q) for q in CONVERTED_QUANTIZATIONS]
                 + ([(pf, method, "litert", "int8-qat")] if (pf, method) in QAT_CASES else []))
]
#: Timed conversions (test_quantize.py): the full model and the QAT models' pruning factor, both
#: quantizations. A conversion takes 0.4-1.1 s on quick; every model would add ~15 s per edge
#: profile to time what these six show (the converter's cost follows the model's size).
QUANTIZE_CASES = [(pf, method, q) for pf, method in [(0.0, None)] + QAT_CASES for q in CONVERTED_QUANTIZATIONS]
#: Serialisation formats of a model.
FORMATS = ("keras", "h5", "tflite")
SERIALIZATION_CASES = [(pf, method, fmt) for pf, method in MODELS for fmt in FORMATS]
#: Input of the pure-RSA case: small on purpose, RSA moves ~300 bytes per operation.
PURE_RSA_INPUT_BYTES = 64 * 1024
#: Presets whose grid runs the quantized cases (conversion, inference) of fewer models. The test
#: command's tiny grid: the full model (dense) and magnitude pf 70 % (sparse formats) cover the
#: cases' code; the other models only repeat it. Other presets run every model.
QUANTIZED_MODELS_OF_PRESET = {"tiny": [(0.0, None), (0.7, "magnitude")]}
#: Presets whose grid runs the quantization-aware fine-tunings (and their int8-qat inference) of
#: fewer models: tiny runs none (one cost ~10 s of the tiny grid's ~48 s; tests/pipeline/test_quantize.py
#: and tests/pipeline/test_chain.py test the fine-tuning and the chain's part in it).
QAT_MODELS_OF_PRESET = {"tiny": []}


def ids(cases: list[tuple]) -> list[str]:
    """Parametrize ids of ``cases`` (tuples of pruning factor, method, then runtime or format)."""
    return [case_id(*case) for case in cases]


def inference_id(pf: float, method: str | None, runtime: str, quantization: str) -> str:
    """``pf=70-filter-litert`` / ``full-keras`` for the float cases, ``<model>-<quantization>`` for
    the quantized ones (``pf=70-filter-int8``, ``full-dynamic``, ``pf=70-magnitude-int8-qat``)."""
    return case_id(pf, method, runtime if quantization == "none" else quantization)


def quantized_skip_reason(preset_name: str, pf: float, method: str | None, quantization: str) -> str | None:
    """Why a quantized case of (pf, method) does not run under this preset, or None when it runs."""
    table = QAT_MODELS_OF_PRESET if quantization == "int8-qat" else QUANTIZED_MODELS_OF_PRESET
    models = table.get(preset_name)
    if quantization == "none" or models is None or (pf, method if pf else None) in models:
        return None
    kept = ", ".join(case_id(p, m) for p, m in models) or "no model"
    what = "quantization-aware fine-tuning" if quantization == "int8-qat" else "quantized cases"
    return f"the {preset_name} preset runs {what} of {kept} only (benchmarks/grid.py)"


__all__ = ["CASES", "CONVERTED_QUANTIZATIONS", "FORMATS", "INFERENCE_CASES", "MODELS", "PURE_RSA_INPUT_BYTES",
           "QAT_CASES", "QAT_MODELS_OF_PRESET", "QUANTIZED_MODELS_OF_PRESET", "QUANTIZE_CASES", "SERIALIZATION_CASES", "case_id", "ids",
           "inference_id", "quantized_skip_reason"]
