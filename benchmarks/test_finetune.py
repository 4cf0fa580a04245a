"""Fine-tuning each pruned model on the device's dataset (one run per round, never calibrated).

Each fine-tuning starts from the pruned model with re-estimated BatchNorm
statistics (the ``bn_recalibration`` cases' output), so ``top1_after_bn`` is its
accuracy before training; ``top1_before_ft`` is the model as pruned.

The QAT models (benchmarks/grid.py, pf 70 %, both methods) are also fine-tuned
quantization-aware (``pf=70-magnitude-int8-qat``; tfmot's ``quantize_model``, the
prune-preserving scheme for a magnitude-pruned model) from the same re-estimated model, with
the same steps of the same batch size at the same learning rate and the same loss (distilled
from the full model where the preset distils); the timed region is the training steps, as for the float ones (wrapping and
the int8 conversion are set-up). Its record holds the int8-qat model's LiteRT top-1
(``top1_after_ft``) beside post-training int8 of the float fine-tuned model
(``top1_int8_ptq``) and that float model's LiteRT top-1 (``top1_float``).
"""

from __future__ import annotations

import pytest

from benchmarks.grid import CASES, QAT_CASES, case_id, ids, quantized_skip_reason
from harness.progress import live_output
from harness.record import case_info


def _budget(preset, dataset, pf, method, quantization, epochs, steps) -> dict:
    """The fields a float and a quantization-aware fine-tuning record share: the model, where it
    started, and the training budget and loss."""
    return dict(
        pruning_factor=pf,
        pruning_method=method,
        quantization=quantization,
        starts_from="bn_recalibration",
        epochs=epochs,
        batch_size=preset.finetune_batch_size,
        # the loss: this share of the labels' cross-entropy, the rest distillation from the full model
        label_weight=preset.finetune_label_weight,
        distillation_temperature=preset.finetune_temperature,
        train_samples=int(len(dataset.y_train)),
        train_steps=steps,
    )


@pytest.mark.benchmark_op("finetune")
@pytest.mark.parametrize(("pf", "method"), CASES, ids=ids(CASES))
def test_finetune(benchmark, request, preset, chain, dataset, pf, method):
    from pipeline.finetune import FinetuneJob
    from pipeline.prune import measure_sparsity

    top1_start = chain.top1_recalibrated(pf, method)  # measured once, by the BatchNorm case
    teacher = chain.teacher()  # the full model's outputs for distillation: computed once, cached on disk
    rounds = preset.rounds.finetune_rounds
    jobs = []
    start = chain.recalibrated(pf, method) if rounds > 1 else None

    if (pf, method) in QAT_CASES and quantized_skip_reason(preset.name, pf, method, "int8-qat") is None:
        chain.keep_for_qat(pf, method)  # its quantization-aware fine-tuning starts from the same model

    def setup():  # stripping or copying, optimizer state: outside the timed region
        # The last round trains the chain's model itself (handed over: nothing reads it after,
        # its top-1 is recorded); earlier rounds train copies of it.
        last = len(jobs) == rounds - 1
        model = chain.hand_over_recalibrated(pf, method) if last else start
        jobs.append(FinetuneJob(model, dataset, preset, teacher=teacher, top1_before=top1_start,
                                evaluate=chain.evaluate, copy=not last))
        return (jobs[-1],), {}

    with live_output(request.config):
        print(f"\n[continuum-bench] fine-tuning pf={pf:g} {method}: {preset.finetune_epochs} epoch(s)")
        benchmark.pedantic(
            lambda job: job.train(progress=True),
            setup=setup,
            rounds=preset.rounds.finetune_rounds,
            warmup_rounds=0,
        )
    result = jobs[-1].result()
    chain.remember_finetuned(pf, method, result)

    fields = dict(
        _budget(preset, dataset, pf, method, "none", result.epochs, result.steps),
        **chain.accuracy(pf, method),  # full, as pruned, after re-estimation, after fine-tuning
    )
    if method == "magnitude":
        sparsity = measure_sparsity(result.model).prunable_sparsity
        fields["sparsity_measured"] = sparsity
        # tfmot's masks stay fixed while fine-tuning: the factor is still the factor.
        assert sparsity == pytest.approx(pf, abs=0.01)
    benchmark.extra_info.update(case_info(preset, "finetune", **fields))


@pytest.mark.benchmark_op("finetune")
@pytest.mark.parametrize(("pf", "method"), QAT_CASES, ids=[case_id(pf, m, "int8-qat") for pf, m in QAT_CASES])
def test_finetune_qat(benchmark, request, preset, chain, dataset, pf, method):
    reason = quantized_skip_reason(preset.name, pf, method, "int8-qat")
    if reason is not None:
        pytest.skip(reason)
    from pipeline.quantize import kernel_sparsity

    top1_start = chain.top1_recalibrated(pf, method)
    jobs = []

    def setup():  # the stripped copy, tfmot's wrappers, the optimizer: outside the timed region
        jobs.append(chain.qat_job(pf, method))
        return (jobs[-1],), {}

    with live_output(request.config):
        print(f"\n[continuum-bench] quantization-aware fine-tuning pf={pf:g} {method}: {chain.finetune_steps()} steps")
        benchmark.pedantic(lambda job: job.train(), setup=setup, rounds=preset.rounds.finetune_rounds, warmup_rounds=0)
    job = jobs[-1]
    result = chain.qat_result(job)  # the int8 conversion (cached on disk): set-up
    chain.remember_qat(pf, method, result)
    float_ran = chain.provenance(pf, method)["model_state"] == "finetuned"
    fields = dict(
        _budget(preset, dataset, pf, method, "int8-qat", preset.finetune_epochs, result.steps),
        learning_rate=preset.finetune_learning_rate,
        preserve_sparsity=result.preserve_sparsity,
        top1_full=chain.base_top1(),
        top1_before_ft=chain.top1_pruned(pf, method),
        top1_after_bn=top1_start,
        top1_after_ft=chain.litert_top1(result.quantized.tflite),
        # the float fine-tuned model, post-training int8 and float, where its fine-tuning ran this session
        top1_int8_ptq=chain.litert_top1(chain.quantized(pf, method, "int8").tflite) if float_ran else None,
        top1_float=chain.litert_top1(chain.tflite(pf, method)) if float_ran else None,
        model_bytes=result.quantized.model_bytes,
        float_ops=list(result.quantized.float_ops),
    )
    if method == "magnitude":
        fields["sparsity_measured"] = kernel_sparsity(result.model)
        # the prune-preserving scheme keeps the zeros through training
        assert fields["sparsity_measured"] == pytest.approx(pf, abs=0.01)
    benchmark.extra_info.update(case_info(preset, "finetune", **fields))
