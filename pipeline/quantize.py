"""Quantized MobileNet v1 through the LiteRT converter, and what decides int8's speed.

Three ways to a smaller, integer model, each a ``.tflite`` flatbuffer:

- ``dynamic`` (dynamic-range): weights stored as int8, activations float; the
  converter quantizes weight tensors of 1,024 elements or more, so the smallest
  layers stay float;
- ``int8`` (full-integer, post-training): weights and activations int8, the
  activations' ranges calibrated on a representative dataset: a fixed, seeded
  choice of :data:`REPRESENTATIVE_SAMPLES` images of the device's training split
  (:func:`representative_images`). The model's input and output stay float32 (a
  ``QUANTIZE`` op after the input, a ``DEQUANTIZE`` before the output), so the same
  :class:`pipeline.infer.LiteRTRunner` runs every variant;
- ``int8-qat``: quantization-aware fine-tuning with tensorflow-model-optimization
  (:func:`quantization_aware_finetune`), then the same full-integer conversion.

Which ops stayed float is read from the flatbuffer itself (:func:`op_precisions`: the
types of each operator's tensors and whether a tensor has constant data), not from the
converter's settings. A full-integer conversion that leaves an op computing in float
raises :class:`NotFullyQuantized` naming the ops, unless the caller asks for the
partial model (``allow_float_ops=True``), which then lists them in its record: a
partly float model is never passed off as int8.

What decides int8's speed on a CPU: which kernels run it. LiteRT's default op
resolver applies the XNNPACK delegate, whose QS8 kernels use AVX-512 VNNI / AVX-VNNI
where the CPU has them. On an AVX-512 VNNI Xeon the interpreter's built-in int8 kernels
ran the quick model 2.4x slower than XNNPACK's float kernels and 5x slower than its int8 ones
(docs/quantization.md). :func:`kernel_path` tells which ops the delegate took
(the interpreter's node list: a delegate's node replaces the ops between its input and
output tensors), :func:`isa_features` which ISA extensions the CPU offers
(``/proc/cpuinfo`` flags); both are dicts for ``machine_info``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
# fixtures.tfenv first: it refuses to start without TF_USE_LEGACY_KERAS=1, which tfmot
# would otherwise set by itself, too late for a Keras 3 already imported.
from fixtures.tfenv import keras, tf  # isort: skip
import tensorflow_model_optimization as tfmot
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from pipeline.infer import tflite_converter
from pipeline.isa import CPUINFO, ISA_FLAGS, isa_features  # noqa: F401 -- re-exported: tools read them here
from pipeline.prune import copy_model, is_pruning_wrapped
from pipeline.serialize import gzip_size

#: The results contract's ``quantization`` values (``harness.contract.QUANTIZATIONS``: pipeline
#: may not import the harness, so tests/pipeline/test_quantize.py checks the two agree).
QUANTIZATION_MODES = ("none", "dynamic", "int8", "int8-qat")
#: Modes :func:`quantize_tflite` converts to (``int8-qat``: :func:`quantization_aware_finetune`).
CONVERSION_MODES = ("none", "dynamic", "int8")
#: Training images the activations' ranges are calibrated on (TFLite's guide: a few hundred;
#: the quick preset's 1,060 training images hold 106 per class).
REPRESENTATIVE_SAMPLES = 200
#: Ops that only convert between float and int8 at the model's boundary: not float compute.
CONVERSION_OPS = ("QUANTIZE", "DEQUANTIZE")
#: Ops whose constant int8 input 1 is a weight matrix or kernel (for :func:`weight_sparsity`).
WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
#: Share of zeros in the prunable kernels above which a model counts as magnitude-pruned and
#: quantization-aware training preserves its zeros (a trained dense kernel holds almost none).
SPARSE_MODEL_SPARSITY = 0.2
#: Learning rate of quantization-aware fine-tuning: the model is already trained, QAT only
#: adapts it to rounding (tfmot's guide fine-tunes briefly at a small rate).
QAT_LEARNING_RATE = 1e-4

_OP_NAMES = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
_TYPE_NAMES = {code: name for name, code in vars(schema.TensorType).items() if not name.startswith("_")}


class NotFullyQuantized(ValueError):
    """A full-integer conversion left ops computing in float; ``float_ops`` names them."""

    def __init__(self, message: str, float_ops: tuple[str, ...]) -> None:
        super().__init__(message)
        self.float_ops = float_ops


def check_mode(mode: str, allowed: tuple[str, ...] = CONVERSION_MODES) -> str:
    """``mode`` when it is one of ``allowed``; otherwise ``ValueError`` naming it and the allowed ones."""
    if mode not in allowed:
        raise ValueError(f"unknown quantization mode {mode!r}; expected one of {', '.join(allowed)}")
    return mode


# ------------------------------------------------------------- the flatbuffer


@dataclass(frozen=True)
class OpPrecision:
    """One operator of a flatbuffer's main subgraph and the precision it computes in.

    ``precision``: ``"int8"`` (every activation input and output is an integer type),
    ``"float"`` (a float activation, no quantized constant), ``"hybrid"`` (float
    activations with int8 constant weights: dynamic-range) or ``"conversion"``
    (:data:`CONVERSION_OPS`).
    """

    index: int
    op: str
    precision: str
    activation_types: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.op}#{self.index}"


def _model(tflite: bytes):
    return schema.Model.GetRootAs(tflite, 0)


def _op_name(model, operator) -> str:
    code = model.OperatorCodes(operator.OpcodeIndex())
    number = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    return _OP_NAMES.get(number, f"OP_{number}")


def _is_constant(model, tensor) -> bool:
    # Data inside the flatbuffer, or (files over 2 GB) at an offset after it.
    buffer = model.Buffers(tensor.Buffer())
    return buffer.DataLength() > 0 or buffer.Size() > 0


def op_precisions(tflite: bytes) -> tuple[OpPrecision, ...]:
    """The precision of every operator in ``tflite``'s main subgraph, read from its tensors' types."""
    model = _model(bytes(tflite))
    graph = model.Subgraphs(0)
    result = []
    for index in range(graph.OperatorsLength()):
        operator = graph.Operators(index)
        name = _op_name(model, operator)
        tensors = [graph.Tensors(int(t)) for t in (*operator.InputsAsNumpy(), *operator.OutputsAsNumpy()) if t >= 0]
        activations = tuple(_TYPE_NAMES[t.Type()] for t in tensors if not _is_constant(model, t))
        constants = {_TYPE_NAMES[t.Type()] for t in tensors if _is_constant(model, t)}
        if name in CONVERSION_OPS:
            precision = "conversion"
        elif any(t.startswith("FLOAT") for t in activations):
            precision = "hybrid" if constants & {"INT8", "INT4"} else "float"
        else:
            precision = "int8"
        result.append(OpPrecision(index, name, precision, activations))
    return tuple(result)


def weight_sparsity(tflite: bytes) -> float:
    """Share of exact zeros among the constant weights of :data:`WEIGHT_OPS` in ``tflite`` [fraction].

    An int8 weight is stored with zero point 0 (symmetric per-channel), so a float 0
    stays an int8 0: the zeros of a magnitude-pruned model read the same either way.
    A weight stored in the sparse format (``EXPERIMENTAL_SPARSITY``) is not counted.
    """
    model = _model(bytes(tflite))
    graph = model.Subgraphs(0)
    zeros = size = 0
    for index in range(graph.OperatorsLength()):
        operator = graph.Operators(index)
        if _op_name(model, operator) not in WEIGHT_OPS or operator.InputsLength() < 2:
            continue
        tensor = graph.Tensors(int(operator.Inputs(1)))
        buffer = model.Buffers(tensor.Buffer())
        if buffer.DataLength() == 0 or tensor.Sparsity() is not None:  # also: data stored after a > 2 GB file
            continue
        dtype = np.int8 if _TYPE_NAMES[tensor.Type()] == "INT8" else np.float32
        values = np.frombuffer(buffer.DataAsNumpy().tobytes(), dtype=dtype)
        zeros += int(values.size - np.count_nonzero(values))
        size += int(values.size)
    return zeros / size if size else 0.0


# ------------------------------------------------------ post-training quantization


@dataclass(frozen=True)
class QuantizedModel:
    """A converted ``.tflite`` and what is in it.

    ``mode``: one of :data:`QUANTIZATION_MODES`; ``float_ops``: the ops computing in float
    (``"SOFTMAX#30"``: name and index in the flatbuffer), empty for a full-integer model;
    ``hybrid_ops``: ops with int8 weights and float activations (dynamic-range);
    ``representative_samples``: images the int8 ranges were calibrated on (None: none were);
    ``sparse``: weights stored in the sparse format; sizes in bytes.
    """

    mode: str
    tflite: bytes = field(repr=False)
    ops: int
    float_ops: tuple[str, ...]
    hybrid_ops: tuple[str, ...]
    representative_samples: int | None
    sparse: bool = False

    @property
    def model_bytes(self) -> int:
        return len(self.tflite)

    @property
    def model_bytes_gzip(self) -> int:
        return gzip_size(self.tflite)

    @property
    def fully_integer(self) -> bool:
        """True when every op but the boundary conversions computes in int8."""
        return not self.float_ops and not self.hybrid_ops

    def info(self) -> dict:
        """The fields a benchmark record carries (``extra_info``)."""
        return {
            "quantization": self.mode,
            "model_bytes": self.model_bytes,
            "float_ops": list(self.float_ops),
            "hybrid_ops": list(self.hybrid_ops),
            "representative_samples": self.representative_samples,
        }


def representative_images(x_train: np.ndarray, n: int = REPRESENTATIVE_SAMPLES, seed: int = 0) -> np.ndarray:
    """``n`` images of the training split ``x_train`` ``[N, H, W, C]``, chosen without replacement
    by a generator seeded with ``seed`` (all of them, shuffled, when there are fewer)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"representative sample count must be an integer >= 1, got {n!r}")
    x_train = np.asarray(x_train)
    if x_train.ndim != 4 or len(x_train) == 0:
        raise ValueError(f"training images must be a non-empty [N, H, W, C] array, got shape {x_train.shape}")
    order = np.random.default_rng(seed).permutation(len(x_train))[:n]
    return np.ascontiguousarray(x_train[order], dtype=np.float32)


