"""Converting a model to a quantized ``.tflite`` at the edge (dynamic-range and full-integer int8,
pipeline/quantize.py): the edge server quantizes what it sends to the device, so these cases
are timed under the edge profiles only (the device profile skips them, saying so).

Which models: the full model and the pruning factor fine-tuned quantization-aware (pf 70 %, both
methods), not every model. A conversion took 0.4-1.1 s on quick (one thread: 0.36 s dynamic-range
and 0.80 s int8 for the full model, 1.09 s int8 for magnitude pf 70 %, 0.45 s filter pf 70 %), so
all eleven models would add ~15 s per edge profile (~22 conversions, one round each; under
edge-idle at load ~4 the six took 0.9-2.0 s each, 8 s in all: docs/measurements.md) and tell
nothing these six do not: the converter's cost follows the model's size, which the three span.
The inference cases run every model's conversions (untimed, cached on disk).

A conversion runs once per case (``--benchmark-disable``: untimed). Its output is the session's
model of that quantization (handed to the chain and the disk cache), so the inference cases
run what was timed. An int8 conversion that leaves ops in float is recorded with them in
``float_ops`` (and never served as int8 by the inference cases).
"""

from __future__ import annotations

import pytest

from benchmarks.grid import QUANTIZE_CASES, ids, quantized_skip_reason
from harness.record import case_info

#: Profiles the conversion is timed under.
EDGE_PROFILES = ("edge-idle", "edge-loaded")


@pytest.mark.benchmark_op("quantize")
@pytest.mark.parametrize(("pf", "method", "quantization"), QUANTIZE_CASES, ids=ids(QUANTIZE_CASES))
def test_quantize(benchmark, request, preset, chain, pf, method, quantization):
    from pipeline.quantize import quantize_tflite

    profile = request.config.getoption("profile")
    if profile not in EDGE_PROFILES and profile != "none":
        pytest.skip(f"conversion is timed under the edge profiles ({', '.join(EDGE_PROFILES)}), not {profile}")
    reason = quantized_skip_reason(preset.name, pf, method, quantization)
    if reason is not None:
        pytest.skip(reason)
    model = chain.deployable(pf, method)  # stripping is set-up
    representative = chain.representative() if quantization == "int8" else None
    converted = benchmark.pedantic(
        quantize_tflite, args=(model, quantization),
        kwargs={"representative": representative, "allow_float_ops": True},
        rounds=1, iterations=1, warmup_rounds=0,
    )
    chain.remember_quantized(pf, method, converted)
    sizes = chain.sizes(converted.tflite)
    benchmark.extra_info.update(
        case_info(
            preset,
            "quantize",
            pruning_factor=pf,
            pruning_method=method,
            quantization=quantization,
            representative_samples=converted.representative_samples,
            model_bytes=sizes["bytes"],
            model_bytes_gzip=sizes["gzip"],
            float_ops=list(converted.float_ops + converted.hybrid_ops) if quantization == "int8" else list(converted.float_ops),
            hybrid_ops=list(converted.hybrid_ops),
            fully_integer=converted.fully_integer if quantization == "int8" else None,
            top1=chain.litert_top1(converted.tflite),
            top1_float=chain.litert_top1(chain.tflite(pf, method)),
            **chain.provenance(pf, method),
        )
    )
