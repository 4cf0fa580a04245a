"""Quantized models through the LiteRT converter and the kernels that run them (pipeline/quantize.py)."""

from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from fixtures.tfenv import keras, tf
from harness.contract import QUANTIZATIONS
from pipeline.infer import LiteRTRunner, to_tflite
from pipeline.prune import filter_prune, magnitude_prune, strip_pruning
from pipeline.quantize import (
    QUANTIZATION_MODES,
    NotFullyQuantized,
    QATJob,
    isa_features,
    kernel_path,
    kernel_sparsity,
    op_precisions,
    qat_tflite,
    quantization_aware_finetune,
    quantize_tflite,
    representative_images,
    weight_sparsity,
)
from tests.pipeline.helpers import assert_same_weights, weights_of

INTEGER_TYPES = (np.int8, np.int16, np.int32, np.int64)


@pytest.fixture(scope="module")
def representative(tiny_dataset):
    return representative_images(tiny_dataset.x_train, 16, seed=3)


@pytest.fixture(scope="module")
def converted(tiny_model, representative):
    return {
        "none": quantize_tflite(tiny_model, "none"),
        "dynamic": quantize_tflite(tiny_model, "dynamic"),
        "int8": quantize_tflite(tiny_model, "int8", representative=representative),
    }


@pytest.fixture(scope="module")
def sine_model():
    """A model whose first op (SIN) has no int8 kernel in LiteRT."""
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Lambda(tf.sin)(inputs)
    x = keras.layers.Conv2D(4, 3)(x)
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))


