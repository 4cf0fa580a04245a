"""The case grid's quantized cases and their ids (benchmarks/grid.py)."""

from __future__ import annotations

from benchmarks.grid import (
    INFERENCE_CASES, MODELS, QAT_CASES, QUANTIZE_CASES, QUANTIZED_MODELS_OF_PRESET, inference_id,
    quantized_skip_reason,
)
from harness.contract import QUANTIZATIONS, RUNTIMES


def test_every_model_runs_float_in_both_runtimes_and_quantized_in_litert():
    for pf, method in MODELS:
        cases = [(runtime, q) for p, m, runtime, q in INFERENCE_CASES if (p, m) == (pf, method)]
        expected = [(r, "none") for r in RUNTIMES] + [("litert", "dynamic"), ("litert", "int8")]
        if (pf, method) in QAT_CASES:
            expected.append(("litert", "int8-qat"))
        assert cases == expected
    assert {q for *_, q in INFERENCE_CASES} == set(QUANTIZATIONS)


def test_ids_keep_the_float_names_and_name_the_quantization_otherwise():
    ids = [inference_id(*case) for case in INFERENCE_CASES]
    assert len(set(ids)) == len(ids)
    for expected in ("full-keras", "full-litert", "full-dynamic", "full-int8", "pf=70-filter-litert",
                     "pf=70-filter-int8", "pf=85-magnitude-dynamic", "pf=70-magnitude-int8-qat",
                     "pf=70-filter-int8-qat"):
        assert expected in ids
    assert not any(i.endswith("-int8-qat") and not i.startswith("pf=70-") for i in ids)


def test_timed_conversions_are_the_full_model_and_the_qat_models_in_both_modes():
    assert QUANTIZE_CASES == [(pf, m, q) for pf, m in [(0.0, None), *QAT_CASES] for q in ("dynamic", "int8")]
    assert QAT_CASES == [(0.7, "magnitude"), (0.7, "filter")]


def test_a_reduced_preset_skips_the_other_models_quantized_cases_saying_which_run():
    kept = QUANTIZED_MODELS_OF_PRESET["tiny"]
    assert (0.0, None) in kept and (0.7, "magnitude") in kept
    reason = quantized_skip_reason("tiny", 0.5, "filter", "int8")
    assert "tiny" in reason and "full" in reason and "pf=70-magnitude" in reason
    assert quantized_skip_reason("tiny", 0.5, "filter", "none") is None  # float cases always run
    assert quantized_skip_reason("tiny", 0.0, None, "dynamic") is None
    assert quantized_skip_reason("tiny", 0.7, "magnitude", "int8") is None
    qat = quantized_skip_reason("tiny", 0.7, "magnitude", "int8-qat")  # tiny fine-tunes none quantization-aware
    assert "quantization-aware fine-tuning of no model" in qat
    assert quantized_skip_reason("quick", 0.7, "magnitude", "int8-qat") is None
    assert quantized_skip_reason("quick", 0.5, "filter", "int8") is None