def _checked_images(images, input_shape: tuple[int, ...], what: str = "representative dataset") -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[1:] != tuple(input_shape) or len(images) == 0:
        raise ValueError(
            f"{what} has shape {images.shape}; the model takes [N, {', '.join(map(str, input_shape))}] images (N >= 1)"
        )
    if not np.all(np.isfinite(images)):
        raise ValueError(f"{what} holds NaN or infinite values")
    return images


def _converted(converter, mode: str) -> bytes:
    try:
        return bytes(converter.convert())
    except Exception as error:  # the converter raises its own ConverterError and RuntimeErrors
        lines = str(error).strip().splitlines()
        message = f"the LiteRT converter could not convert the model to {mode!r}: {lines[-1] if lines else error!r}"
        if mode.startswith("int8"):
            raise NotFullyQuantized(message, ()) from error
        raise ValueError(message) from error


def describe(tflite: bytes, mode: str, *, representative_samples: int | None = None, sparse: bool = False,
             allow_float_ops: bool = False) -> QuantizedModel:
    """The :class:`QuantizedModel` record of an already converted ``tflite`` of ``mode``.

    For ``int8`` and ``int8-qat``, float or hybrid ops raise :class:`NotFullyQuantized`
    naming them, unless ``allow_float_ops``.
    """
    check_mode(mode, QUANTIZATION_MODES)
    ops = op_precisions(tflite)
    record = QuantizedModel(
        mode=mode,
        tflite=bytes(tflite),
        ops=len(ops),
        float_ops=tuple(op.label for op in ops if op.precision == "float"),
        hybrid_ops=tuple(op.label for op in ops if op.precision == "hybrid"),
        representative_samples=representative_samples,
        sparse=sparse,
    )
    if mode.startswith("int8") and not record.fully_integer and not allow_float_ops:
        left = record.float_ops + record.hybrid_ops
        raise NotFullyQuantized(
            f"{mode} conversion left {len(left)} of {len(ops)} ops in float: {', '.join(left)}", left
        )
    return record


