"""Pruning the trained base model at each of the study's pruning factors, both methods."""

from __future__ import annotations

import pytest

from benchmarks.grid import CASES, ids
from harness.record import case_info


@pytest.mark.benchmark_op("prune")
@pytest.mark.parametrize(("pf", "method"), CASES, ids=ids(CASES))
def test_prune(benchmark, preset, chain, pf, method):
    from pipeline.accounting import account
    from pipeline.prune import measure_sparsity, prune

    # Filter pruning ranks filters by channel variances measured on the unlabelled images BatchNorm
    # re-estimation uses (pipeline/prune.py select_filters): that inference pass is timed with it;
    # magnitude pruning ignores them. The same call as the chain's untimed one.
    pruned = benchmark.pedantic(
        prune, args=(chain.base, pf, method), kwargs={"images": chain.recalibration_images()},
        rounds=preset.rounds.prune_rounds, iterations=1, warmup_rounds=0,
    )
    chain.remember_pruned(pf, method, pruned)

    sparsity = measure_sparsity(pruned)
    counts = account(pruned)
    benchmark.extra_info.update(
        case_info(
            preset,
            "prune",
            pruning_factor=pf,
            pruning_method=method,
            sparsity_measured=sparsity.prunable_sparsity,
            sparsity_measured_all=sparsity.overall_sparsity,
            params=counts.params,
            nonzero_params=counts.nonzero_params,
            macs=counts.macs,
        )
    )
    if method == "magnitude":
        assert sparsity.prunable_sparsity == pytest.approx(pf, abs=0.01)
    else:
        assert counts.params < chain.base.count_params()
