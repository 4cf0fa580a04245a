"""Magnitude and filter pruning of the tiny MobileNet v1 (pipeline/prune.py)."""

from __future__ import annotations

import numpy as np
import pytest

from fixtures.tfenv import keras
from pipeline.prune import (
    FILTER_CRITERIA,
    MAGNITUDE_DENSE_LAYERS,
    MOBILENET_V1_BLOCKS,
    build_mobilenet_v1,
    filter_prune,
    filters_kept,
    is_pruning_wrapped,
    magnitude_prune,
    measure_sparsity,
    prune,
    filter_scores,
    select_filters,
    strip_pruning,
)
from tests.pipeline.helpers import assert_same_weights, weights_of

#: Factors the tests prune at (fractions; the study's 50 / 70 / 85 %).
FACTORS = [0.5, 0.7, 0.85]
#: Factors of the (slower) exactness test.
EXACT_FACTORS = [0.5, 0.85]
#: Tolerance of the exactness test (the issue's 1e-5).
EXACT_ATOL = 1e-5


def expected_zeros(size: int, pf: float) -> int:
    """Plain reference of tfmot's rule: keep round(size * (1 - pf)) weights, at least 1."""
    return size - max(1, int(np.floor(size * (1 - pf) + 0.5)))


def logits(model, x):
    """The pre-softmax outputs (``conv_preds``) of a MobileNet v1, inference mode."""
    return keras.Model(model.inputs, model.get_layer("reshape_2").output)(x, training=False).numpy()


def outputs(model, x):
    return model(x, training=False).numpy()


# ------------------------------------------------------------------ magnitude


@pytest.mark.parametrize("pf", FACTORS, ids=lambda pf: f"pf={round(pf * 100)}")
def test_magnitude_sparsity_equals_factor_per_layer(tiny_model, pf):
    before = weights_of(tiny_model)
    pruned = magnitude_prune(tiny_model, pf)
    assert_same_weights(before, tiny_model)
    assert is_pruning_wrapped(pruned)
    report = measure_sparsity(pruned)
    prunable = [w for w in report.layers if w.prunable]
    assert prunable, "tfmot pruned nothing"
    assert {w.layer for w in prunable} >= {"conv1", "conv_pw_1", "conv_pw_13", "conv_preds"}
    for w in prunable:
        assert w.weight == "kernel"
        expected = 0 if w.layer in MAGNITUDE_DENSE_LAYERS else expected_zeros(w.size, pf)
        assert w.zeros == expected, f"{w.layer}/{w.weight}"
    assert report.prunable_sparsity == pytest.approx(pf, abs=0.01)
    assert 0 < report.overall_sparsity < report.prunable_sparsity


@pytest.fixture(scope="module")
def magnitude_70(tiny_model):
    """The tiny model magnitude-pruned at 70 %; read only."""
    return magnitude_prune(tiny_model, 0.7)


def test_magnitude_keeps_the_largest_weights_unchanged(tiny_model, magnitude_70):
    pruned = strip_pruning(magnitude_70)
    for name in ("conv_pw_1", "conv_pw_5", "conv_preds"):
        original = tiny_model.get_layer(name).get_weights()[0]
        sparse = pruned.get_layer(name).get_weights()[0]
        kept = sparse != 0
        np.testing.assert_array_equal(sparse[kept], original[kept])
        assert np.abs(original[kept]).min() >= np.abs(original[~kept]).max()


def test_magnitude_leaves_the_stem_dense_unless_told(tiny_model, magnitude_70):
    assert MAGNITUDE_DENSE_LAYERS == ("conv1",)
    assert "conv1" not in {layer.layer.name for layer in magnitude_70.layers if hasattr(layer, "pruning_vars")}
    np.testing.assert_array_equal(
        strip_pruning(magnitude_70).get_layer("conv1").get_weights()[0], tiny_model.get_layer("conv1").get_weights()[0]
    )
    everything = measure_sparsity(magnitude_prune(tiny_model, 0.7, dense_layers=()))
    (stem,) = [w for w in everything.layers if w.layer == "conv1" and w.weight == "kernel"]
    assert stem.zeros == expected_zeros(stem.size, 0.7)
    assert everything.prunable_sparsity > measure_sparsity(magnitude_70).prunable_sparsity


