"""Re-estimating BatchNorm statistics of a pruned MobileNet v1 on unlabelled images.

Pruning in one shot changes what every BatchNormalization layer sees: after
magnitude pruning a pointwise layer's outputs shrink (70 % of its weights are
zero), after filter pruning each layer sums fewer input channels. The moving
mean and variance the layers learnt on the full model then normalise the wrong
distribution, every layer shifts the next one's input further, and inference
mode collapses to chance (measured on ``quick``: magnitude pf 60-85 % and every
filter-pruned model at top-1 0.10) although the kept weights still carry most of
the accuracy.

:func:`recalibrate_batchnorm` runs the pruned model forward on unlabelled images
with BatchNorm in training mode (batch statistics) and sets each layer's moving
mean and variance to the cumulative average of its batch statistics -- the same
rule as PyTorch's ``torch.optim.swa_utils.update_bn`` (momentum ``None``; Li et
al., "Revisiting Batch Normalization for Practical Domain Adaptation", 2016,
AdaBN). No weight, no gamma and no beta changes; labels are never read. A
magnitude-pruned model keeps its masks: tfmot's wrappers only recompute a mask
at pruning step 0, from the already pruned kernel, which gives the same mask
(checked by the tests).

The model passed in is untouched (a copy is recalibrated and returned), unless
``copy=False``: then its own moving statistics are re-estimated, which is what a
device does (the benchmark's chain hands the pruned model over; copying it cost
0.36-0.41 s of a 0.7-1.1 s case on ``quick``, more than the passes themselves
for filter-pruned models). The first pass sets every moving statistic to its
batch statistic (momentum 0), so the result does not depend on the statistics
the model held: re-estimating twice gives the same model as once.
"""

from __future__ import annotations

import numpy as np

# fixtures.tfenv first: it refuses to start without TF_USE_LEGACY_KERAS=1.
from fixtures.tfenv import keras, tf  # isort: skip

from pipeline.prune import copy_model

#: Images per forward pass [images]: each pass gives one batch statistic per channel; large
#: batches give statistics close to the population's (the cumulative average of a few passes).
RECALIBRATION_BATCH_SIZE = 256


def batchnorm_layers(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    """The model's BatchNormalization layers, in order (tfmot never wraps them)."""
    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


def recalibration_sample(images: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """``n`` of ``images`` drawn without replacement (seeded), in their original order; all when
    ``n`` is None or at least ``len(images)``. A dataset's splits are stored class by class, so
    the first ``n`` would hold only the first classes: their statistics are not the population's."""
    if n is None or n >= len(images):
        return images
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"recalibration sample size must be an integer >= 1 or None, got {n!r}")
    chosen = np.sort(np.random.default_rng(seed).choice(len(images), size=n, replace=False))
    return images[chosen]


def recalibrate_batchnorm(
    model: keras.Model, images: np.ndarray, *, batch_size: int = RECALIBRATION_BATCH_SIZE, copy: bool = True
) -> keras.Model:
    """A copy of ``model`` whose BatchNorm moving statistics are re-estimated on ``images``
    (``model`` itself, re-estimated in place, with ``copy=False``).

    Parameters
    ----------
    model : keras.Model
        Full, filter-pruned or magnitude-pruned (tfmot-wrapped) MobileNet v1; untouched
        unless ``copy`` is False.
    images : numpy.ndarray
        Unlabelled inputs ``[N, H, W, C]`` (the model's preprocessing already applied), N >= 1.
    batch_size : int
        Images per forward pass; pass k (1-based) moves each moving statistic by 1/k
        towards its batch statistic, so the result is the average over the passes.
    copy : bool
        Recalibrate a copy (default) or ``model`` itself (no copy made: the returned
        object is ``model``).

    Raises ``ValueError`` for an empty ``images`` or a model without BatchNormalization.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"recalibration needs a non-empty batch of images [N, H, W, C], got shape {images.shape}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    recalibrated = copy_model(model) if copy else model
    layers = batchnorm_layers(recalibrated)
    if not layers:
        raise ValueError(f"model {model.name!r} has no BatchNormalization layer to recalibrate")
    momenta = [layer.momentum for layer in layers]
    try:
        for k, start in enumerate(range(0, len(images), batch_size), start=1):
            # moving = momentum * moving + (1 - momentum) * batch; momentum (k-1)/k averages.
            for layer in layers:
                layer.momentum = (k - 1) / k
            recalibrated(tf.constant(images[start : start + batch_size]), training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    return recalibrated


__all__ = ["RECALIBRATION_BATCH_SIZE", "batchnorm_layers", "recalibrate_batchnorm", "recalibration_sample"]
