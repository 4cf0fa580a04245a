"""The quantized cases' records, end to end: a tiny session of the full model's int8 conversion and
inference writes the fields of the quantization contract (docs/quantization.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.contract import check_case
from pipeline.isa import ISA_FLAGS
from pipeline.quantize import REPRESENTATIVE_SAMPLES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("quantized") / "out.json"
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "benchmarks", "--preset=tiny", "-p", "no:cacheprovider", "-q",
         "--wait-for-run", "-k",
         "test_quantize and full-int8 or test_inference and (full-int8 or full-litert or 70-magnitude-int8)",
         f"--benchmark-json={out}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.read_text())


def _record(session: dict, name: str) -> dict:
    (bench,) = [b for b in session["benchmarks"] if b["name"] == name]
    check_case(bench["extra_info"])
    return bench["extra_info"]


def test_int8_inference_records_its_top1_beside_its_float_parents_and_its_sizes(session):
    int8 = _record(session, "test_inference[full-int8]")
    float_ = _record(session, "test_inference[full-litert]")
    assert int8["quantization"] == "int8" and float_["quantization"] == "none"
    # calibrated on the seeded choice of training images: 200, or all of tiny's 56
    assert int8["float_ops"] == [] and int8["representative_samples"] == min(REPRESENTATIVE_SAMPLES, 56)
    assert int8["top1_float"] == float_["top1"] == float_["top1_float"]
    assert 0 <= int8["top1"] <= 1
    assert int8["model_bytes"] < 0.5 * float_["model_bytes"]  # int8 weights: a quarter of float32's, plus the graph
    assert 0 < int8["model_bytes_gzip"] < int8["model_bytes"]
    assert int8["kernel_path"]["ops"] >= int8["kernel_path"]["delegated_ops"] > 0
    assert "model_bytes_sparse" not in int8  # dense model: no sparse format


def test_the_timed_conversion_is_the_model_inference_runs(session):
    converted = _record(session, "test_quantize[full-int8]")
    served = _record(session, "test_inference[full-int8]")
    assert converted["operation"] == "quantize" and converted["quantization"] == "int8"
    assert converted["model_bytes"] == served["model_bytes"] and converted["top1"] == served["top1"]
    assert converted["float_ops"] == [] and converted["fully_integer"] is True


def test_machine_info_says_which_isa_and_kernels_ran(session):
    continuum = session["machine_info"]["continuum"]
    assert set(continuum["isa_features"]) == set(ISA_FLAGS)
    assert continuum["litert_kernel_path"] == "xnnpack"  # LiteRT's default resolver applies XNNPACK


def test_a_magnitude_pruned_model_records_its_sparse_format_sizes(session):
    record = _record(session, "test_inference[pf=70-magnitude-int8]")
    assert record["quantization"] == "int8" and record["float_ops"] == []
    assert 0 < record["model_bytes_sparse"] < record["model_bytes"]  # 70 % of the kernels' weights are zeros
    assert record["model_bytes_sparse_gzip"] > 0


def test_an_int8_model_left_partly_float_is_skipped_naming_its_float_ops():
    from types import SimpleNamespace

    from benchmarks.test_inference import _skip_reason

    partial = SimpleNamespace(quantized=lambda pf, method, mode: SimpleNamespace(float_ops=("SIN#3",), hybrid_ops=()))
    full = SimpleNamespace(quantized=lambda pf, method, mode: SimpleNamespace(float_ops=(), hybrid_ops=()))
    quick = SimpleNamespace(name="quick")
    reason = _skip_reason(quick, partial, 0.0, None, "int8")
    assert "SIN#3" in reason and "not served as int8" in reason
    assert _skip_reason(quick, full, 0.0, None, "int8") is None
    assert _skip_reason(quick, partial, 0.0, None, "dynamic") is None  # dynamic-range keeps float ops by design