def quantize_tflite(model, mode: str, *, representative=None, sparse: bool = False,
                    allow_float_ops: bool = False) -> QuantizedModel:
    """Convert a Keras model to a ``.tflite`` of ``mode`` (``none``, ``dynamic`` or ``int8``).

    Parameters
    ----------
    model : keras.Model
        Float model with one ``[None, H, W, C]`` input (tfmot pruning wrappers are
        stripped on a copy); left untouched.
    mode : str
        ``"none"`` (float32, what :func:`pipeline.infer.to_tflite` gives), ``"dynamic"``
        or ``"int8"`` (see the module docstring).
    representative : numpy.ndarray or None
        ``[N, H, W, C]`` float32 images for ``int8`` (:func:`representative_images`);
        required there, refused elsewhere.
    sparse : bool
        Store weights with zeros in LiteRT's sparse format (``EXPERIMENTAL_SPARSITY``):
        smaller files for magnitude-pruned models, the same outputs.
    allow_float_ops : bool
        ``int8`` only: return a model the converter could not quantize fully, its float
        ops listed in ``float_ops``, instead of raising :class:`NotFullyQuantized`.
    """
    check_mode(mode)
    input_shape = tuple(int(d) for d in model.input_shape[1:])
    if mode == "int8":
        if representative is None:
            raise ValueError("int8 quantization needs a representative dataset (representative_images(x_train))")
        representative = _checked_images(representative, input_shape)
    elif representative is not None:
        raise ValueError(f"a representative dataset only calibrates 'int8', not {mode!r}")
    converter = tflite_converter(model)
    optimizations = [tf.lite.Optimize.DEFAULT] if mode != "none" else []
    if sparse:
        optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
    converter.optimizations = optimizations
    if mode == "int8":
        def batches():
            for image in representative:
                yield [image[np.newaxis]]

        converter.representative_dataset = batches
        # Builtin float kernels stay allowed so a partial conversion can be inspected and its
        # float ops named (describe), rather than failing inside the converter.
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    tflite = _converted(converter, mode)
    return describe(tflite, mode, representative_samples=len(representative) if mode == "int8" else None,
                    sparse=sparse, allow_float_ops=allow_float_ops)


