"""Batch-1 inference of one sample: the full model and every pruned model, two runtimes.

Initialisation and the first call are measured apart from the steady state (as
TFLite's benchmark tool reports them); the timed rounds are the steady state.

The rounds of all selected cases are taken round-robin (harness/interleave.py): the
first inference case prepares every selected one, then round r of each case is timed
before round r + 1 of any; each case then hands its own rounds to its benchmark. With
``--benchmark-disable`` (the tiny test grid) nothing is timed: each case calls its runner once.
"""

from __future__ import annotations

import pytest

from benchmarks.grid import INFERENCE_CASES, case_id, ids
from harness.calibrate import calls_per_round
from harness.record import case_info


def iterations_per_round(call, sample, rounds) -> int:
    """Calls per timed round: at least ``inference_iterations``, more until a round lasts
    ``inference_round_s`` (estimated from the median of a few untimed calls)."""
    return calls_per_round(lambda: call(sample), rounds.inference_round_s, rounds.inference_iterations)


def _selected(session: pytest.Session) -> list[tuple[float, str | None, str]]:
    """The inference cases this session runs, in its order."""
    return [(i.callspec.params["pf"], i.callspec.params["method"], i.callspec.params["runtime"])
            for i in session.items if getattr(i, "originalname", None) == "test_inference"]


def _prepare(chain, threads, sample, rounds, share, pf, method, runtime):
    from harness.interleave import PreparedCase
    from pipeline.infer import measure_phases

    if runtime == "litert":
        chain.tflite(pf, method)  # conversion is setup, never timed
    built = []  # measure_phases times the build and the first call; the timed rounds reuse the runner
    phases = measure_phases(lambda: built.append(_runner(chain, threads, pf, method, runtime)) or built[0], sample, 1)
    runner = built[0]
    output = runner.run(sample)
    call = runner.run
    if share is not None:
        from harness.inject import InjectedCall

        call = InjectedCall(call, share)
    return PreparedCase(case_id(pf, method, runtime), lambda: call(sample),
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
    prepared = [_prepare(chain, threads, sample, rounds, share, *case) for case in _selected(request.session)]
    measure = measure_sequential if request.config.getoption("inference_order") == "sequential" else measure_interleaved
    return measure(prepared, rounds.inference_rounds, rounds.warmup_rounds,
                   disable_gc=bool(request.config.getoption("benchmark_disable_gc", False)))


def _runner(chain, threads, pf, method, runtime):
    from pipeline.infer import KerasRunner, LiteRTRunner

    if runtime == "keras":
        return KerasRunner(chain.deployable(pf, method), num_threads=threads["tensorflow_intra_op"])
    return LiteRTRunner(chain.tflite(pf, method), num_threads=threads["litert"] or 1)


@pytest.mark.benchmark_op("inference")
@pytest.mark.parametrize(
    ("pf", "method", "runtime"), INFERENCE_CASES, ids=ids(INFERENCE_CASES)
)
def test_inference(benchmark, request, preset, chain, dataset, threads, sample, interleaved, pf, method, runtime):
    from pipeline.accounting import account

    case = case_id(pf, method, runtime)
    if interleaved is None:  # --benchmark-disable: one untimed call through pytest-benchmark, as before
        prepared = _prepare(chain, threads, sample, preset.rounds, None, pf, method, runtime)
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
            result_bytes=result_bytes,
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