def _activation_dtypes(tflite: bytes) -> list:
    """dtypes of the tensors the interpreter computes (no constant data), read through the interpreter."""
    interpreter = Interpreter(model_content=tflite, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    computed = set()
    for op in interpreter._get_ops_details():
        computed.update(int(t) for t in op["outputs"])
    return [d["dtype"] for d in interpreter.get_tensor_details() if d["index"] in computed]


def test_modes_are_the_contracts_vocabulary():
    assert QUANTIZATION_MODES == QUANTIZATIONS


def test_float_conversion_is_to_tflite(tiny_model, converted):
    record = converted["none"]
    assert record.tflite == to_tflite(tiny_model)
    assert record.ops == len(record.float_ops) and not record.hybrid_ops
    assert not record.fully_integer


def test_int8_computes_every_op_in_integers(converted, representative):
    record = converted["int8"]
    assert record.fully_integer and record.representative_samples == len(representative)
    ops = op_precisions(record.tflite)
    assert (ops[0].op, ops[-1].op) == ("QUANTIZE", "DEQUANTIZE")
    # Independent reading: every tensor an op computes is an integer, but the dequantized output.
    dtypes = _activation_dtypes(record.tflite)
    assert sum(d == np.float32 for d in dtypes) == 1
    assert all(d in INTEGER_TYPES for d in dtypes if d != np.float32)
    assert record.model_bytes < 0.5 * len(converted["none"].tflite)


def test_int8_follows_the_float_model(converted, samples):
    float_runner, int8_runner = LiteRTRunner(converted["none"].tflite), LiteRTRunner(converted["int8"].tflite)
    reference = np.concatenate([float_runner.run(x) for x in samples])
    quantized = np.concatenate([int8_runner.run(x) for x in samples])
    # Random weights: not a top-1 check, but int8 must track the float probabilities closely.
    assert np.corrcoef(reference.ravel(), quantized.ravel())[0, 1] > 0.9


def test_dynamic_range_keeps_float_activations_and_int8_weights(converted):
    record = converted["dynamic"]
    assert record.hybrid_ops and not record.fully_integer
    assert all(label.split("#")[0] in ("CONV_2D", "DEPTHWISE_CONV_2D") for label in record.hybrid_ops)
    assert all(d == np.float32 for d in _activation_dtypes(record.tflite))
    assert record.model_bytes < len(converted["none"].tflite)
    assert record.info()["quantization"] == "dynamic" and record.info()["hybrid_ops"] == list(record.hybrid_ops)


def test_representative_images_are_a_seeded_choice_of_the_training_split(tiny_dataset):
    x = tiny_dataset.x_train
    chosen = representative_images(x, 5, seed=1)
    np.testing.assert_array_equal(chosen, representative_images(x, 5, seed=1))
    assert not np.array_equal(chosen, representative_images(x, 5, seed=2))
    for image in chosen:
        assert any(np.array_equal(image, row) for row in x)
    assert len(representative_images(x, len(x) + 10)) == len(x)


def test_bad_modes_and_representative_datasets_are_refused_by_name(tiny_model, representative):
    with pytest.raises(ValueError, match=r"unknown quantization mode 'int4'; expected one of none, dynamic, int8"):
        quantize_tflite(tiny_model, "int4")
    with pytest.raises(ValueError, match=r"representative dataset has shape \(16, 16, 16, 3\).*\[N, 32, 32, 3\]"):
        quantize_tflite(tiny_model, "int8", representative=representative[:, :16, :16])
    with pytest.raises(ValueError, match="needs a representative dataset"):
        quantize_tflite(tiny_model, "int8")
    with pytest.raises(ValueError, match="only calibrates 'int8', not 'dynamic'"):
        quantize_tflite(tiny_model, "dynamic", representative=representative)
    with pytest.raises(ValueError, match="sample count must be an integer >= 1, got 0"):
        representative_images(representative, 0)


def test_a_partly_float_model_is_never_called_int8(sine_model, representative):
    with pytest.raises(NotFullyQuantized, match=r"left 1 of \d+ ops in float: SIN#0") as caught:
        quantize_tflite(sine_model, "int8", representative=representative)
    assert caught.value.float_ops == ("SIN#0",)
    partial = quantize_tflite(sine_model, "int8", representative=representative, allow_float_ops=True)
    assert partial.float_ops == ("SIN#0",) and not partial.fully_integer
    assert partial.info()["float_ops"] == ["SIN#0"]


@pytest.mark.parametrize("mode", ["none", "int8"])
def test_kernel_path_counts_what_xnnpack_took(converted, mode):
    tflite = converted[mode].tflite
    delegated = kernel_path(tflite)
    assert delegated["xnnpack"] and delegated["resolver"] == "AUTO" and delegated["partitions"] >= 1
    assert delegated["ops"] == converted[mode].ops
    assert delegated["delegated_ops"] + len(delegated["builtin_ops"]) == delegated["ops"]
    builtin = kernel_path(tflite, resolver=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    assert not builtin["xnnpack"] and builtin["partitions"] == builtin["delegated_ops"] == 0
    assert builtin["builtin_ops"] == [op.op for op in op_precisions(tflite)]


def test_isa_features_read_the_cpu_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 fma avx512f avx512_vnni\n\nprocessor\t: 1\nflags\t: fpu\n")
    features = isa_features(cpuinfo)
    assert features["avx2"] and features["avx512f"] and features["avx512_vnni"]
    assert features["avx_vnni"] is False and features["amx_int8"] is False
    assert set(isa_features(tmp_path / "missing").values()) == {None}


def test_weight_sparsity_reads_the_zeros_of_a_pruned_model(tiny_model):
    stripped = strip_pruning(magnitude_prune(tiny_model, 0.7))
    kernels = [
        layer.get_weights()[0] for layer in stripped.layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense))
    ]
    expected = sum(k.size - np.count_nonzero(k) for k in kernels) / sum(k.size for k in kernels)
    assert weight_sparsity(to_tflite(stripped)) == pytest.approx(expected, abs=1e-9)
    assert weight_sparsity(to_tflite(tiny_model)) == 0.0