def test_magnitude_leaves_depthwise_and_batchnorm_dense(magnitude_70):
    report = measure_sparsity(magnitude_70)
    pruned_layers = {w.layer for w in report.layers if w.prunable}
    assert not any(name.startswith("conv_dw_") for name in pruned_layers)
    assert not any(name.endswith("_bn") for name in pruned_layers)
    assert all(w.zeros == 0 for w in report.layers if w.layer.startswith("conv_dw_"))


def test_magnitude_factor_zero_is_an_unwrapped_copy(tiny_model):
    copy = magnitude_prune(tiny_model, 0)
    assert not is_pruning_wrapped(copy)
    assert_same_weights(weights_of(tiny_model), copy)
    assert not {id(v) for v in copy.weights} & {id(v) for v in tiny_model.weights}


def test_magnitude_refuses_a_wrapped_model(magnitude_70):
    with pytest.raises(ValueError, match="already wrapped"):
        magnitude_prune(magnitude_70, 0.5)


def test_strip_pruning_keeps_sparsity_and_shares_nothing(tiny_model, magnitude_70):
    wrapped = magnitude_70
    before = weights_of(wrapped)
    stripped = strip_pruning(wrapped)
    assert_same_weights(before, wrapped)
    assert not is_pruning_wrapped(stripped)
    assert measure_sparsity(stripped).prunable_sparsity == measure_sparsity(wrapped).prunable_sparsity
    assert not {id(v) for v in stripped.weights} & {id(v) for v in wrapped.weights}
    assert [layer.name for layer in stripped.layers] == [layer.name for layer in tiny_model.layers]


def test_measure_sparsity_of_the_full_model_is_zero(tiny_model):
    report = measure_sparsity(tiny_model)
    assert report.prunable_sparsity == 0
    assert report.overall_sparsity < 1e-3  # only the classifier's zero-initialised bias
    assert {w.layer for w in report.layers if w.prunable} >= {"conv1", "conv_pw_1", "conv_preds"}


# --------------------------------------------------------------------- filter


def test_filters_kept_rounds_and_keeps_one():
    assert filters_kept(32, 0.7) == 10
    assert filters_kept(8, 0.5) == 4
    assert filters_kept(2, 0.85) == 1
    assert filters_kept(1, 0.99) == 1
    assert filters_kept(16, 0.0) == 16


def test_select_filters_matches_an_l1_reference(tiny_model):
    kept = select_filters(tiny_model, 0.7, criterion="l1")
    for block in (1, 7, 13):
        kernel = tiny_model.get_layer(f"conv_pw_{block}").get_weights()[0]
        l1 = np.array([np.abs(kernel[..., j]).sum() for j in range(kernel.shape[-1])])
        n = filters_kept(kernel.shape[-1], 0.7)
        threshold = np.sort(l1)[::-1][n - 1]
        chosen = kept[f"conv_pw_{block}"]
        assert len(chosen) == n and np.all(np.diff(chosen) > 0)
        assert l1[chosen].min() >= threshold
        assert np.all(l1[np.setdiff1d(np.arange(len(l1)), chosen)] <= threshold)


@pytest.fixture(scope="module")
def calibrated_model(tiny_model, samples):
    """``tiny_model`` with BatchNorm statistics re-estimated on ``samples``: with its random moving
    statistics the last block's ReLU6 outputs are constant on them (zero variance everywhere)."""
    from pipeline.recalibrate import recalibrate_batchnorm

    return recalibrate_batchnorm(tiny_model, samples)


def _contribution_reference(model, images, block):
    """Plain reference of the measured contribution of ``conv_pw_<block>``'s filters."""
    if block < MOBILENET_V1_BLOCKS:
        carrier, consumer = f"conv_dw_{block + 1}_relu", f"conv_pw_{block + 1}"
    else:
        carrier, consumer = "global_average_pooling2d", "conv_preds"
    carrier = next(layer.name for layer in model.layers if layer.name.startswith(carrier))
    probe = keras.Model(model.inputs, [model.get_layer(carrier).output, model.get_layer(consumer).output])
    a, z = (v.numpy().astype(np.float64) for v in probe(images, training=False))
    var_a = a.reshape(-1, a.shape[-1]).var(axis=0)
    var_z = z.reshape(-1, z.shape[-1]).var(axis=0)
    assert var_a.max() > 0 and var_z.min() > 0, "degenerate test model"
    w = model.get_layer(consumer).get_weights()[0][0, 0].astype(np.float64)
    return np.array([var_a[k] * np.sum(w[k] ** 2 / var_z) for k in range(len(var_a))])


