"""Fine-tuning each pruned model on the device's dataset (one run per round, never calibrated).

Each fine-tuning starts from the pruned model with re-estimated BatchNorm
statistics (the ``bn_recalibration`` cases' output), so ``top1_after_bn`` is its
accuracy before training; ``top1_before_ft`` is the model as pruned.
"""

from __future__ import annotations

import pytest

from benchmarks.grid import CASES, ids
from harness.progress import live_output
from harness.record import case_info


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
        pruning_factor=pf,
        pruning_method=method,
        starts_from="bn_recalibration",
        epochs=result.epochs,
        batch_size=preset.finetune_batch_size,
        # the loss: this share of the labels' cross-entropy, the rest distillation from the full model
        label_weight=preset.finetune_label_weight,
        distillation_temperature=preset.finetune_temperature,
        train_samples=int(len(dataset.y_train)),
        train_steps=result.steps,
        **chain.accuracy(pf, method),  # full, as pruned, after re-estimation, after fine-tuning
    )
    if method == "magnitude":
        sparsity = measure_sparsity(result.model).prunable_sparsity
        fields["sparsity_measured"] = sparsity
        # tfmot's masks stay fixed while fine-tuning: the factor is still the factor.
        assert sparsity == pytest.approx(pf, abs=0.01)
    benchmark.extra_info.update(case_info(preset, "finetune", **fields))
