"""Re-estimating BatchNorm statistics of pruned models (pipeline/recalibrate.py)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.prune import filter_prune, magnitude_prune, measure_sparsity
from pipeline.recalibrate import batchnorm_layers, recalibrate_batchnorm, recalibration_sample
from tests.pipeline.helpers import assert_same_weights, weights_of

PF = 0.7


def _reference_statistics(model, images):
    """Per BatchNorm layer: mean and (unbiased) variance of its input over ``images``, the model
    run in training mode (each BatchNorm normalises with its batch's statistics), in numpy."""
    from fixtures.tfenv import keras

    layers = batchnorm_layers(model)
    probe = keras.Model(model.inputs, [layer.input for layer in layers])
    inputs = probe(images, training=True)
    out = []
    for value in inputs:
        value = np.asarray(value, dtype=np.float64).reshape(-1, value.shape[-1])
        out.append((value.mean(axis=0), value.var(axis=0, ddof=1)))
    return out


@pytest.mark.parametrize("method", ["magnitude", "filter"])
def test_one_pass_sets_the_batch_statistics(tiny_model, tiny_dataset, method):
    pruned = (magnitude_prune if method == "magnitude" else filter_prune)(tiny_model, PF)
    before = weights_of(pruned)
    images = np.asarray(tiny_dataset.x_train, dtype="float32")
    recalibrated = recalibrate_batchnorm(pruned, images, batch_size=len(images))
    assert_same_weights(before, pruned)  # the input is untouched
    # training-mode forward passes give every BatchNorm the same input in both models
    reference = _reference_statistics(recalibrated, images)
    for layer, (mean, var) in zip(batchnorm_layers(recalibrated), reference):
        gamma, beta, moving_mean, moving_var = layer.get_weights()
        np.testing.assert_allclose(moving_mean, mean, rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(moving_var, var, rtol=1e-2, atol=1e-4)
    # nothing but moving statistics changed; momentum restored
    for a, b in zip(pruned.layers, recalibrated.layers):
        if a in batchnorm_layers(pruned):
            np.testing.assert_array_equal(a.get_weights()[0], b.get_weights()[0])
            np.testing.assert_array_equal(a.get_weights()[1], b.get_weights()[1])
            assert a.momentum == b.momentum
        elif a.weights:
            for x, y in zip(a.get_weights(), b.get_weights()):
                np.testing.assert_array_equal(x, y)
    if method == "magnitude":
        assert measure_sparsity(recalibrated).by_layer() == measure_sparsity(pruned).by_layer()


def test_several_passes_average_the_batch_statistics(tiny_model, tiny_dataset):
    pruned = filter_prune(tiny_model, PF)
    images = np.asarray(tiny_dataset.x_train, dtype="float32")[:32]
    whole = recalibrate_batchnorm(pruned, images[:16], batch_size=16)
    other = recalibrate_batchnorm(pruned, images[16:], batch_size=16)
    both = recalibrate_batchnorm(pruned, images, batch_size=16)
    first = batchnorm_layers(whole)[0].get_weights()[2]
    second = batchnorm_layers(other)[0].get_weights()[2]
    # the stem's BatchNorm sees the same input whatever the statistics further on
    np.testing.assert_allclose(batchnorm_layers(both)[0].get_weights()[2], (first + second) / 2, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("method", ["magnitude", "filter"])
def test_in_place_gives_the_copy_s_statistics_whatever_the_model_held(tiny_model, tiny_dataset, method):
    """``copy=False`` re-estimates the model itself, to the statistics a copy gets; again on the
    already re-estimated model, the same ones (the first pass replaces what the layers held)."""
    pruned = (magnitude_prune if method == "magnitude" else filter_prune)(tiny_model, PF)
    images = np.asarray(tiny_dataset.x_train, dtype="float32")[:32]
    copied = recalibrate_batchnorm(pruned, images, batch_size=16)
    same = recalibrate_batchnorm(pruned, images, batch_size=16, copy=False)
    assert same is pruned
    expected = [layer.get_weights() for layer in batchnorm_layers(copied)]
    for _ in range(2):  # once, then again from the re-estimated statistics
        for layer, want in zip(batchnorm_layers(pruned), expected):
            for got, ref in zip(layer.get_weights(), want):
                np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
        recalibrate_batchnorm(pruned, images, batch_size=16, copy=False)
    assert batchnorm_layers(pruned)[0].momentum == batchnorm_layers(copied)[0].momentum


def test_bad_input_is_refused(tiny_model):
    with pytest.raises(ValueError, match="non-empty"):
        recalibrate_batchnorm(tiny_model, np.zeros((0, 32, 32, 3), dtype="float32"))
    with pytest.raises(ValueError, match="batch_size"):
        recalibrate_batchnorm(tiny_model, np.zeros((2, 32, 32, 3), dtype="float32"), batch_size=0)


def test_sample_is_seeded_spread_and_in_order():
    images = np.arange(100).reshape(100, 1, 1, 1)
    sample = recalibration_sample(images, 20, seed=3)
    assert len(sample) == 20 and np.all(np.diff(sample.ravel()) > 0)
    np.testing.assert_array_equal(sample, recalibration_sample(images, 20, seed=3))
    assert sample.ravel().max() >= 50  # not the first 20: a split is stored class by class
    assert recalibration_sample(images, None, seed=3) is images
    assert recalibration_sample(images, 500, seed=3) is images
    with pytest.raises(ValueError, match="sample size"):
        recalibration_sample(images, 0, seed=3)
