"""Model files: .keras, .h5, .tflite, their sizes and round trips (pipeline/serialize.py)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from fixtures.tfenv import keras
from pipeline.infer import LiteRTRunner
from pipeline.prune import filter_prune, is_pruning_wrapped, magnitude_prune, measure_sparsity
from pipeline.serialize import gzip_size, load_model, serialize_model
from tests.pipeline.helpers import assert_same_weights, weights_of


def outputs(model, x):
    return model(x, training=False).numpy()


@pytest.fixture(scope="module")
def models(tiny_model):
    return {
        "full": tiny_model,
        "filter": filter_prune(tiny_model, 0.7),
        "magnitude": magnitude_prune(tiny_model, 0.7),
    }


@pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file:UserWarning")
@pytest.mark.parametrize("fmt", ["keras", "h5"])
@pytest.mark.parametrize("method", ["full", "filter", "magnitude"])
def test_keras_round_trip_gives_identical_outputs(models, samples, tmp_path, fmt, method):
    model = models[method]
    before = weights_of(model)
    saved = serialize_model(model, fmt, tmp_path / f"m.{fmt}")
    assert_same_weights(before, model)
    data = saved.path.read_bytes()
    assert saved.format == fmt and saved.bytes == len(data)
    assert saved.gzip_bytes == len(gzip.compress(data, compresslevel=6, mtime=0))
    reloaded = load_model(saved.path)
    assert not is_pruning_wrapped(reloaded)  # wrappers were stripped before saving
    np.testing.assert_array_equal(outputs(reloaded, samples), outputs(model, samples))
    assert measure_sparsity(reloaded).by_layer() == measure_sparsity(model).by_layer()


@pytest.mark.parametrize("method", ["full", "magnitude"])
def test_tflite_file_runs_like_the_keras_model(models, samples, tmp_path, method):
    saved = serialize_model(models[method], "tflite", tmp_path / "m.tflite")
    data = saved.path.read_bytes()
    assert saved.bytes == len(data) and saved.gzip_bytes == gzip_size(data)
    from_file = LiteRTRunner(saved.path)
    litert = np.concatenate([from_file.run(x) for x in samples[:16]])
    np.testing.assert_allclose(litert, outputs(models[method], samples[:16]), atol=1e-4)


def test_gzip_size_is_reproducible_and_sparsity_compresses(models, tmp_path):
    assert gzip_size(b"abc" * 100) == gzip_size(b"abc" * 100)
    full = serialize_model(models["full"], "keras", tmp_path / "full.keras")
    sparse = serialize_model(models["magnitude"], "keras", tmp_path / "sparse.keras")
    narrow = serialize_model(models["filter"], "keras", tmp_path / "narrow.keras")
    assert sparse.bytes > 0.8 * full.bytes  # dense storage: zeros cost as much as any float
    assert sparse.gzip_bytes < 0.7 * full.gzip_bytes
    assert narrow.bytes < 0.5 * full.bytes


def test_bad_formats_and_suffixes_are_refused(models, tmp_path):
    with pytest.raises(ValueError, match="'onnx'"):
        serialize_model(models["full"], "onnx", tmp_path / "m.onnx")
    with pytest.raises(ValueError, match=r"\.keras"):
        serialize_model(models["full"], "keras", tmp_path / "m.h5")
    with pytest.raises(ValueError, match="LiteRTRunner"):
        load_model(tmp_path / "m.tflite")


def test_keras_files_load_in_safe_mode(tmp_path):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2.0)(inputs))
    path = tmp_path / "lambda.keras"
    model.save(str(path))
    with pytest.raises(ValueError, match="safe_mode"):
        load_model(path)


def lambda_model(marker):
    """A model whose Lambda layer leaves ``marker`` behind whenever Keras rebuilds it from the file."""
    inputs = keras.Input((4,))
    touch = lambda t: (open(marker, "w").close(), t * 2.0)[1]  # noqa: E731 (the layer stores its bytecode)
    return keras.Model(inputs, keras.layers.Lambda(touch)(inputs))


@pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file")
@pytest.mark.parametrize("name", ["lambda.h5", "lambda-h5-named.keras"])
def test_files_the_legacy_loader_takes_never_run_their_lambdas(tmp_path, name):
    marker = tmp_path / "ran"
    saved = tmp_path / "lambda.h5"
    lambda_model(str(marker)).save(str(saved))
    path = saved.rename(tmp_path / name)
    marker.unlink()
    keras.models.load_model(str(path), compile=False, safe_mode=True)
    assert marker.exists(), "the legacy loader ran the stored code despite safe_mode=True (the case refused below)"
    marker.unlink()
    with pytest.raises(ValueError, match=f"refusing to load '{path}'"):
        load_model(path)
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file")
def test_h5_files_without_lambdas_load(models, tmp_path):
    saved = serialize_model(models["full"], "h5", tmp_path / "m.h5")
    np.testing.assert_array_equal(load_model(saved.path).get_weights()[0], models["full"].get_weights()[0])


def test_converted_flatbuffer_is_written_as_is(models, tmp_path):
    from pipeline.infer import to_tflite

    flatbuffer = to_tflite(models["filter"])
    saved = serialize_model(flatbuffer, "tflite", tmp_path / "m.tflite")
    assert saved.path.read_bytes() == flatbuffer
    assert saved.gzip_bytes == gzip_size(flatbuffer)
    with pytest.raises(ValueError, match="tflite"):
        serialize_model(flatbuffer, "keras", tmp_path / "m.keras")


def test_compressed_size_can_be_left_out_of_the_write(models, tmp_path):
    saved = serialize_model(models["magnitude"], "keras", tmp_path / "m.keras", compressed=False)
    assert saved.gzip_bytes is None and saved.bytes == saved.path.stat().st_size > 0