# --------------------------------------------------- quantization-aware training


@dataclass(frozen=True)
class QATResult:
    """A quantization-aware fine-tuning: the QAT Keras model (fake-quant wrappers), its int8
    ``.tflite`` record, the steps run, the training's wall time [s], whether the zeros were kept
    (the prune-preserving scheme) and the prunable kernels' sparsity before and after [fraction]."""

    model: keras.Model = field(repr=False)
    quantized: QuantizedModel
    steps: int
    seconds: float
    preserve_sparsity: bool
    sparsity_before: float
    sparsity_after: float


def _qat_model(model, preserve_sparsity: bool):
    quantization = tfmot.quantization.keras
    try:
        if preserve_sparsity:
            annotated = quantization.quantize_annotate_model(model)
            return quantization.quantize_apply(annotated, tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme())
        return quantization.quantize_model(model)
    except (RuntimeError, ValueError) as error:
        # tfmot names the layer it has no quantize config for.
        raise ValueError(f"quantization-aware training cannot wrap model {model.name!r}: {error}") from error


def kernel_sparsity(model) -> float:
    """Share of exact zeros in the kernels of ``model``'s Conv2D and Dense layers (not depthwise) [fraction].

    Reads the variables, so it works through tfmot's quantize wrappers too (whose ``kernel``
    attribute is the fake-quantized tensor, not the weight).
    """
    zeros = size = 0
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)
        if not isinstance(inner, (keras.layers.Conv2D, keras.layers.Dense)):  # DepthwiseConv2D is no Conv2D
            continue
        for variable in layer.weights:
            if variable.name.split("/")[-1].split(":")[0] == "kernel":
                value = variable.numpy()
                zeros += int(value.size - np.count_nonzero(value))
                size += int(value.size)
    return zeros / size if size else 0.0


def qat_tflite(qat_model, *, sparse: bool = False) -> QuantizedModel:
    """A quantization-aware model (fake-quant wrappers) converted to full-integer int8; with
    ``sparse``, its weights stored in the sparse format (``EXPERIMENTAL_SPARSITY``)."""
    converter = tflite_converter(qat_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT] + ([tf.lite.Optimize.EXPERIMENTAL_SPARSITY] if sparse else [])
    return describe(_converted(converter, "int8-qat"), "int8-qat", sparse=sparse)


def _packed_distillation_loss(label_weight: float, temperature: float):
    """:func:`pipeline.finetune.distillation_loss` on targets ``[label, teacher probabilities...]``."""
    from pipeline.finetune import distillation_loss

    def loss(targets, student):
        labels = tf.cast(targets[:, 0], tf.int32)
        return distillation_loss(labels, student, targets[:, 1:], label_weight=label_weight, temperature=temperature)

    return loss


