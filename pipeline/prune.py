"""Pruning MobileNet v1: magnitude (tfmot, unstructured) and filter (structured, ours).

Both transforms return a new model and leave the one passed in untouched (its
weights are copied first: tfmot's ``prune_low_magnitude`` wraps the *same* layer
objects, so pruning the input directly would zero its kernels).

Magnitude pruning (:func:`magnitude_prune`) wraps every layer tfmot supports,
except the stem ``conv1`` (``MAGNITUDE_DENSE_LAYERS``), with
``PruneLowMagnitude`` under a ``ConstantSparsity(pf, begin_step=0, end_step=0,
frequency=1)`` schedule and applies the masks at once (one mask update at step 0
plus ``weight = weight * mask``), so the returned model is already sparse. tfmot
prunes the ``kernel`` of Conv2D and Dense layers (here ``conv_pw_1`` ...
``conv_pw_13`` and ``conv_preds``); depthwise kernels, BatchNorm, biases and the
stem's 3x3x3 kernel stay dense. The stem sees the raw image and holds a tiny share
of the weights (432 of the 790,448 Conv2D kernel weights on ``quick``); pruning it
cost 6 points of top-1 after fine-tuning at pf 70 % on ``quick``'s base model trained
without the gamma penalty (docs/pipeline.md), as tfmot's guide warns for first
layers. Because the schedule ends at step 0, fine-tuning with the
``UpdatePruningStep`` callback keeps the masks fixed: the sparsity of the pruned
kernels after fine-tuning equals the factor. :func:`strip_pruning` removes the wrappers for
export; a dense kernel with zeros is no faster, it only compresses better.

Filter pruning (:func:`filter_prune`) removes the factor's share of the
lowest-scoring filters (:func:`select_filters`: by default the share of the next
layer's output variance each filter's channel carries) of every pointwise Conv2D (``conv_pw_1`` ... ``conv_pw_13``)
and rebuilds a narrower MobileNet v1 (:func:`build_mobilenet_v1`, same layer
names as ``keras.applications.MobileNet``) into which the kept slices are copied:
the pointwise kernel's output channels and its BatchNorm, the next depthwise
kernel and its BatchNorm, the next pointwise kernel's input channels, and the
classifier's (``conv_preds``) input channels after ``conv_pw_13``. The stem
``conv1`` is not pruned (it is not a pointwise layer; it costs about 2 % of the
MACs and sees the raw image). kerassurgeon is not used: its package metadata pins
TensorFlow down to 2.15 and it does not handle DepthwiseConv2D / ReLU layers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
# fixtures.tfenv first: it refuses to start without TF_USE_LEGACY_KERAS=1, which tfmot
# would otherwise set by itself, too late for a Keras 3 already imported.
from fixtures.tfenv import keras, tf  # isort: skip
import tensorflow_model_optimization as tfmot
from tensorflow_model_optimization.python.core.sparsity.keras import prune_registry, pruning_wrapper

from fixtures.presets import parse_pruning_factor

#: Number of depthwise-separable blocks in MobileNet v1 (conv_dw_1/conv_pw_1 ... 13).
MOBILENET_V1_BLOCKS = 13
#: Blocks whose depthwise conv has stride 2 (keras.applications.MobileNet).
MOBILENET_V1_STRIDE2_BLOCKS = frozenset({2, 4, 6, 12})
#: ReLU cap of MobileNet v1.
RELU_CAP = 6.0
#: Keras layer names of a MobileNet v1 that filter pruning reads.
STEM_LAYER = "conv1"
CLASSIFIER_LAYER = "conv_preds"
DROPOUT_LAYER = "dropout"
#: Layers magnitude pruning leaves dense (not wrapped): the stem (see the module docstring).
MAGNITUDE_DENSE_LAYERS: tuple[str, ...] = (STEM_LAYER,)
#: How filter pruning ranks a pointwise layer's filters (see select_filters).
FILTER_CRITERION = "contribution"
FILTER_CRITERIA = ("contribution", "l1", "gamma")
#: Images per forward pass when filter pruning measures channel statistics (no effect on the result).
STATISTICS_BATCH_SIZE = 256


# --------------------------------------------------------------------- helpers


def copy_model(model: keras.Model) -> keras.Model:
    """An independent copy of ``model`` (same architecture, own variables, same values).

    Works for models with tfmot pruning wrappers (masks, thresholds and pruning
    step are copied too).
    """
    with tfmot.sparsity.keras.prune_scope():
        clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def is_pruning_wrapped(model: keras.Model) -> bool:
    """True when ``model`` holds tfmot ``PruneLowMagnitude`` wrappers."""
    return any(isinstance(layer, pruning_wrapper.PruneLowMagnitude) for layer in model.layers)


def _wrappers(model: keras.Model) -> list:
    return [layer for layer in model.layers if isinstance(layer, pruning_wrapper.PruneLowMagnitude)]


# --------------------------------------------------------- magnitude pruning


def _inner(layer):
    """The layer a tfmot wrapper wraps, or ``layer`` itself."""
    return layer.layer if isinstance(layer, pruning_wrapper.PruneLowMagnitude) else layer


def _fresh(layer):
    """A new, unbuilt layer with ``layer``'s configuration (no shared variables)."""
    return layer.__class__.from_config(layer.get_config())