@pytest.mark.parametrize("block", [3, MOBILENET_V1_BLOCKS])
def test_contribution_scores_match_a_reference(calibrated_model, samples, block):
    scores = filter_scores(calibrated_model, "contribution", samples)[f"conv_pw_{block}"]
    np.testing.assert_allclose(scores, _contribution_reference(calibrated_model, samples, block), rtol=1e-4)


def test_contribution_statistics_pooled_over_batches_equal_one_batch(calibrated_model, samples, monkeypatch):
    """The per-channel moments are reduced per batch and merged (Chan's update): two batches (the
    second shorter) give the scores of one batch of all the images."""
    import pipeline.prune

    assert pipeline.prune.STATISTICS_BATCH_SIZE >= len(samples) > 3
    whole = filter_scores(calibrated_model, "contribution", samples)
    monkeypatch.setattr(pipeline.prune, "STATISTICS_BATCH_SIZE", len(samples) // 2 + 1)
    pooled = filter_scores(calibrated_model, "contribution", samples)
    for name in whole:
        np.testing.assert_allclose(pooled[name], whole[name], rtol=1e-5, err_msg=name)


@pytest.mark.parametrize("statistics", ["measured", "estimated"])
def test_contribution_keeps_what_the_next_layer_reads_not_the_largest_kernel(calibrated_model, samples, statistics):
    """A filter whose channel is switched off after the next depthwise conv (its BatchNorm gamma 0,
    beta -1: ReLU6 gives 0) carries nothing, however large its kernel; a filter whose channel the next
    pointwise layer weighs 30 times more carries the most, however small its kernel."""
    model = keras.models.clone_model(calibrated_model)
    model.set_weights(calibrated_model.get_weights())
    for block, consumer in ((3, "conv_pw_4"), (MOBILENET_V1_BLOCKS, "conv_preds")):
        l1 = np.abs(model.get_layer(f"conv_pw_{block}").get_weights()[0]).sum(axis=(0, 1, 2))
        dead, loud = int(np.argmax(l1)), int(np.argmin(l1))
        if block < MOBILENET_V1_BLOCKS:
            gamma, beta, mean, var = model.get_layer(f"conv_dw_{block + 1}_bn").get_weights()
            gamma[dead], beta[dead] = 0.0, -1.0
            model.get_layer(f"conv_dw_{block + 1}_bn").set_weights([gamma, beta, mean, var])
        else:
            gamma, beta, mean, var = model.get_layer(f"conv_pw_{block}_bn").get_weights()
            gamma[dead], beta[dead] = 0.0, -1.0
            model.get_layer(f"conv_pw_{block}_bn").set_weights([gamma, beta, mean, var])
        weights = model.get_layer(consumer).get_weights()
        weights[0][0, 0, loud] *= 30.0
        model.get_layer(consumer).set_weights(weights)
        images = samples if statistics == "measured" else None
        scores = filter_scores(model, "contribution", images)[f"conv_pw_{block}"]
        assert scores[dead] == pytest.approx(0.0, abs=1e-9) and scores[loud] == scores.max()
        kept = select_filters(model, 0.5, images=images)[f"conv_pw_{block}"]
        assert loud in kept and dead not in kept
        l1_kept = select_filters(model, 0.5, criterion="l1")[f"conv_pw_{block}"]
        assert dead in l1_kept and loud not in l1_kept  # what the L1 norm would have kept


def test_unknown_filter_criterion_is_refused(tiny_model):
    assert FILTER_CRITERIA[0] == "contribution"
    with pytest.raises(ValueError, match="'l2'"):
        select_filters(tiny_model, 0.5, criterion="l2")


@pytest.mark.parametrize("statistics", ["measured", "estimated"])
@pytest.mark.parametrize("pf", EXACT_FACTORS, ids=lambda pf: f"pf={round(pf * 100)}-filter")
def test_filter_prune_equals_dense_model_with_deleted_channels_zeroed(tiny_model, samples, pf, statistics):
    """The pruned model is the dense model whose deleted channels' BN gamma and beta are 0.

    With gamma = beta = 0 a channel's BN output is 0 whatever its moving mean and
    variance, ReLU6(0) = 0, and the depthwise conv of a zero channel is 0; the
    depthwise BN of that channel would then emit ReLU6(beta - gamma * mean /
    sqrt(var + eps)) != 0, so its gamma and beta are zeroed as well (the channel
    is deleted there too).
    """
    images = samples[:32] if statistics == "measured" else None
    before = weights_of(tiny_model)
    pruned = filter_prune(tiny_model, pf, images=images)
    assert_same_weights(before, tiny_model)

    reference = keras.models.clone_model(tiny_model)
    reference.set_weights(tiny_model.get_weights())
    for block, kept in enumerate(select_filters(tiny_model, pf, images=images).values(), start=1):
        width = tiny_model.get_layer(f"conv_pw_{block}").filters
        deleted = np.setdiff1d(np.arange(width), kept)
        bn_names = [f"conv_pw_{block}_bn"] + ([f"conv_dw_{block + 1}_bn"] if block < MOBILENET_V1_BLOCKS else [])
        for name in bn_names:
            gamma, beta, mean, var = reference.get_layer(name).get_weights()
            gamma[deleted] = 0
            beta[deleted] = 0
            reference.get_layer(name).set_weights([gamma, beta, mean, var])

    expected = logits(reference, samples)
    assert np.abs(expected).max() > 1e-3, "degenerate test: the logits are all ~0"
    np.testing.assert_allclose(logits(pruned, samples), expected, atol=EXACT_ATOL, rtol=0)
    np.testing.assert_allclose(outputs(pruned, samples), outputs(reference, samples), atol=EXACT_ATOL, rtol=0)


def test_filter_prune_shrinks_every_pointwise_layer(tiny_model):
    pruned = filter_prune(tiny_model, 0.7)
    assert pruned.count_params() < 0.4 * tiny_model.count_params()
    assert pruned.get_layer("conv1").filters == tiny_model.get_layer("conv1").filters  # stem kept
    for block in range(1, MOBILENET_V1_BLOCKS + 1):
        full = tiny_model.get_layer(f"conv_pw_{block}").filters
        assert pruned.get_layer(f"conv_pw_{block}").filters == filters_kept(full, 0.7)
    assert [layer.name for layer in pruned.layers] == [layer.name for layer in tiny_model.layers]
    assert pruned.get_layer("dropout").rate == tiny_model.get_layer("dropout").rate
    for name in ("conv1_bn", "conv_dw_3_bn", "conv_pw_13_bn"):  # BN configuration kept (fixtures.model: 0.9)
        assert pruned.get_layer(name).momentum == tiny_model.get_layer(name).momentum
        assert pruned.get_layer(name).epsilon == tiny_model.get_layer(name).epsilon
    assert pruned.output_shape == tiny_model.output_shape


def test_filter_factor_zero_is_an_unchanged_copy(tiny_model, samples):
    copy = filter_prune(tiny_model, 0)
    assert_same_weights(weights_of(tiny_model), copy)
    np.testing.assert_array_equal(outputs(copy, samples[:4]), outputs(tiny_model, samples[:4]))


def test_filter_prune_of_a_magnitude_pruned_model(magnitude_70):
    wrapped = magnitude_70
    pruned = filter_prune(wrapped, 0.5)
    assert not is_pruning_wrapped(pruned)
    assert is_pruning_wrapped(wrapped)


def test_filter_prune_needs_mobilenet_layer_names():
    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 1, name="conv_x")(inputs))
    with pytest.raises(ValueError, match="conv_pw_1"):
        filter_prune(model, 0.5)


