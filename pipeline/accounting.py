"""Size and compute of a model, from its weights and layer shapes.

MACs (multiply-accumulates) of one inference of one sample, for the layers that
dominate MobileNet v1:

- Conv2D: ``H_out * W_out * C_out * (k_h * k_w * C_in / groups)``
- DepthwiseConv2D: ``H_out * W_out * C_in * depth_multiplier * k_h * k_w``
- Dense: ``C_in * C_out`` (times the positions when applied to a feature map)

Batch normalisation, activations, pooling and biases are not counted (as in the
MobileNet paper's Mult-Adds). ``nonzero_macs`` counts only the products with a
non-zero weight: what sparse kernels could skip, not what a dense runtime does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fixtures.tfenv import keras

#: Bytes of one float32 parameter.
FLOAT32_BYTES = 4


@dataclass(frozen=True)
class LayerAccount:
    """One layer: parameters, non-zero parameters, MACs (dense and with non-zero weights only)."""

    name: str
    kind: str
    params: int
    nonzero_params: int
    macs: int
    nonzero_macs: int


@dataclass(frozen=True)
class ModelAccount:
    """Totals over a model. ``bytes``: the parameters stored as float32 [byte] (4 per parameter)."""

    params: int
    nonzero_params: int
    macs: int
    nonzero_macs: int
    bytes: int
    layers: tuple[LayerAccount, ...]

    @property
    def sparsity(self) -> float:
        """Share of zero parameters over all parameters."""
        return 1 - self.nonzero_params / self.params if self.params else 0.0


def _positions(output_shape) -> int:
    """Spatial positions of a layer's output (1 for a vector)."""
    shape = output_shape[0] if isinstance(output_shape, list) else output_shape
    return int(np.prod([d for d in shape[1:-1]], dtype=np.int64)) if len(shape) > 2 else 1


def _layer_macs(layer, output_shape, kernel: np.ndarray) -> tuple[int, int] | None:
    """(dense MACs, MACs with non-zero weights) of a Conv2D / DepthwiseConv2D / Dense layer, else None.

    Every kernel weight is used once per output position: Conv2D kernels are
    ``[kh, kw, C_in / groups, C_out]``, depthwise ``[kh, kw, C_in, multiplier]``,
    dense ``[C_in, C_out]``, so MACs = positions * kernel size.
    """
    if not isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)):
        return None
    positions = _positions(output_shape)
    return positions * int(kernel.size), positions * int(np.count_nonzero(kernel))


def account(model) -> ModelAccount:
    """Parameters, non-zero parameters, MACs and bytes of ``model`` (full or pruned).

    tfmot wrappers are looked through (their masks, thresholds and step are not
    parameters). Counts every weight (kernels, biases, BatchNorm incl. moving
    statistics), as ``model.count_params()`` does for a plain model.
    """
    entries = []
    for outer in model.layers:
        layer = getattr(outer, "layer", outer)  # PruneLowMagnitude -> wrapped layer
        values = [w.numpy() for w in layer.weights]
        if not values:
            continue
        params = sum(v.size for v in values)
        nonzero = sum(int(np.count_nonzero(v)) for v in values)
        kernel_names = ("kernel", "depthwise_kernel")
        kernels = [w.numpy() for w in layer.weights if w.name.split("/")[-1].split(":")[0] in kernel_names]
        # a wrapped layer is called inside its wrapper: the shape is the wrapper's
        macs = _layer_macs(layer, outer.output_shape, kernels[0]) if kernels else None
        dense_macs, nonzero_macs = macs if macs is not None else (0, 0)
        entries.append(LayerAccount(layer.name, type(layer).__name__, params, nonzero, dense_macs, nonzero_macs))
    return ModelAccount(
        params=sum(e.params for e in entries),
        nonzero_params=sum(e.nonzero_params for e in entries),
        macs=sum(e.macs for e in entries),
        nonzero_macs=sum(e.nonzero_macs for e in entries),
        bytes=sum(e.params for e in entries) * FLOAT32_BYTES,
        layers=tuple(entries),
    )


__all__ = ["FLOAT32_BYTES", "LayerAccount", "ModelAccount", "account"]
