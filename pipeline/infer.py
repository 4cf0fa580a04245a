"""Batch-1 inference through two runtimes: Keras (compiled ``tf.function``) and LiteRT.

``model.predict`` and eager ``model(x)`` add 40-80 ms of Python/dispatch overhead
per call, more than MobileNet itself at small sizes; both runners here call a
graph traced once at construction:

- :class:`KerasRunner` traces ``model(x, training=False)`` into a concrete
  function with a fixed ``[1, H, W, C]`` float32 input signature;
- :class:`LiteRTRunner` runs a ``.tflite`` flatbuffer with
  ``ai_edge_litert.interpreter.Interpreter`` (XNNPACK CPU kernels) and a fixed
  thread count.

:func:`to_tflite` converts a Keras model (tfmot wrappers stripped first); it is a
separate step, never inside a timed call.

Threads: LiteRT's ``num_threads`` is per interpreter. TensorFlow's thread pools
are process-wide and fixed at TF's first op: ``KerasRunner(num_threads=n)`` sets
intra-op threads to ``n`` and inter-op threads to 1 (MobileNet is a chain of ops)
and raises ``RuntimeError`` if TF already runs with other values; set it before
any TF work in the process (or use :func:`set_tensorflow_threads` early).

This module imports TensorFlow lazily (only inside :class:`KerasRunner`,
:func:`to_tflite` and :func:`set_tensorflow_threads`): the background-load workers
use ``LiteRTRunner(path, num_threads=1).run(x)`` with only ``ai-edge-litert``
and NumPy loaded.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

#: TensorFlow inter-op threads used by KerasRunner (MobileNet's graph is a chain).
TF_INTER_OP_THREADS = 1


def _check_threads(num_threads) -> int:
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"num_threads must be an integer >= 1, got {num_threads!r}")
    return num_threads


def _batch1(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.shape == tuple(shape[1:]):
        x = x[np.newaxis]
    if x.shape != tuple(shape):
        raise ValueError(f"expected one sample of shape {tuple(shape)} (or {tuple(shape[1:])}), got {x.shape}")
    return x


class LiteRTRunner:
    """A LiteRT interpreter for batch-1 inference.

    Parameters
    ----------
    tflite : bytes or path
        The flatbuffer (from :func:`to_tflite`) or a ``.tflite`` file.
    num_threads : int
        CPU threads of this interpreter (default 1: one core, as the device).
    """

    def __init__(self, tflite: bytes | Path | str, num_threads: int = 1) -> None:
        self.num_threads = _check_threads(num_threads)
        if isinstance(tflite, (bytes, bytearray, memoryview)):
            self._interpreter = Interpreter(model_content=bytes(tflite), num_threads=self.num_threads)
        else:
            self._interpreter = Interpreter(model_path=str(tflite), num_threads=self.num_threads)
        self._interpreter.allocate_tensors()
        (inp,) = self._interpreter.get_input_details()
        (out,) = self._interpreter.get_output_details()
        self._input_index = inp["index"]
        self._output_index = out["index"]
        self.input_shape = tuple(int(d) for d in inp["shape"])

    def run(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities ``[1, classes]`` for one sample (``[1, H, W, C]`` or ``[H, W, C]``)."""
        self._interpreter.set_tensor(self._input_index, _batch1(x, self.input_shape))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output_index).copy()


def litert_top1(tflite: bytes | Path | str, x: np.ndarray, y: np.ndarray, num_threads: int = 1) -> float:
    """Top-1 of ``tflite`` on images ``x`` ``[N, H, W, C]`` and integer labels ``y`` ``[N]`` [fraction],
    one batch-1 call per image: what a device running the flatbuffer would answer (a quantized
    model's accuracy is its flatbuffer's, not its Keras parent's)."""
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if x.ndim != 4 or len(x) == 0 or y.shape != (len(x),):
        raise ValueError(f"expected images [N, H, W, C] and labels [N] with N >= 1, got shapes {x.shape} and {y.shape}")
    runner = LiteRTRunner(tflite, num_threads=num_threads)
    correct = sum(int(np.argmax(runner.run(image[np.newaxis]))) == int(label) for image, label in zip(x, y))
    return correct / len(y)


def set_tensorflow_threads(num_threads: int) -> None:
    """Set TensorFlow's process-wide intra-op threads to ``num_threads`` (inter-op: 1).

    Must run before TensorFlow's first op; afterwards only a no-op repeat of the
    same values is accepted, anything else raises ``RuntimeError``.
    """
    from fixtures.tfenv import tf

    num_threads = _check_threads(num_threads)
    threading = tf.config.threading
    current = (threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads())
    if current == (num_threads, TF_INTER_OP_THREADS):
        return
    try:
        threading.set_intra_op_parallelism_threads(num_threads)
        threading.set_inter_op_parallelism_threads(TF_INTER_OP_THREADS)
    except RuntimeError as error:
        raise RuntimeError(
            f"cannot set TensorFlow to {num_threads} intra-op thread(s): TensorFlow is already initialised "
            f"with (intra, inter) = {current} (0 = all cores). Its thread pools are process-wide; "
            "set them before any TensorFlow op runs in this process."
        ) from error