def _is_prunable(layer) -> bool:
    """True when tfmot would prune a weight of ``layer`` (its registry lists one: Conv2D / Dense kernel)."""
    registry = prune_registry.PruneRegistry
    return registry.supports(layer) and bool(registry._weight_names(layer))


def _rebuild(model: keras.Model, clone_function) -> keras.Model:
    """Clone ``model`` with ``clone_function`` (fresh layers) and copy each layer's weights into it."""
    clone = keras.models.clone_model(model, clone_function=clone_function)
    for source, target in zip(model.layers, clone.layers):
        if _inner(source).name != _inner(target).name:
            raise RuntimeError(f"clone_model reordered layers: {_inner(source).name!r} vs {_inner(target).name!r}")
        if source.weights:
            _inner(target).set_weights(_inner(source).get_weights())
    return clone


def magnitude_prune(model: keras.Model, pf: float | str, *, dense_layers: Sequence[str] = MAGNITUDE_DENSE_LAYERS) -> keras.Model:
    """Magnitude-prune ``model`` to sparsity ``pf`` with tfmot; masks already applied.

    Parameters
    ----------
    model : keras.Model
        A functional model (not wrapped); left untouched.
    pf : float or str
        Pruning factor, a fraction in [0, 1) (``"70%"`` accepted); 0 returns an
        unchanged, unwrapped copy (the full model).
    dense_layers : sequence of str
        Names of layers left dense and unwrapped (default ``MAGNITUDE_DENSE_LAYERS``:
        the stem ``conv1``).

    Returns
    -------
    keras.Model
        A copy in which every other layer with a weight tfmot prunes (Conv2D and Dense
        kernels) is wrapped in ``PruneLowMagnitude`` (ConstantSparsity(pf), begin
        and end step 0), each such kernel already holding ``round(size * (1 - pf))``
        non-zeros. Only those layers are wrapped (tfmot's whole-model call would
        also wrap BatchNorm, ReLU, padding... with nothing to prune, 6x more
        wrappers, same result). Fine-tune it with ``UpdatePruningStep``; the masks
        stay fixed. Export with :func:`strip_pruning`.
    """
    pf = parse_pruning_factor(pf)
    if is_pruning_wrapped(model):
        raise ValueError(f"model {model.name!r} is already wrapped for pruning; strip_pruning() it first")
    if pf == 0:
        return copy_model(model)
    schedule = tfmot.sparsity.keras.ConstantSparsity(pf, begin_step=0, end_step=0, frequency=1)

    def wrap(layer):
        fresh = _fresh(layer)
        if _is_prunable(layer) and layer.name not in dense_layers:
            return tfmot.sparsity.keras.prune_low_magnitude(fresh, pruning_schedule=schedule)
        return fresh

    pruned = _rebuild(model, wrap)
    for wrapper in _wrappers(pruned):
        # What UpdatePruningStep + one training step would do, without training:
        # step 0 is inside [begin_step, end_step], so the masks are recomputed at
        # sparsity pf, then the weights are multiplied by them.
        wrapper.pruning_step.assign(0)
        wrapper.pruning_obj.conditional_mask_update()
        wrapper.pruning_obj.weight_mask_op()
    return pruned


