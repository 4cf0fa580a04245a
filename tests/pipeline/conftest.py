"""Shared fixtures of the pipeline tests: the ``tiny`` preset, a tiny MobileNet v1, data.

The model is randomly initialised, then its BatchNorm parameters and moving
statistics are randomised too (the defaults 1/0/0/1 would hide slicing errors in
them). Data comes from ``fixtures.dataset.dataset_for`` (the embedded dataset).
"""

from __future__ import annotations

import numpy as np
import pytest

from fixtures.presets import get_preset
from fixtures.tfenv import keras

SEED = 7


@pytest.fixture(scope="session")
def preset():
    return get_preset("tiny")


def randomise_batchnorm(model, seed: int = SEED) -> None:
    """Give every BatchNormalization non-trivial gamma, beta, moving mean and variance."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.get_weights()[0].shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, n).astype("float32"),
                    rng.normal(0.0, 0.2, n).astype("float32"),
                    rng.normal(0.0, 0.2, n).astype("float32"),
                    rng.uniform(0.5, 1.5, n).astype("float32"),
                ]
            )


@pytest.fixture(scope="session")
def tiny_model(preset):
    """A random tiny MobileNet v1 shared by the tests: never modify it (tests check it is untouched)."""
    from fixtures.model import build_mobilenet

    keras.utils.set_random_seed(SEED)
    model = build_mobilenet(preset)
    randomise_batchnorm(model)
    return model


@pytest.fixture(scope="session")
def tiny_dataset(preset, tmp_path_factory):
    """The ``tiny`` embedded dataset (in a temporary cache)."""
    from fixtures.dataset import dataset_for

    return dataset_for(preset, cache_root=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def samples(preset, tiny_dataset):
    """Inputs for output comparisons: the test split plus seeded random images (at least 64)."""
    rng = np.random.default_rng(SEED + 1)
    extra = rng.uniform(-1, 1, (64, preset.input_size, preset.input_size, 3)).astype("float32")
    return np.concatenate([np.asarray(tiny_dataset.x_test, dtype="float32"), extra])


@pytest.fixture(scope="session")
def tiny_teacher(tiny_model, tiny_dataset):
    """``tiny_model``'s probabilities on the training split: the teacher a distilling preset needs."""
    from fixtures.teacher import teacher_probabilities

    return teacher_probabilities(tiny_model, tiny_dataset.x_train)