def test_qat_keeps_a_magnitude_pruned_models_zeros(tiny_model, tiny_dataset):
    stripped = strip_pruning(magnitude_prune(tiny_model, 0.7))
    before = weights_of(stripped)
    # through its three steps, as the fine-tuning case runs it: build, train (timed), convert
    job = QATJob(stripped, tiny_dataset.x_train, tiny_dataset.y_train, steps=2, batch_size=8)
    with pytest.raises(RuntimeError, match="train"):
        job.result()
    assert job.train() > 0
    with pytest.raises(RuntimeError, match="already trained"):
        job.train()
    result = job.result()
    assert_same_weights(before, stripped)
    assert result.preserve_sparsity and result.steps == 2
    assert result.sparsity_before > 0.6 and result.sparsity_after == result.sparsity_before
    assert result.quantized.mode == "int8-qat" and result.quantized.fully_integer
    assert weight_sparsity(result.quantized.tflite) >= weight_sparsity(to_tflite(stripped))
    sparse = qat_tflite(result.model, sparse=True)
    assert sparse.sparse and sparse.fully_integer and sparse.model_bytes < result.quantized.model_bytes


def test_qat_quantizes_a_filter_pruned_model_fully(tiny_model, tiny_dataset):
    narrow = filter_prune(tiny_model, 0.7)
    result = quantization_aware_finetune(narrow, tiny_dataset.x_train, tiny_dataset.y_train, steps=2, batch_size=8)
    assert not result.preserve_sparsity and result.quantized.fully_integer
    assert kernel_sparsity(narrow) == result.sparsity_before == 0.0
    probabilities = LiteRTRunner(result.quantized.tflite).run(tiny_dataset.x_test[0])
    assert probabilities.shape == (1, 4) and abs(float(probabilities.sum()) - 1) < 0.05


def test_qat_refuses_wrappers_and_bad_budgets(tiny_model, tiny_dataset):
    x, y = tiny_dataset.x_train, tiny_dataset.y_train
    with pytest.raises(ValueError, match="holds tfmot pruning wrappers; strip_pruning"):
        quantization_aware_finetune(magnitude_prune(tiny_model, 0.5), x, y, steps=1)
    with pytest.raises(ValueError, match="steps must be an integer >= 1, got 0"):
        quantization_aware_finetune(tiny_model, x, y, steps=0)
    with pytest.raises(ValueError, match=r"labels have shape \(3,\)"):
        quantization_aware_finetune(tiny_model, x, y[:3], steps=1)
    with pytest.raises(ValueError, match=r"training images have shape|training images has shape"):
        quantization_aware_finetune(tiny_model, x[:, :8], y, steps=1)
    teacher = np.full((len(y) - 1, 4), 0.25, dtype=np.float32)  # one row short
    with pytest.raises(ValueError, match=rf"teacher probabilities have shape \({len(y) - 1}, 4\)"):
        quantization_aware_finetune(tiny_model, x, y, steps=1, teacher=teacher, label_weight=0.2)


def test_qat_distils_like_the_float_fine_tuning(tiny_model, tiny_dataset):
    """With a teacher and a < 1 the loss is pipeline.finetune.distillation_loss; a teacher equal to
    the one-hot labels at a = 0 and T = 1 is the labels' cross-entropy, so both jobs train alike."""
    x, y = tiny_dataset.x_train, tiny_dataset.y_train
    one_hot = np.eye(4, dtype=np.float32)[y]
    plain = QATJob(tiny_model, x, y, steps=2, batch_size=8, seed=5)
    distilled = QATJob(tiny_model, x, y, steps=2, batch_size=8, seed=5, teacher=one_hot, label_weight=0.0)
    plain.train()
    distilled.train()
    for a, b in zip(plain.model.get_weights(), distilled.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def test_qat_names_a_layer_it_cannot_quantize():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.LayerNormalization(name="norm")(keras.layers.Conv2D(4, 3)(inputs))
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x), name="normed")
    images, labels = np.zeros((4, 8, 8, 3), np.float32), np.zeros(4, np.int64)
    with pytest.raises(ValueError, match=r"cannot wrap model 'normed': Layer norm:.*LayerNormalization.* is not supported"):
        quantization_aware_finetune(model, images, labels, steps=1)