def strip_pruning(model: keras.Model) -> keras.Model:
    """``model`` without tfmot wrappers, as an independent copy (the input is untouched).

    Same result as ``tfmot.sparsity.keras.strip_pruning``, whose output reuses
    the wrapped layer objects; here the result shares no variable with
    ``model``. An unwrapped model is returned as a copy too.
    """
    return _rebuild(model, lambda layer: _fresh(_inner(layer)))


@dataclass(frozen=True)
class LayerSparsity:
    """Zeros of one weight tensor. ``prunable``: tfmot prunes this weight."""

    layer: str
    weight: str
    size: int
    zeros: int
    prunable: bool

    @property
    def sparsity(self) -> float:
        return self.zeros / self.size if self.size else 0.0


@dataclass(frozen=True)
class SparsityReport:
    """Sparsity measured from the weights (not from the masks or the schedule)."""

    layers: tuple[LayerSparsity, ...]

    @property
    def prunable_size(self) -> int:
        return sum(w.size for w in self.layers if w.prunable)

    @property
    def prunable_sparsity(self) -> float:
        """Share of zeros over the weights tfmot prunes (Conv2D / Dense kernels)."""
        size = self.prunable_size
        return sum(w.zeros for w in self.layers if w.prunable) / size if size else 0.0

    @property
    def overall_sparsity(self) -> float:
        """Share of zeros over all weights (kernels, biases, BatchNorm incl. moving statistics)."""
        size = sum(w.size for w in self.layers)
        return sum(w.zeros for w in self.layers) / size if size else 0.0

    def by_layer(self) -> dict[str, float]:
        """Sparsity of each prunable weight, keyed ``layer/weight``."""
        return {f"{w.layer}/{w.weight}": w.sparsity for w in self.layers if w.prunable}


def _short_name(variable) -> str:
    return variable.name.split("/")[-1].split(":")[0]


def measure_sparsity(model: keras.Model) -> SparsityReport:
    """Count zeros in every weight of ``model`` (wrapped or not), per layer.

    A weight is *prunable* when tfmot would prune it: for a wrapped model, the
    wrapper's pruned weights; otherwise the weights tfmot's prune registry lists
    for the layer type (Conv2D / Dense ``kernel``). Masks, thresholds and the
    pruning step are not weights and are not counted.
    """
    entries = []
    for layer in model.layers:
        if isinstance(layer, pruning_wrapper.PruneLowMagnitude):
            inner = layer.layer
            prunable_ids = {id(weight) for weight, _mask, _threshold in layer.pruning_vars}
        else:
            inner = layer
            names = prune_registry.PruneRegistry._weight_names(inner) if prune_registry.PruneRegistry.supports(inner) else []
            prunable_ids = {id(w) for w in inner.weights if _short_name(w) in names}
        for variable in inner.weights:
            value = variable.numpy()
            entries.append(
                LayerSparsity(
                    layer=inner.name,
                    weight=_short_name(variable),
                    size=int(value.size),
                    zeros=int(value.size - np.count_nonzero(value)),
                    prunable=id(variable) in prunable_ids,
                )
            )
    return SparsityReport(layers=tuple(entries))


# ------------------------------------------------------------ filter pruning


def filters_kept(n_filters: int, pf: float) -> int:
    """Filters a layer of ``n_filters`` keeps at factor ``pf``: round(n (1 - pf)), at least 1."""
    return max(1, min(n_filters, math.floor(n_filters * (1 - pf) + 0.5)))


def _layer_after(model: keras.Model, name: str):
    """The layer that follows ``name`` in a MobileNet v1 (a chain: the next in ``model.layers``)."""
    names = [layer.name for layer in model.layers]
    if name not in names or names.index(name) + 1 >= len(names):
        raise ValueError(f"model {model.name!r} has no layer after {name!r}: not a MobileNet v1")
    return model.layers[names.index(name) + 1]