class KerasRunner:
    """A Keras model traced once into a concrete ``tf.function`` for batch-1 inference.

    Parameters
    ----------
    model : keras.Model
        Any model with one ``[None, H, W, C]`` input; tfmot wrappers are stripped
        first (a copy: ``model`` is untouched), so no mask op runs per call.
    num_threads : int or None
        TensorFlow intra-op threads (process-wide, see :func:`set_tensorflow_threads`);
        None leaves TensorFlow's setting alone.
    """

    def __init__(self, model, num_threads: int | None = None) -> None:
        if num_threads is not None:
            set_tensorflow_threads(num_threads)
        from fixtures.tfenv import tf
        from pipeline.prune import is_pruning_wrapped, strip_pruning

        self._tf = tf
        self.num_threads = num_threads
        self.model = strip_pruning(model) if is_pruning_wrapped(model) else model
        self.input_shape = (1, *(int(d) for d in self.model.input_shape[1:]))
        spec = tf.TensorSpec(self.input_shape, tf.float32)
        keras_model = self.model
        self._function = tf.function(lambda x: keras_model(x, training=False), input_signature=[spec], autograph=False)
        self._concrete = self._function.get_concrete_function()

    def run(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities ``[1, classes]`` for one sample (``[1, H, W, C]`` or ``[H, W, C]``)."""
        return self._concrete(self._tf.constant(_batch1(x, self.input_shape))).numpy()


def to_tflite(model) -> bytes:
    """Convert a Keras model to a float32, batch-1 ``.tflite`` flatbuffer (no quantization).

    tfmot wrappers are stripped first (on a copy). A magnitude-pruned model keeps
    its zeros but is stored and run dense. The model is traced into a concrete
    function with a ``[1, H, W, C]`` input and converted from that (frozen)
    graph: ``TFLiteConverter.from_keras_model`` first exports a Keras SavedModel,
    which traces every layer and is about 10x slower (20 s vs 2 s for the tiny
    model) for the same flatbuffer.
    """
    return bytes(tflite_converter(model).convert())


def tflite_converter(model):
    """A ``tf.lite.TFLiteConverter`` for ``model`` traced at batch 1, not yet run.

    What :func:`to_tflite` converts (tfmot pruning wrappers stripped on a copy); the
    caller may set its optimizations first (``pipeline.quantize``).
    """
    from fixtures.tfenv import tf
    from pipeline.prune import is_pruning_wrapped, strip_pruning

    if is_pruning_wrapped(model):
        model = strip_pruning(model)
    spec = tf.TensorSpec((1, *(int(d) for d in model.input_shape[1:])), tf.float32)
    function = tf.function(lambda x: model(x, training=False), input_signature=[spec], autograph=False)
    return tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()])


@dataclass(frozen=True)
class PhaseTimes:
    """Latency phases of a runner, as TFLite's benchmark tool reports them [s].

    ``init_s``: constructing the runner (interpreter + tensor allocation, or
    tracing the tf.function); ``first_s``: the first ``run``; ``steady_s``: each
    later ``run``.
    """

    init_s: float
    first_s: float
    steady_s: tuple[float, ...]

    @property
    def steady_median_s(self) -> float:
        return statistics.median(self.steady_s)


def measure_phases(runner_factory: Callable[[], object], x: np.ndarray, n: int, *,
                   clock: Callable[[], float] = time.perf_counter) -> PhaseTimes:
    """Time ``runner_factory()``, its first ``run(x)`` and ``n`` further runs, separately.

    ``runner_factory`` builds a runner (e.g. ``lambda: LiteRTRunner(flatbuffer, 1)``);
    ``x`` is one sample; ``n`` >= 1 steady-state calls; ``clock`` returns seconds
    (a test passes a fake one to check that no phase leaks into another).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n (steady-state calls) must be an integer >= 1, got {n!r}")
    start = clock()
    runner = runner_factory()
    init_s = clock() - start
    start = clock()
    runner.run(x)
    first_s = clock() - start
    steady = []
    for _ in range(n):
        start = clock()
        runner.run(x)
        steady.append(clock() - start)
    return PhaseTimes(init_s=init_s, first_s=first_s, steady_s=tuple(steady))


__all__ = [
    "KerasRunner",
    "LiteRTRunner",
    "PhaseTimes",
    "litert_top1",
    "measure_phases",
    "set_tensorflow_threads",
    "tflite_converter",
    "to_tflite",
]
