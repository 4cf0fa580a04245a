"""Batch-1 inference of one sample: the full model and every pruned model, two runtimes.

Initialisation and the first call are measured apart from the steady state (as
TFLite's benchmark tool reports them); the timed rounds are the steady state.
"""

from __future__ import annotations

import pytest

from benchmarks.calibrate import calls_per_round
from benchmarks.record import RUNTIMES, case_id, case_info
from benchmarks.test_prune import CASES

MODELS = [(0.0, None)] + CASES
INFERENCE_CASES = [(pf, method, runtime) for pf, method in MODELS for runtime in RUNTIMES]


def iterations_per_round(call, sample, rounds) -> int:
    """Calls per timed round: at least ``inference_iterations``, more until a round lasts
    ``inference_round_s`` (estimated from the median of a few untimed calls)."""
    return calls_per_round(lambda: call(sample), rounds.inference_round_s, rounds.inference_iterations)


def _runner(chain, threads, pf, method, runtime):
    from pipeline.infer import KerasRunner, LiteRTRunner

    if runtime == "keras":
        return KerasRunner(chain.deployable(pf, method), num_threads=threads["tensorflow_intra_op"])
    return LiteRTRunner(chain.tflite(pf, method), num_threads=threads["litert"] or 1)


@pytest.mark.benchmark_op("inference")
@pytest.mark.parametrize(
    ("pf", "method", "runtime"), INFERENCE_CASES, ids=[case_id(pf, m, rt) for pf, m, rt in INFERENCE_CASES]
)
def test_inference(benchmark, preset, chain, dataset, threads, sample, pf, method, runtime):
    from pipeline.accounting import account
    from pipeline.infer import measure_phases

    if runtime == "litert":
        chain.tflite(pf, method)  # conversion is setup, never timed
    built = []  # measure_phases times the build and the first call; the timed rounds reuse the runner
    phases = measure_phases(lambda: built.append(_runner(chain, threads, pf, method, runtime)) or built[0], sample, 1)
    runner = built[0]

    rounds = preset.rounds
    iterations = iterations_per_round(runner.run, sample, rounds)
    output = benchmark.pedantic(
        runner.run,
        args=(sample,),
        rounds=rounds.inference_rounds,
        iterations=iterations,
        warmup_rounds=rounds.warmup_rounds,
    )
    assert output.shape[-1] == preset.num_classes

    counts = account(chain.deployable(pf, method))
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
            result_bytes=int(output.size * output.itemsize),
            num_threads=threads["tensorflow_intra_op"] if runtime == "keras" else (threads["litert"] or 1),
            init_s=phases.init_s,
            first_call_s=phases.first_s,
            params=counts.params,
            nonzero_params=counts.nonzero_params,
            macs=counts.macs,
            **chain.accuracy(pf, method),
            **chain.provenance(pf, method),
        )
    )