def test_builder_with_full_widths_matches_keras_applications(tiny_model):
    widths = [tiny_model.get_layer(f"conv_pw_{b}").filters for b in range(1, MOBILENET_V1_BLOCKS + 1)]
    rebuilt = build_mobilenet_v1(
        tiny_model.input_shape[1:], tiny_model.get_layer("conv1").filters, widths, tiny_model.output_shape[-1]
    )
    assert rebuilt.count_params() == tiny_model.count_params()
    assert [w.shape for w in rebuilt.weights] == [w.shape for w in tiny_model.weights]


# ------------------------------------------------------------ pruning factors


@pytest.mark.parametrize("bad", [-0.1, 1, 1.0, 1.5, "100%", "abc", True], ids=repr)
@pytest.mark.parametrize("method", ["magnitude", "filter"])
def test_invalid_factors_are_refused(tiny_model, method, bad):
    with pytest.raises(ValueError, match=repr(bad).replace("(", r"\(").replace(".", r"\.")):
        prune(tiny_model, bad, method)


def test_percent_strings_are_accepted(tiny_model):
    for name, kept in select_filters(tiny_model, "70%").items():
        np.testing.assert_array_equal(kept, select_filters(tiny_model, 0.7)[name])


def test_unknown_method_is_refused(tiny_model):
    with pytest.raises(ValueError, match="'channel'"):
        prune(tiny_model, 0.5, "channel")
