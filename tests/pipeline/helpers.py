"""Assertions shared by the pipeline tests."""

from __future__ import annotations

import numpy as np


def weights_of(model) -> list[np.ndarray]:
    """A deep copy of every variable of ``model`` (incl. masks of tfmot wrappers)."""
    return [np.array(v.numpy(), copy=True) for v in model.weights]


def assert_same_weights(before: list[np.ndarray], model) -> None:
    after = weights_of(model)
    assert len(before) == len(after)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