def build_mobilenet_v1(
    input_shape: tuple[int, int, int],
    stem_filters: int,
    pointwise_filters: Sequence[int],
    num_classes: int,
    *,
    dropout: float = 1e-3,
    bn_momentum: float = 0.99,
    bn_epsilon: float = 1e-3,
    name: str = "mobilenet_v1",
    input_name: str | None = None,
    pool_name: str = "global_average_pooling2d",
    reshape_name: str = "reshape_2",
) -> keras.Model:
    """MobileNet v1 with explicit filter counts per layer (depth multiplier 1).

    Same layer names, order and hyper-parameters as
    ``keras.applications.MobileNet(include_top=True)``, so weights can be copied by
    name. ``pointwise_filters`` holds the 13 output widths of ``conv_pw_1`` ...
    ``conv_pw_13``. ``bn_momentum`` and ``bn_epsilon`` apply to every
    BatchNormalization (Keras' defaults; ``fixtures.model`` trains with 0.9).
    ``keras.applications`` leaves the pooling and reshape layers to Keras'
    automatic naming (``global_average_pooling2d_17`` in a process that built
    17 before): ``pool_name`` / ``reshape_name`` let a rebuilt model keep its
    source's names.
    """
    if len(pointwise_filters) != MOBILENET_V1_BLOCKS or min(pointwise_filters) < 1 or stem_filters < 1:
        raise ValueError(
            f"need stem_filters >= 1 and {MOBILENET_V1_BLOCKS} pointwise widths >= 1, "
            f"got stem_filters={stem_filters!r}, pointwise_filters={list(pointwise_filters)!r}"
        )
    layers = keras.layers

    def batchnorm(name: str):
        return layers.BatchNormalization(axis=-1, momentum=bn_momentum, epsilon=bn_epsilon, name=name)

    inputs = layers.Input(shape=input_shape, name=input_name)
    x = layers.Conv2D(stem_filters, (3, 3), padding="same", use_bias=False, strides=(2, 2), name=STEM_LAYER)(inputs)
    x = batchnorm("conv1_bn")(x)
    x = layers.ReLU(RELU_CAP, name="conv1_relu")(x)
    for block, width in enumerate(pointwise_filters, start=1):
        strided = block in MOBILENET_V1_STRIDE2_BLOCKS
        if strided:
            x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block}")(x)
        x = layers.DepthwiseConv2D(
            (3, 3),
            padding="valid" if strided else "same",
            depth_multiplier=1,
            strides=(2, 2) if strided else (1, 1),
            use_bias=False,
            name=f"conv_dw_{block}",
        )(x)
        x = batchnorm(f"conv_dw_{block}_bn")(x)
        x = layers.ReLU(RELU_CAP, name=f"conv_dw_{block}_relu")(x)
        x = layers.Conv2D(int(width), (1, 1), padding="same", use_bias=False, strides=(1, 1), name=f"conv_pw_{block}")(x)
        x = batchnorm(f"conv_pw_{block}_bn")(x)
        x = layers.ReLU(RELU_CAP, name=f"conv_pw_{block}_relu")(x)
    x = layers.GlobalAveragePooling2D(keepdims=True, name=pool_name)(x)
    x = layers.Dropout(dropout, name=DROPOUT_LAYER)(x)
    x = layers.Conv2D(num_classes, (1, 1), padding="same", name=CLASSIFIER_LAYER)(x)
    x = layers.Reshape((num_classes,), name=reshape_name)(x)
    x = layers.Activation("softmax", name="predictions")(x)
    return keras.Model(inputs, x, name=name)


def _mobilenet_layer(model: keras.Model, name: str):
    try:
        return model.get_layer(name)
    except ValueError:
        raise ValueError(
            f"filter_prune needs a keras.applications MobileNet v1 (layer {name!r} is missing from model {model.name!r})"
        ) from None


