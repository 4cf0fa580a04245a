"""Re-estimating each pruned model's BatchNorm statistics on unlabelled training images.

One-shot pruning leaves the moving statistics of the full model, and inference
mode then sits near chance; the re-estimation (``pipeline/recalibrate.py``) is
a few forward passes without labels, timed here as its own operation. The
fine-tuning cases start from the models it produces.
"""

from __future__ import annotations

import pytest

from benchmarks.grid import CASES, ids
from harness.record import case_info


@pytest.mark.benchmark_op("bn_recalibration")
@pytest.mark.parametrize(("pf", "method"), CASES, ids=ids(CASES))
def test_bn_recalibration(benchmark, preset, chain, dataset, pf, method):
    from pipeline.prune import measure_sparsity
    from pipeline.recalibrate import RECALIBRATION_BATCH_SIZE, recalibrate_batchnorm

    # The pruned model itself is re-estimated (copy=False), as a device would; the chain
    # measures its top-1 as pruned first. Re-estimating it again in a later round gives the
    # same statistics (the first pass replaces them), so every round does the same work.
    pruned = chain.hand_over_pruned(pf, method)
    images = chain.recalibration_images()
    recalibrated = benchmark.pedantic(
        recalibrate_batchnorm,
        args=(pruned, images),
        kwargs={"copy": False},
        rounds=preset.rounds.bn_recalibration_rounds,
        iterations=1,
        warmup_rounds=0,
    )
    chain.remember_recalibrated(pf, method, recalibrated)

    fields = dict(
        pruning_factor=pf,
        pruning_method=method,
        top1_full=chain.base_top1(),
        top1_before_ft=chain.top1_pruned(pf, method),
        top1_after_bn=chain.top1_recalibrated(pf, method),
        calibration_samples=int(len(images)),
        batch_size=RECALIBRATION_BATCH_SIZE,
    )
    if method == "magnitude":
        # re-estimation touches moving statistics only: the masks and the sparsity stay
        fields["sparsity_measured"] = measure_sparsity(recalibrated).prunable_sparsity
        assert fields["sparsity_measured"] == pytest.approx(pf, abs=0.01)
    benchmark.extra_info.update(case_info(preset, "bn_recalibration", **fields))