class QATJob:
    """One quantization-aware fine-tuning, in three steps a benchmark can time apart: building
    (here: checks, a copy wrapped in tfmot's fake-quant layers, the optimizer, the batches),
    :meth:`train` (the training steps alone, what the fine-tuning cases time) and :meth:`result`
    (the conversion to full-integer int8). :func:`quantization_aware_finetune` runs all three;
    its parameters are this class's.
    """

    def __init__(self, model, x_train: np.ndarray, y_train: np.ndarray, *, steps: int, batch_size: int = 32,
                 learning_rate: float = QAT_LEARNING_RATE, seed: int = 0,
                 preserve_sparsity: bool | None = None, teacher: np.ndarray | None = None,
                 label_weight: float = 1.0, temperature: float = 1.0) -> None:
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if is_pruning_wrapped(model):
            raise ValueError(f"model {model.name!r} holds tfmot pruning wrappers; strip_pruning() it before quantization-aware training")
        input_shape = tuple(int(d) for d in model.input_shape[1:])
        x_train = _checked_images(x_train, input_shape, "training images")
        y_train = np.asarray(y_train)
        if y_train.shape != (len(x_train),):
            raise ValueError(f"labels have shape {y_train.shape}; expected ({len(x_train)},), one per training image")
        loss = keras.losses.SparseCategoricalCrossentropy()
        targets = y_train
        if teacher is not None and label_weight < 1:
            teacher = np.asarray(teacher, dtype=np.float32)
            classes = int(model.output_shape[-1])
            if teacher.shape != (len(x_train), classes):
                raise ValueError(f"teacher probabilities have shape {teacher.shape}; expected ({len(x_train)}, {classes}), "
                                 "one row per training image")
            # the labels travel in column 0 beside the teacher's probabilities: Keras' fit takes one target
            targets = np.concatenate([y_train[:, np.newaxis].astype(np.float32), teacher], axis=1)
            loss = _packed_distillation_loss(label_weight, temperature)
        self.steps = steps
        self.sparsity_before = kernel_sparsity(model)
        if preserve_sparsity is None:
            preserve_sparsity = self.sparsity_before >= SPARSE_MODEL_SPARSITY
        self.preserve_sparsity = preserve_sparsity
        keras.utils.set_random_seed(seed)
        self.model = _qat_model(copy_model(model), preserve_sparsity)
        self.model.compile(optimizer=keras.optimizers.legacy.Adam(learning_rate), loss=loss)
        self._batches = (
            tf.data.Dataset.from_tensor_slices((x_train, targets))
            .shuffle(len(y_train), seed=seed, reshuffle_each_iteration=True)
            .repeat()
            .batch(batch_size)
        )
        self.seconds: float | None = None

    def train(self) -> float:
        """Run the training steps (once); returns their wall time [s]."""
        if self.seconds is not None:
            raise RuntimeError("this quantization-aware fine-tuning has already trained")
        start = time.perf_counter()
        self.model.fit(self._batches, steps_per_epoch=self.steps, epochs=1, verbose=0)
        self.seconds = time.perf_counter() - start
        return self.seconds

    def result(self, convert=None) -> QATResult:
        """The trained model converted to full-integer int8 (:class:`NotFullyQuantized` when an op stays float).

        ``convert``: a callable ``model -> bytes`` that gives the conversion (a disk cache of
        ``qat_tflite(model).tflite``); None converts here."""
        if self.seconds is None:
            raise RuntimeError("train() the quantization-aware fine-tuning before converting it")
        if convert is None:
            quantized = qat_tflite(self.model)
        else:
            quantized = describe(convert(self.model), "int8-qat")
        return QATResult(
            model=self.model,
            quantized=quantized,
            steps=self.steps,
            seconds=self.seconds,
            preserve_sparsity=self.preserve_sparsity,
            sparsity_before=self.sparsity_before,
            sparsity_after=kernel_sparsity(self.model),
        )