def _consumers(model: keras.Model) -> list[tuple[str, str]]:
    """(what carries channel k of ``conv_pw_<i>`` on, the layer that weighs it) for i = 1 ... 13.

    Deleting filter k of ``conv_pw_<i>`` deletes channel k of ``conv_dw_<i+1>`` (depthwise: channel k
    sees only channel k), so channel k reaches the rest of the network only as channel k of
    ``conv_dw_<i+1>_relu``, weighed by row k of ``conv_pw_<i+1>``'s kernel; after block 13, as
    feature k of the global pooling, weighed by row k of ``conv_preds``.
    """
    taps = [(f"conv_dw_{block + 1}_relu", f"conv_pw_{block + 1}") for block in range(1, MOBILENET_V1_BLOCKS)]
    return taps + [(_layer_after(model, "conv_pw_13_relu").name, CLASSIFIER_LAYER)]


def _measured_variances(model: keras.Model, images) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per block, (variance of each carried channel a_k, variance of each output z_o of the layer that
    weighs it), over the images and positions, inference mode; ``z`` before BatchNorm / softmax."""
    taps = _consumers(model)
    probe = keras.Model(
        model.inputs, [_mobilenet_layer(model, name).output for pair in taps for name in pair]
    )
    x = np.asarray(images, dtype=np.float32)
    if x.ndim != 4 or len(x) == 0:
        raise ValueError(f"filter statistics need a non-empty batch of images [N, H, W, C], got shape {x.shape}")
    # Each output is reduced per batch where TensorFlow computed it (count, mean, sum of squared
    # deviations per channel) and the batches are merged in float64 (Chan et al.'s pairwise update):
    # copying the 26 feature maps of 512 images out as float64 arrays (~550 MB) cost more than the pass.
    totals: list[tuple[float, np.ndarray, np.ndarray]] | None = None
    for start in range(0, len(x), STATISTICS_BATCH_SIZE):
        parts = []
        for output in probe(x[start : start + STATISTICS_BATCH_SIZE], training=False):
            flat = tf.reshape(output, (-1, output.shape[-1]))
            mean = tf.reduce_mean(flat, axis=0)
            squares = tf.reduce_sum(tf.square(flat - mean), axis=0)
            parts.append((float(flat.shape[0]), mean.numpy().astype(np.float64), squares.numpy().astype(np.float64)))
        totals = parts if totals is None else [_merge_moments(a, b) for a, b in zip(totals, parts)]
    variance = [squares / count for count, _mean, squares in totals]
    return [(variance[2 * i], variance[2 * i + 1]) for i in range(len(taps))]


def _merge_moments(a: tuple[float, np.ndarray, np.ndarray], b: tuple[float, np.ndarray, np.ndarray]):
    """(count, mean, sum of squared deviations) of two samples pooled."""
    (n_a, mean_a, m2_a), (n_b, mean_b, m2_b) = a, b
    n = n_a + n_b
    delta = mean_b - mean_a
    return n, mean_a + delta * (n_b / n), m2_a + m2_b + delta**2 * (n_a * n_b / n)


def _estimated_variances(model: keras.Model) -> list[tuple[np.ndarray, np.ndarray]]:
    """As :func:`_measured_variances`, from the weights alone: a_k = ReLU6(gamma_k n + beta_k) of the
    carried channel's BatchNorm with n ~ N(0, 1) (what its moving statistics normalise to), var(z_o)
    the moving variance of the next BatchNorm (1 for ``conv_preds``)."""
    n = np.linspace(-6.0, 6.0, 241)
    pdf = np.exp(-0.5 * n**2)
    pdf /= pdf.sum()
    result = []
    for block, (_carrier, consumer) in enumerate(_consumers(model), start=1):
        bn = f"conv_dw_{block + 1}_bn" if block < MOBILENET_V1_BLOCKS else "conv_pw_13_bn"
        gamma, beta, _mean, _var = _mobilenet_layer(model, bn).get_weights()
        a = np.clip(gamma[:, None] * n[None, :] + beta[:, None], 0.0, RELU_CAP)
        var_a = a**2 @ pdf - (a @ pdf) ** 2
        if block < MOBILENET_V1_BLOCKS:
            var_z = _mobilenet_layer(model, f"{consumer}_bn").get_weights()[3]
        else:
            var_z = np.ones(_mobilenet_layer(model, consumer).filters)
        result.append((var_a, var_z))
    return result


def filter_scores(model: keras.Model, criterion: str = FILTER_CRITERION, images=None) -> dict[str, np.ndarray]:
    """Each ``conv_pw_<i>`` filter's score under ``criterion`` (see :func:`select_filters`), keyed by layer."""
    if criterion not in FILTER_CRITERIA:
        raise ValueError(f"unknown filter criterion {criterion!r}; known criteria: {', '.join(FILTER_CRITERIA)}")
    names = [f"conv_pw_{block}" for block in range(1, MOBILENET_V1_BLOCKS + 1)]
    if criterion == "l1":
        return {name: np.abs(_mobilenet_layer(model, name).get_weights()[0]).sum(axis=(0, 1, 2)) for name in names}
    if criterion == "gamma":
        return {name: np.abs(_mobilenet_layer(model, f"{name}_bn").get_weights()[0]) for name in names}
    variances = _estimated_variances(model) if images is None else _measured_variances(model, images)
    scores = {}
    for name, (_carrier, consumer), (var_a, var_z) in zip(names, _consumers(model), variances):
        rows = _mobilenet_layer(model, consumer).get_weights()[0][0, 0].astype(np.float64)  # [channels, outputs]
        scores[name] = var_a * (rows**2 / np.maximum(var_z, 1e-12)).sum(axis=1)
    return scores


