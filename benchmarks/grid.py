"""The case grid: which pruning factors, methods, runtimes and formats the cases run, and their ids
(``pf=70-filter-litert``, ``full-keras``). The models and :func:`case_id` come from
harness/record.py, which the counted run shares."""

from __future__ import annotations

from harness.record import MODELS, PRUNED_MODELS, RUNTIMES, case_id

#: Pruning, recalibration and fine-tuning: each pruned model.
CASES = PRUNED_MODELS
#: Inference: every model in both runtimes.
INFERENCE_CASES = [(pf, method, runtime) for pf, method in MODELS for runtime in RUNTIMES]
#: Serialisation formats of a model.
FORMATS = ("keras", "h5", "tflite")
SERIALIZATION_CASES = [(pf, method, fmt) for pf, method in MODELS for fmt in FORMATS]
#: Input of the pure-RSA case: small on purpose, RSA moves ~300 bytes per operation.
PURE_RSA_INPUT_BYTES = 64 * 1024


def ids(cases: list[tuple]) -> list[str]:
    """Parametrize ids of ``cases`` (tuples of pruning factor, method, then runtime or format)."""
    return [case_id(*case) for case in cases]


__all__ = ["CASES", "FORMATS", "INFERENCE_CASES", "MODELS", "PURE_RSA_INPUT_BYTES", "SERIALIZATION_CASES",
           "case_id", "ids"]
