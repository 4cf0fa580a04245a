"""Batch-1 inference of one sample: the full model and every pruned model, Keras and LiteRT, and
each model's quantized flatbuffers through LiteRT (dynamic-range, int8, and int8-qat for the
models fine-tuned quantization-aware; pipeline/quantize.py).

Initialisation and the first call are measured apart from the steady state (as
TFLite's benchmark tool reports them); the timed rounds are the steady state.

The rounds of all selected cases are taken round-robin (harness/interleave.py): the
first inference case prepares every selected one, then round r of each case is timed
before round r + 1 of any; each case then hands its own rounds to its benchmark. With
``--benchmark-disable`` (the tiny test grid) nothing is timed: each case calls its runner once.

Every LiteRT record carries its flatbuffer's test top-1 (``top1``) beside its float parent's
(``top1_float``), its sizes raw and gzipped, the sparse format's sizes for a magnitude-pruned
model, the ops left in float and which kernels ran it (XNNPACK or built-in). Conversions and
top-1 are set-up, cached on disk (fixtures/memo.py). An int8 conversion that leaves ops in
float is never timed as int8: its case skips, naming the ops.
"""

from __future__ import annotations

import pytest

from benchmarks.grid import INFERENCE_CASES, inference_id, quantized_skip_reason
from harness.calibrate import calls_per_round
from harness.record import case_info
from harness.stash import KERNEL_PATH_KEY


def iterations_per_round(call, sample, rounds) -> int:
    """Calls per timed round: at least ``inference_iterations``, more until a round lasts
    ``inference_round_s`` (estimated from the median of a few untimed calls)."""
    return calls_per_round(lambda: call(sample), rounds.inference_round_s, rounds.inference_iterations)


def _skip_reason(preset, chain, pf, method, quantization) -> str | None:
    """Why this case does not run: a reduced grid (benchmarks/grid.py), or an int8 conversion that
    left ops in float (such a model is never served as int8)."""
    reason = quantized_skip_reason(preset.name, pf, method, quantization)
    if reason is None and quantization == "int8":
        converted = chain.quantized(pf, method, "int8")
        left = converted.float_ops + converted.hybrid_ops
        if left:
            reason = f"the int8 conversion left {len(left)} op(s) in float ({', '.join(left)}): not served as int8"
    return reason


def _selected(session: pytest.Session, preset, chain) -> list[tuple]:
    """The inference cases this session runs, in its order."""
    cases = [tuple(i.callspec.params[p] for p in ("pf", "method", "runtime", "quantization"))
             for i in session.items if getattr(i, "originalname", None) == "test_inference"]
    return [(pf, method, runtime, q) for pf, method, runtime, q in cases
            if _skip_reason(preset, chain, pf, method, q) is None]


def _runner(chain, threads, pf, method, runtime, quantization):
    from pipeline.infer import KerasRunner, LiteRTRunner

    if runtime == "keras":
        return KerasRunner(chain.deployable(pf, method), num_threads=threads["tensorflow_intra_op"])
    return LiteRTRunner(chain.tflite_of(pf, method, quantization), num_threads=threads["litert"] or 1)


def _prepare(chain, threads, sample, rounds, share, pf, method, runtime, quantization):
    from harness.interleave import PreparedCase
    from pipeline.infer import measure_phases

    if runtime == "litert":
        chain.tflite_of(pf, method, quantization)  # conversion is setup, never timed
    built = []  # measure_phases times the build and the first call; the timed rounds reuse the runner
    phases = measure_phases(lambda: built.append(_runner(chain, threads, pf, method, runtime, quantization)) or built[0],
                            sample, 1)
    runner = built[0]
    output = runner.run(sample)
    call = runner.run
    if share is not None:
        from harness.inject import InjectedCall

        call = InjectedCall(call, share)
    return PreparedCase(inference_id(pf, method, runtime, quantization), lambda: call(sample),
                        iterations_per_round(runner.run, sample, rounds),
                        {"phases": phases, "output_size": int(output.size), "output_itemsize": output.itemsize,
                         "classes": output.shape[-1]})


@pytest.fixture(scope="module")
def interleaved(request, preset, chain, threads, sample):
    """Every selected case's rounds, measured round-robin once (None with --benchmark-disable)."""
    if request.config.getoption("benchmark_disable", False):
        return None
    from harness.inject import injections
    from harness.interleave import measure_interleaved, measure_sequential

    share = injections(request.config).get("inference")
    rounds = preset.rounds
    prepared = [_prepare(chain, threads, sample, rounds, share, *case)
                for case in _selected(request.session, preset, chain)]
    measure = measure_sequential if request.config.getoption("inference_order") == "sequential" else measure_interleaved
    return measure(prepared, rounds.inference_rounds, rounds.warmup_rounds,
                   disable_gc=bool(request.config.getoption("benchmark_disable_gc", False)))


