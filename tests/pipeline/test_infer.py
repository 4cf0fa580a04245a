"""Batch-1 inference through Keras (tf.function) and LiteRT (pipeline/infer.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.infer import (
    KerasRunner, LiteRTRunner, PhaseTimes, litert_top1, measure_phases, set_tensorflow_threads, to_tflite,
)
from pipeline.prune import filter_prune, magnitude_prune
from tests.pipeline.helpers import assert_same_weights, weights_of

#: The least top-1 agreement between the two runtimes that counts as the same model.
MIN_AGREEMENT = 0.99
#: Float32 differences between TF and XNNPACK kernels on class probabilities.
PROBABILITY_ATOL = 1e-4
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_tflite(tiny_model):
    return to_tflite(tiny_model)


def _agreement(model, samples):
    keras_runner = KerasRunner(model)
    litert_runner = LiteRTRunner(to_tflite(model), num_threads=1)
    keras_out = np.concatenate([keras_runner.run(x) for x in samples])
    litert_out = np.concatenate([litert_runner.run(x) for x in samples])
    return keras_out, litert_out, float(np.mean(keras_out.argmax(1) == litert_out.argmax(1)))


@pytest.mark.parametrize("method", ["full", "filter", "magnitude"])
def test_runtimes_agree_on_top1(tiny_model, samples, method):
    model = {"full": lambda m: m, "filter": lambda m: filter_prune(m, 0.7), "magnitude": lambda m: magnitude_prune(m, 0.7)}[
        method
    ](tiny_model)
    before = weights_of(model)
    keras_out, litert_out, agreement = _agreement(model, samples)
    assert_same_weights(before, model)
    assert agreement >= MIN_AGREEMENT
    np.testing.assert_allclose(litert_out, keras_out, atol=PROBABILITY_ATOL)
    np.testing.assert_allclose(keras_out, model(samples, training=False).numpy(), atol=1e-5)


def test_runners_accept_hwc_and_refuse_other_shapes(tiny_model, tiny_tflite, samples):
    runner = LiteRTRunner(tiny_tflite)
    np.testing.assert_array_equal(runner.run(samples[0]), runner.run(samples[:1]))
    with pytest.raises(ValueError, match="one sample"):
        runner.run(samples[:2])
    with pytest.raises(ValueError, match="one sample"):
        KerasRunner(tiny_model).run(samples[:2])


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, None], ids=repr)
def test_litert_thread_count_is_validated(tiny_model, bad):
    with pytest.raises(ValueError, match="num_threads"):
        LiteRTRunner(b"unused", num_threads=bad)


def test_tensorflow_threads_cannot_change_after_initialisation(tiny_model):
    tiny_model.predict(np.zeros((1, *tiny_model.input_shape[1:]), "float32"), verbose=0)  # TF is running
    from fixtures.tfenv import tf

    current = tf.config.threading.get_intra_op_parallelism_threads()
    with pytest.raises(RuntimeError, match="process-wide"):
        set_tensorflow_threads(current + 3)


def test_measure_phases_times_each_phase_separately(tiny_tflite, samples):
    flatbuffer = tiny_tflite
    phases = measure_phases(lambda: LiteRTRunner(flatbuffer, num_threads=1), samples[0], 5)
    assert isinstance(phases, PhaseTimes)
    assert len(phases.steady_s) == 5
    assert phases.init_s > 0 and phases.first_s > 0 and min(phases.steady_s) > 0
    assert phases.steady_median_s == float(np.median(phases.steady_s))
    with pytest.raises(ValueError, match="n "):
        measure_phases(lambda: LiteRTRunner(flatbuffer), samples[0], 0)


class _FakeClock:
    """Seconds that pass only when the fake runner says so."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _FakeRunner:
    """Takes 2 s to build, 0.5 s for its first run, then 0.25, 0.125, ... (exact in binary)."""

    def __init__(self, clock: _FakeClock, x):
        clock.now += 2.0
        self.clock, self.x, self.next_s = clock, x, 0.5

    def run(self, x):
        assert x is self.x
        self.clock.now += self.next_s
        self.next_s /= 2


def test_measure_phases_keeps_set_up_first_call_and_steady_calls_apart():
    clock, x = _FakeClock(), object()
    phases = measure_phases(lambda: _FakeRunner(clock, x), x, 3, clock=clock)
    assert phases == PhaseTimes(init_s=2.0, first_s=0.5, steady_s=(0.25, 0.125, 0.0625))
    assert phases.steady_median_s == 0.125


def test_litert_path_needs_no_tensorflow(tiny_tflite, samples, tmp_path):
    """The load workers import pipeline.infer and run LiteRT without TensorFlow in the process."""
    model_path = tmp_path / "m.tflite"
    model_path.write_bytes(tiny_tflite)
    np.save(tmp_path / "x.npy", samples[:1])
    code = (
        "import sys, numpy as np\n"
        "from pipeline.infer import LiteRTRunner\n"
        f"out = LiteRTRunner({str(model_path)!r}, num_threads=1).run(np.load({str(tmp_path / 'x.npy')!r}))\n"
        "assert not [m for m in sys.modules if m.startswith(('tensorflow', 'tf_keras', 'keras'))], 'TF imported'\n"
        f"np.save({str(tmp_path / 'out.npy')!r}, out)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT, env=env, timeout=120)
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), LiteRTRunner(model_path).run(samples[:1]))


def test_litert_top1_is_the_share_of_images_whose_argmax_is_the_label(tiny_tflite, samples):
    runner = LiteRTRunner(tiny_tflite)
    predicted = np.array([int(np.argmax(runner.run(x))) for x in samples])
    labels = predicted.copy()
    labels[: len(labels) // 2] = (labels[: len(labels) // 2] + 1) % 4  # the first half wrong on purpose
    assert litert_top1(tiny_tflite, samples, labels) == pytest.approx((len(labels) - len(labels) // 2) / len(labels))
    with pytest.raises(ValueError, match="labels"):
        litert_top1(tiny_tflite, samples, labels[:-1])
