"""Parameters, non-zeros and MACs of full and pruned models (pipeline/accounting.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.accounting import FLOAT32_BYTES, account
from pipeline.prune import MOBILENET_V1_STRIDE2_BLOCKS, filter_prune, magnitude_prune, measure_sparsity


def mobilenet_v1_macs(input_size: int, stem: int, widths: list[int], classes: int) -> int:
    """Plain reference: MACs of MobileNet v1 from its widths (depth multiplier 1)."""
    side = math.ceil(input_size / 2)  # conv1, stride 2, 'same'
    macs = side * side * 3 * 3 * 3 * stem
    channels = stem
    for block, width in enumerate(widths, start=1):
        if block in MOBILENET_V1_STRIDE2_BLOCKS:
            side = (side + 1 - 3) // 2 + 1  # pad (0,1), 3x3 'valid', stride 2
        macs += side * side * 3 * 3 * channels  # depthwise
        macs += side * side * channels * width  # pointwise
        channels = width
    return macs + channels * classes  # conv_preds on the pooled 1x1 map


def _widths(model):
    return [model.get_layer(f"conv_pw_{b}").filters for b in range(1, 14)]


@pytest.mark.parametrize("pf", [0.0, 0.7], ids=lambda pf: f"pf={round(pf * 100)}-filter")
def test_macs_and_params_match_references(tiny_model, preset, pf):
    model = filter_prune(tiny_model, pf)
    result = account(model)
    expected = mobilenet_v1_macs(preset.input_size, model.get_layer("conv1").filters, _widths(model), preset.num_classes)
    assert result.macs == expected
    assert result.params == model.count_params()
    assert result.bytes == FLOAT32_BYTES * model.count_params()
    assert result.nonzero_macs == result.macs  # random weights: no zeros in the kernels


def test_filter_pruning_cuts_macs(tiny_model):
    full, pruned = account(tiny_model), account(filter_prune(tiny_model, 0.7))
    assert pruned.macs < 0.3 * full.macs
    assert pruned.params < 0.4 * full.params


def test_magnitude_pruning_keeps_macs_and_params_but_not_nonzeros(tiny_model):
    full = account(tiny_model)
    wrapped = magnitude_prune(tiny_model, 0.7)
    pruned = account(wrapped)
    assert pruned.params == full.params  # masks, thresholds and step are not parameters
    assert pruned.macs == full.macs
    report = measure_sparsity(wrapped)
    zeros = sum(w.zeros for w in report.layers)
    assert pruned.nonzero_params == full.params - zeros
    assert pruned.sparsity == pytest.approx(report.overall_sparsity)
    assert pruned.nonzero_macs < 0.5 * full.macs  # what a sparse kernel could skip
    assert np.isclose(sum(layer.params for layer in pruned.layers), pruned.params)