def quantization_aware_finetune(model, x_train: np.ndarray, y_train: np.ndarray, *, steps: int, batch_size: int = 32,
                                learning_rate: float = QAT_LEARNING_RATE, seed: int = 0,
                                preserve_sparsity: bool | None = None, teacher: np.ndarray | None = None,
                                label_weight: float = 1.0, temperature: float = 1.0) -> QATResult:
    """Fine-tune ``model`` quantization-aware for ``steps`` steps and convert it to full-integer int8.

    Parameters
    ----------
    model : keras.Model
        A trained, fine-tuned float MobileNet v1 (``keras.applications`` or
        :func:`pipeline.prune.build_mobilenet_v1`, filter-pruned or not), stripped of tfmot
        pruning wrappers (a wrapped model is refused: strip it first); left untouched.
    x_train, y_train : numpy.ndarray
        Training images ``[N, H, W, C]`` and integer labels ``[N]``.
    steps : int
        Training steps (batches) to run, >= 1.
    batch_size, learning_rate, seed :
        Batch [images], Adam's learning rate, and the seed of the weights' RNG and the shuffle.
    preserve_sparsity : bool or None
        Keep the zeros of a magnitude-pruned model (tfmot's
        ``Default8BitPrunePreserveQuantizeScheme``); None: when its prunable kernels hold at
        least :data:`SPARSE_MODEL_SPARSITY` zeros (:func:`kernel_sparsity`).
    teacher, label_weight, temperature :
        Distil as the float fine-tuning does (:func:`pipeline.finetune.distillation_loss`): the full
        model's probabilities on ``x_train`` ``[N, classes]``, the labels' share a and T; None or
        a = 1: the labels alone.
    """
    job = QATJob(model, x_train, y_train, steps=steps, batch_size=batch_size, learning_rate=learning_rate,
                 seed=seed, preserve_sparsity=preserve_sparsity, teacher=teacher, label_weight=label_weight,
                 temperature=temperature)
    job.train()
    return job.result()


# ------------------------------------------------------------ what runs int8


def _delegated_nodes(wrapper, node: int, producers: dict[int, int]) -> set[int]:
    """The original nodes a delegate node replaced: those between its input and output tensors."""
    inputs = {int(t) for t in wrapper.NodeInputs(node)}
    found: set[int] = set()
    pending = [int(t) for t in wrapper.NodeOutputs(node)]
    while pending:
        tensor = pending.pop()
        producer = producers.get(tensor)
        if tensor in inputs or producer is None or producer in found:
            continue
        found.add(producer)
        pending.extend(int(t) for t in wrapper.NodeInputs(producer) if t >= 0)
    return found


def kernel_path(tflite: bytes | Path | str, num_threads: int = 1,
                resolver: OpResolverType = OpResolverType.AUTO) -> dict:
    """Which kernels run ``tflite`` in an interpreter built as :class:`pipeline.infer.LiteRTRunner` builds it.

    LiteRT appends one ``DELEGATE`` node per partition a delegate takes after the
    model's own nodes, whose list stays complete; each delegate node's ops are found
    by walking back from its output tensors to its input tensors. The default resolver
    (``AUTO``) applies only the XNNPACK delegate on CPU, so a delegate node here is
    XNNPACK's. Returns ``{"xnnpack": bool (any op delegated), "resolver": str, "ops": int,
    "delegated_ops": int, "partitions": int, "builtin_ops": [name, ...]}``: the ops the
    interpreter's built-in kernels run, boundary conversions included.
    """
    if isinstance(tflite, (bytes, bytearray, memoryview)):
        interpreter = Interpreter(model_content=bytes(tflite), num_threads=num_threads,
                                  experimental_op_resolver_type=resolver)
    else:
        interpreter = Interpreter(model_path=str(tflite), num_threads=num_threads, experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    wrapper = interpreter._interpreter  # NodeInputs / NodeOutputs / NodeName: no public accessor
    nodes = wrapper.NumNodes()
    names = [wrapper.NodeName(i) for i in range(nodes)]
    delegates = [i for i, name in enumerate(names) if name == "DELEGATE"]
    original = [i for i in range(nodes) if i not in delegates]
    producers = {int(t): i for i in original for t in wrapper.NodeOutputs(i)}
    delegated: set[int] = set()
    for node in delegates:
        delegated |= _delegated_nodes(wrapper, node, producers)
    return {
        "xnnpack": bool(delegated),
        "resolver": resolver.name,
        "ops": len(original),
        "delegated_ops": len(delegated),
        "partitions": len(delegates),
        "builtin_ops": [names[i] for i in original if i not in delegated],
    }


__all__ = [
    "CONVERSION_MODES",
    "ISA_FLAGS",
    "NotFullyQuantized",
    "OpPrecision",
    "QATJob",
    "QATResult",
    "QUANTIZATION_MODES",
    "QuantizedModel",
    "REPRESENTATIVE_SAMPLES",
    "check_mode",
    "describe",
    "isa_features",
    "kernel_path",
    "kernel_sparsity",
    "op_precisions",
    "qat_tflite",
    "quantization_aware_finetune",
    "quantize_tflite",
    "representative_images",
    "weight_sparsity",
]