def select_filters(model: keras.Model, pf: float | str, *, criterion: str = FILTER_CRITERION, images=None) -> dict[str, np.ndarray]:
    """Indices (ascending) of the filters each ``conv_pw_<i>`` keeps at factor ``pf``.

    The kept filters are the ``filters_kept(n, pf)`` with the highest score; ties keep the lower index.
    Criteria (``FILTER_CRITERIA``):

    - ``"contribution"`` (default): the share of the next layer's output variance that the filter's
      channel carries, ``var(a_k) * sum_o W[k, o]^2 / var(z_o)`` -- ``a_k`` the channel where the next
      layer reads it (``conv_dw_<i+1>_relu``; after block 13 the pooled feature), ``W`` the next
      pointwise kernel (``conv_preds``), ``z_o`` its outputs before BatchNorm. Deleting the channel
      removes that share (its mean is restored by BatchNorm re-estimation). The variances are measured
      on ``images`` (unlabelled, inference mode) or, without them, estimated from the BatchNorm
      parameters and moving variances (measured on ``quick``: worse, see docs/pipeline.md).
    - ``"l1"``: the L1 norm of the filter's kernel slice ``kernel[:, :, :, j]`` (Li et al. 2017).
    - ``"gamma"``: |gamma| of the filter's BatchNorm (network slimming, Liu et al. 2017).
    """
    pf = parse_pruning_factor(pf)
    kept = {}
    for name, score in filter_scores(model, criterion, images).items():
        order = np.argsort(-score, kind="stable")
        kept[name] = np.sort(order[: filters_kept(len(score), pf)])
    return kept