def litert_fields(chain, pf, method, quantization) -> dict:
    """The quantization record of a LiteRT case (docs/quantization.md): ``quantization``, ``top1``,
    ``top1_float``, ``model_bytes``, ``model_bytes_gzip``, ``float_ops``, ``kernel_path``, and for a
    magnitude-pruned model ``model_bytes_sparse`` / ``model_bytes_sparse_gzip``."""
    from pipeline.quantize import describe

    tflite = chain.tflite_of(pf, method, quantization)
    described = chain.qat(pf, method).quantized if quantization == "int8-qat" else (
        describe(tflite, "none") if quantization == "none" else chain.quantized(pf, method, quantization))
    sizes = chain.sizes(tflite)
    fields = {
        "quantization": quantization,
        "top1": chain.litert_top1(tflite),
        "top1_float": chain.litert_top1(chain.tflite(pf, method)),
        "model_bytes": sizes["bytes"],
        "model_bytes_gzip": sizes["gzip"],
        "float_ops": list(described.float_ops),
        "kernel_path": chain.kernel_path(tflite),
    }
    if quantization != "none":
        fields["hybrid_ops"] = list(described.hybrid_ops)
        fields["representative_samples"] = described.representative_samples
    if method == "magnitude" and pf:
        sparse = chain.qat_sparse(pf, method) if quantization == "int8-qat" else chain.quantized(
            pf, method, quantization, sparse=True)
        sparse_sizes = chain.sizes(sparse.tflite)
        fields.update(model_bytes_sparse=sparse_sizes["bytes"], model_bytes_sparse_gzip=sparse_sizes["gzip"])
    return fields


@pytest.mark.benchmark_op("inference")
@pytest.mark.parametrize(
    ("pf", "method", "runtime", "quantization"), INFERENCE_CASES, ids=[inference_id(*case) for case in INFERENCE_CASES]
)
def test_inference(benchmark, request, preset, chain, dataset, threads, sample, interleaved, pf, method, runtime,
                   quantization):
    reason = _skip_reason(preset, chain, pf, method, quantization)
    if reason is not None:
        pytest.skip(reason)
    case = inference_id(pf, method, runtime, quantization)
    if interleaved is None:  # --benchmark-disable: one untimed call through pytest-benchmark, as before
        prepared = _prepare(chain, threads, sample, preset.rounds, None, pf, method, runtime, quantization)
        benchmark.pedantic(prepared.call, rounds=1, iterations=1)
        info = prepared.info
    else:
        from harness.interleave import report_rounds

        report_rounds(benchmark, interleaved.rounds_s[case], interleaved.iterations[case])
        info = interleaved.info[case]
        benchmark.extra_info.update(inference_order=request.config.getoption("inference_order"),
                                    round_order=list(interleaved.order),
                                    round_position=interleaved.order.index(case))
    phases, classes = info["phases"], info["classes"]
    result_bytes = info["output_size"] * info["output_itemsize"]
    assert classes == preset.num_classes

    if runtime == "litert":
        quantized = litert_fields(chain, pf, method, quantization)
        kernels = "xnnpack" if quantized["kernel_path"]["xnnpack"] else "builtin"
        if request.config.stash.get(KERNEL_PATH_KEY, None) != "xnnpack":  # any case XNNPACK ran says xnnpack
            request.config.stash[KERNEL_PATH_KEY] = kernels
    else:
        quantized = {"quantization": "none"}
    provenance = chain.provenance(pf, method)
    if quantization == "int8-qat":  # the quantization-aware fine-tuning made it
        provenance = {"model_state": "finetuned", "model_from_timed_case": chain.qat_timed(pf, method)}
    counts = chain.deployable_account(pf, method)
    benchmark.extra_info.update(
        case_info(
            preset,
            "inference",
            pruning_factor=pf,
            pruning_method=method,
            runtime=runtime,
            batch_size=1,
            # what one request moves: an encoded image up (the dataset's mean file), the scores down
            sample_bytes=dataset.bytes_on_disk / dataset.n_files,
            result_bytes=result_bytes,
            num_threads=threads["tensorflow_intra_op"] if runtime == "keras" else (threads["litert"] or 1),
            init_s=phases.init_s,
            first_call_s=phases.first_s,
            params=counts.params,
            nonzero_params=counts.nonzero_params,
            macs=counts.macs,
            **quantized,
            **chain.accuracy(pf, method),
            **provenance,
        )
    )