def filter_prune(model: keras.Model, pf: float | str, *, criterion: str = FILTER_CRITERION, images=None) -> keras.Model:
    """Remove the share ``pf`` of lowest-scoring filters from each pointwise conv of a MobileNet v1.

    Parameters
    ----------
    model : keras.Model
        A ``keras.applications.MobileNet`` (include_top, depth multiplier 1), or a
        model with the same layer names; left untouched. A tfmot-wrapped model is
        stripped first.
    pf : float or str
        Pruning factor, a fraction in [0, 1); 0 returns an unchanged copy.
    criterion : str
        How filters are ranked (:func:`select_filters`); default ``"contribution"``.
    images : numpy.ndarray or None
        Unlabelled inputs ``[N, H, W, C]`` the ``"contribution"`` criterion measures channel
        variances on (one inference pass); None: estimated from BatchNorm parameters instead.

    Returns
    -------
    keras.Model
        A narrower, dense MobileNet v1 (:func:`build_mobilenet_v1`) holding the
        kept slices. Its outputs are those of the input model with the deleted
        channels' BatchNorm scale and shift set to zero, in ``conv_pw_<i>_bn``
        and in the next ``conv_dw_<i+1>_bn`` (the channels then carry 0 after
        ReLU6, whatever the moving statistics).
    """
    pf = parse_pruning_factor(pf)
    if is_pruning_wrapped(model):
        model = strip_pruning(model)
    if pf == 0:
        return copy_model(model)
    kept = select_filters(model, pf, criterion=criterion, images=images)
    stem = _mobilenet_layer(model, STEM_LAYER)
    classifier = _mobilenet_layer(model, CLASSIFIER_LAYER)
    for block in range(1, MOBILENET_V1_BLOCKS + 1):
        multiplier = _mobilenet_layer(model, f"conv_dw_{block}").depth_multiplier
        if multiplier != 1:
            raise ValueError(f"filter_prune supports depth_multiplier 1 only, got {multiplier!r} in conv_dw_{block}")
    dropout = model.get_layer(DROPOUT_LAYER).rate if DROPOUT_LAYER in {layer.name for layer in model.layers} else 0.0
    stem_bn = _mobilenet_layer(model, "conv1_bn")
    pruned = build_mobilenet_v1(
        tuple(model.input_shape[1:]),
        stem.filters,
        [len(kept[f"conv_pw_{block}"]) for block in range(1, MOBILENET_V1_BLOCKS + 1)],
        classifier.filters,
        dropout=dropout,
        bn_momentum=stem_bn.momentum,
        bn_epsilon=stem_bn.epsilon,
        name=f"{model.name}_filter_pf{round(pf * 100)}",
        input_name=model.layers[0].name,
        pool_name=_layer_after(model, "conv_pw_13_relu").name,
        reshape_name=_layer_after(model, CLASSIFIER_LAYER).name,
    )

    def copy(name: str, weights: list[np.ndarray]) -> None:
        pruned.get_layer(name).set_weights([np.ascontiguousarray(w) for w in weights])

    def bn(name: str, idx) -> list[np.ndarray]:
        # gamma, beta, moving mean, moving variance: all per channel
        return [w[idx] for w in model.get_layer(name).get_weights()]

    copy(STEM_LAYER, stem.get_weights())
    copy("conv1_bn", model.get_layer("conv1_bn").get_weights())
    previous = slice(None)  # the stem keeps all its channels
    for block in range(1, MOBILENET_V1_BLOCKS + 1):
        out = kept[f"conv_pw_{block}"]
        (dw_kernel,) = model.get_layer(f"conv_dw_{block}").get_weights()
        copy(f"conv_dw_{block}", [dw_kernel[:, :, previous, :]])
        copy(f"conv_dw_{block}_bn", bn(f"conv_dw_{block}_bn", previous))
        (pw_kernel,) = model.get_layer(f"conv_pw_{block}").get_weights()
        copy(f"conv_pw_{block}", [pw_kernel[:, :, previous, :][:, :, :, out]])
        copy(f"conv_pw_{block}_bn", bn(f"conv_pw_{block}_bn", out))
        previous = out
    kernel, bias = classifier.get_weights()
    copy(CLASSIFIER_LAYER, [kernel[:, :, previous, :], bias])
    return pruned


def prune(model: keras.Model, pf: float | str, method: str, *, images=None) -> keras.Model:
    """Dispatch to :func:`magnitude_prune` or :func:`filter_prune` by ``method``; ``images`` go to
    :func:`filter_prune` (its filter statistics) and are not used by magnitude pruning."""
    if method not in PRUNING_METHODS:
        raise ValueError(f"unknown pruning method {method!r}; known methods: {', '.join(sorted(PRUNING_METHODS))}")
    if method == "filter":
        return filter_prune(model, pf, images=images)
    return PRUNING_METHODS[method](model, pf)


#: The pruning methods of the results contract (``pruning_method``).
PRUNING_METHODS = {"magnitude": magnitude_prune, "filter": filter_prune}

__all__ = [
    "PRUNING_METHODS",
    "LayerSparsity",
    "SparsityReport",
    "build_mobilenet_v1",
    "copy_model",
    "filter_prune",
    "filter_scores",
    "filters_kept",
    "is_pruning_wrapped",
    "magnitude_prune",
    "measure_sparsity",
    "prune",
    "select_filters",
    "strip_pruning",
]
