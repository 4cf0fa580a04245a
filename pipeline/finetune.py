"""Fine-tuning a (pruned) MobileNet v1 on the device's labelled dataset.

The study's recipe: learning rate 0.001, dropout, validation data. Here:

- optimizer Adam at ``preset.finetune_learning_rate`` (0.001), sparse categorical
  cross-entropy on the softmax output -- or, when the preset distils
  (``finetune_label_weight`` a < 1), :func:`distillation_loss`: a times that
  cross-entropy plus (1 - a) times the temperature-softened KL divergence from the
  full model's outputs on the same images (the teacher, computed once per dataset
  and base model and cached: ``fixtures/teacher.py``; a pruning-recovery recipe
  that costs no more per step: one more input and a few element-wise ops in the
  same compiled step). The ``loss`` of the history is then that loss;
  ``val_loss`` stays the cross-entropy. ``preset.finetune_epochs`` epochs of
  ``preset.finetune_batch_size``, the training split reshuffled each epoch
  (seeded), validation on the dataset's validation split after each epoch,
  one progress line per epoch;
- the training step is one compiled ``tf.function`` (forward, gradients, Adam
  update), traced once per model with a ``[None, H, W, C]`` signature. Keras'
  ``fit`` did the same work with twice the graph building: on one core, 18.2 s of
  CPU before the first step of a magnitude-pruned quick model against 8.3 s here
  (11.3 s against 4.9 s filter-pruned), for the same steps (``python -m
  tools.stepcost``, docs/pipeline.md);
- Adam is Keras' fused implementation (``keras.optimizers.legacy.Adam``: one
  ``ResourceApplyAdam`` op per variable), the same update rule and defaults as
  ``keras.optimizers.Adam``, whose update is a dozen small ops per variable. A
  quick model's step is bound by per-op overhead, not arithmetic (70 % of the
  filters gone cut the step only from 45 to 36 ms), so the op count is the lever
  (with the stripped magnitude models below: figures in docs/pipeline.md, from
  ``python -m tools.stepcost --batch 16``);
- dropout is the model's own ``dropout`` layer (``keras.applications.MobileNet``
  puts ``Dropout(preset.dropout)`` before the classifier; :func:`filter_prune`
  keeps it with the same rate): active in training steps, inactive at inference;
- a magnitude-pruned model (tfmot wrappers) keeps its masks: its schedule ended at
  step 0, so the masks are fixed. It is fine-tuned without the wrappers
  (:func:`pipeline.prune.strip_pruning`, a copy), with each pruned kernel's gradient
  multiplied by its mask: Adam's moments of a masked weight stay 0, so the weight
  stays exactly 0, and the masks are applied once more after each epoch. The
  sparsity after fine-tuning equals the pruning factor, the same result as
  training through tfmot's wrappers (which multiply every kernel by its mask in
  every forward pass and recompute nothing past the schedule), and the returned
  model is the stripped one a device runs. The wrappers' ops (a condition, an
  assertion and an assignment per layer and step) cost graph building and first-call
  time at about the same step time. Together with the fused Adam, graph building
  plus the first pass fell from 3.7-5.5 s to 0.8-0.9 s on one core (magnitude pf
  70 %; ``python -m tools.stepcost --batch 16``, old and new code alternated);
- BatchNorm layers train with the momentum in the model's config:
  ``fixtures.model.BN_MOMENTUM`` (0.9) for the models built there, kept by both
  pruning methods. Pruning changes every channel's statistics; at Keras'
  default 0.99 the moving mean and variance move only ~40 % of the way in the
  ~50 steps of a quick fine-tuning, and a filter-pruned model stayed at chance
  accuracy in inference mode (measured on ``quick``: top-1 0.10 after
  fine-tuning at 0.99);
- top-1 accuracy is measured on the held-out *test* split before and after.

The model passed in is never trained: it is copied first. The global random seed
is set to ``preset.seed`` (``keras.utils.set_random_seed``: Python, NumPy and TF;
process-wide) so a run is repeatable.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np

# fixtures.tfenv first: it refuses to start without TF_USE_LEGACY_KERAS=1, which tfmot
# would otherwise set by itself, too late for a Keras 3 already imported.
from fixtures.tfenv import keras, tf  # isort: skip
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_wrapper

from fixtures.model import top1_accuracy as top1  # top-1 [fraction]; re-exported as pipeline.finetune.top1
from fixtures.presets import FINETUNE_LR_SCHEDULES, Preset
from pipeline.prune import DROPOUT_LAYER, copy_model, is_pruning_wrapped, strip_pruning

#: Images per forward pass when validating (inference only, no effect on the result).
VALIDATION_BATCH_SIZE = 256


@contextlib.contextmanager
def without_graph_rewrites():
    """Run the block with TensorFlow's graph optimizer (Grappler's meta-optimizer) off, then
    restore the option as it was.

    The training step is a graph run a few dozen times: Grappler rewrote it on its first call
    for 0.21-0.25 s of a 0.4-0.6 s first step (quick, pf 70 %, magnitude and filter, 1 and 2
    threads), and the steps after it were no faster (magnitude 116-126 against 121-129 ms per
    step of 64 on one core) and the loss bit for bit the same after 21 steps. The option is
    part of every function call's configuration, so it holds for the graphs the block runs
    and no others: the inference runners' graphs keep the rewrites."""
    previous = tf.config.optimizer.get_experimental_options().get("disable_meta_optimizer", False)
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": previous})


@dataclass(frozen=True)
class FinetuneResult:
    """What one fine-tuning run gives: the new model and its accuracy before and after.

    ``top1_*`` are fractions in [0, 1] on the test split; ``seconds`` is the wall
    time of the training [s] (graph building, steps and validation; without the two
    test evaluations); ``steps`` the training steps run; ``history`` has per-epoch
    lists like Keras' ``History.history`` (loss, accuracy, val_loss, val_accuracy).
    """

    model: keras.Model = field(repr=False)
    top1_before: float
    top1_after: float
    epochs: int
    history: dict = field(repr=False)
    seconds: float
    steps: int = 0
    dropout: float | None = None


def _dropout_rate(model: keras.Model) -> float | None:
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)
        if inner.name == DROPOUT_LAYER and isinstance(inner, keras.layers.Dropout):
            return float(inner.rate)
    return None


def make_optimizer(learning_rate: float, schedule: str = "constant", steps: int = 1):
    """Adam with Keras' defaults, as fused ops (see the module's docstring), at ``learning_rate``
    throughout (``schedule="constant"``) or decayed along a cosine to 0 after ``steps`` steps
    (``"cosine"``: computed in the compiled step from the optimizer's step count)."""
    if schedule == "constant":
        return keras.optimizers.legacy.Adam(learning_rate=learning_rate)
    if schedule == "cosine":
        if steps < 1:
            raise ValueError(f"a cosine learning-rate schedule needs steps >= 1, got {steps!r}")
        decayed = keras.optimizers.schedules.CosineDecay(initial_learning_rate=learning_rate, decay_steps=steps)
        return keras.optimizers.legacy.Adam(learning_rate=decayed)
    raise ValueError(f"unknown learning-rate schedule {schedule!r}; known: {', '.join(FINETUNE_LR_SCHEDULES)}")


def distillation_loss(labels, student, teacher, *, label_weight: float, temperature: float):
    """Knowledge-distillation loss of a batch (Hinton, Vinyals and Dean, "Distilling the Knowledge in
    a Neural Network", 2015, eq. (2) and its T^2 scaling):

        a * CE(labels, student) + (1 - a) * T^2 * KL(softmax(log teacher / T) || softmax(log student / T))

    averaged over the batch. ``student`` and ``teacher`` are softmax probabilities ``[batch, classes]``
    (the models end in softmax, so their logarithms serve as logits, up to a per-row constant that
    the softmax removes), clipped to Keras' epsilon before the logarithm like Keras' cross-entropy;
    ``labels`` integer classes ``[batch]``; ``label_weight`` a in [0, 1] [unitless]; ``temperature``
    T > 0 [unitless]. With a = 1 it is Keras' sparse categorical cross-entropy."""
    eps = keras.backend.epsilon()
    log_s = tf.math.log(tf.clip_by_value(student, eps, 1.0))
    log_t = tf.math.log(tf.clip_by_value(teacher, eps, 1.0))
    ce = -tf.reduce_mean(tf.gather(log_s, labels, axis=1, batch_dims=1))
    soft_s = tf.nn.log_softmax(log_s / temperature, axis=1)
    soft_t = tf.nn.log_softmax(log_t / temperature, axis=1)
    kl = tf.reduce_mean(tf.reduce_sum(tf.exp(soft_t) * (soft_t - soft_s), axis=1))
    return label_weight * ce + (1.0 - label_weight) * temperature * temperature * kl


def _checked_teacher(teacher, dataset, preset: Preset, classes: int) -> np.ndarray | None:
    """The teacher's probabilities as float32 ``[N_train, classes]`` when the preset distils, else None."""
    if preset.finetune_label_weight >= 1:
        return None
    if teacher is None:
        raise ValueError(
            f"preset {preset.name!r} fine-tunes with distillation (finetune_label_weight "
            f"{preset.finetune_label_weight!r} < 1): pass the full model's probabilities on the training split "
            "as teacher= (fixtures.teacher.cached_teacher_probabilities)"
        )
    teacher = np.asarray(teacher, dtype=np.float32)
    if teacher.shape != (len(dataset.y_train), classes):
        raise ValueError(
            f"teacher probabilities must be [training images, classes] = [{len(dataset.y_train)}, {classes}], "
            f"got shape {teacher.shape}"
        )
    return teacher


class FinetuneJob:
    """One fine-tuning, split so a benchmark can time the training alone.

    ``FinetuneJob(model, dataset, preset)`` copies the model (a tfmot-wrapped one is
    stripped into a new model; ``copy=False`` trains an unwrapped ``model`` itself),
    measures its top-1 and creates the optimizer's state (setup); :meth:`train` builds the training
    step's graph and runs the epochs (the operation); :meth:`result` measures the
    top-1 after and returns the :class:`FinetuneResult`. :func:`finetune` does all three.
    """

    def __init__(self, model: keras.Model, dataset, preset: Preset, teacher: np.ndarray | None = None, *,
                 top1_before: float | None = None, evaluate=None, copy: bool = True) -> None:
        keras.utils.set_random_seed(preset.seed)
        #: ``evaluate(model) -> top-1 on the test split``: default :func:`top1`; the benchmarks pass
        #: ``fixtures.memo.cached_top1`` (the same figure, not recomputed for a model met before).
        self._evaluate = evaluate or (lambda m: top1(m, dataset.x_test, dataset.y_test))
        self._teacher = _checked_teacher(teacher, dataset, preset, int(model.output_shape[-1]))
        self.dataset = dataset
        self.preset = preset
        #: (variable, mask) of every pruned kernel; empty for a model without tfmot wrappers.
        self._masks: list[tuple] = []
        if is_pruning_wrapped(model):
            self.model = strip_pruning(model)  # a copy
            for wrapper in model.layers:
                if isinstance(wrapper, pruning_wrapper.PruneLowMagnitude):
                    inner = self.model.get_layer(wrapper.layer.name)
                    for weight, mask, _threshold in wrapper.pruning_vars:
                        name = weight.name.split("/")[-1]
                        target = next(v for v in inner.weights if v.name.split("/")[-1] == name)
                        self._masks.append((target, tf.constant(mask.numpy(), dtype=target.dtype)))
            self._apply_masks()
        else:
            # copy=False: the caller hands ``model`` over and the job trains it itself (a copy of a
            # quick model costs ~0.4 s; the benchmark's chain has no further use for it).
            self.model = copy_model(model) if copy else model
        # The copy computes what ``model`` computes (same weights; a stripped kernel already holds
        # its mask's zeros), so a top-1 the caller measured on ``model`` is this one's too.
        self.top1_before = self._evaluate(self.model) if top1_before is None else top1_before
        #: Training steps the epochs take (the cosine schedule reaches 0 at the last).
        self.total_steps = preset.finetune_epochs * math.ceil(len(dataset.y_train) / preset.finetune_batch_size)
        self._optimizer = make_optimizer(preset.finetune_learning_rate, preset.finetune_lr_schedule, self.total_steps)
        # Slots (m, v) now, outside the timed training; the legacy optimizer's build.
        self._optimizer._create_all_weights(self.model.trainable_variables)
        self._loss = keras.losses.SparseCategoricalCrossentropy()
        self._rng = np.random.default_rng(preset.seed)
        self._history: dict | None = None
        self._seconds: float | None = None
        self._steps = 0

    def _apply_masks(self) -> None:
        for variable, mask in self._masks:
            variable.assign(variable * mask)

    def build_train_step(self):
        """The compiled training step of this job: ``step(x, y) -> (mean loss, correct predictions)``,
        or ``step(x, y, teacher probabilities of x)`` when the preset distils; one forward pass, its
        gradients and an Adam update (traced here: graph building)."""
        model, optimizer, loss_fn = self.model, self._optimizer, self._loss
        variables = model.trainable_variables
        shape = (None, *(int(d) for d in model.input_shape[1:]))

        masks = {id(variable): mask for variable, mask in self._masks}
        weight, temperature = self.preset.finetune_label_weight, self.preset.finetune_temperature

        def step(x, y, t=None):
            with tf.GradientTape() as tape:
                probabilities = model(x, training=True)
                if t is None:  # labels only
                    loss = loss_fn(y, probabilities)
                else:
                    loss = distillation_loss(y, probabilities, t, label_weight=weight, temperature=temperature)
            gradients = tape.gradient(loss, variables)
            gradients = [g * masks[id(v)] if id(v) in masks else g for g, v in zip(gradients, variables)]
            optimizer.apply_gradients(zip(gradients, variables))
            correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(probabilities, axis=1), y), tf.float32))
            return loss, correct

        signature = [tf.TensorSpec(shape, tf.float32), tf.TensorSpec((None,), tf.int64)]
        if self._teacher is not None:  # distillation: the teacher's probabilities of the same images
            signature.append(tf.TensorSpec((None, self._teacher.shape[1]), tf.float32))
        return tf.function(step, input_signature=signature, autograph=False).get_concrete_function()

    def _validate(self) -> tuple[float, float]:
        x, y = self.dataset.x_val, np.asarray(self.dataset.y_val, dtype=np.int64)
        loss_sum, correct = 0.0, 0
        for start in range(0, len(y), VALIDATION_BATCH_SIZE):
            probabilities = self.model(x[start : start + VALIDATION_BATCH_SIZE], training=False)
            batch = y[start : start + VALIDATION_BATCH_SIZE]
            loss_sum += float(self._loss(batch, probabilities)) * len(batch)
            correct += int(np.sum(np.argmax(probabilities, axis=1) == batch))
        return loss_sum / len(y), correct / len(y)

    def train(self, *, progress: bool = True) -> float:
        """Run ``preset.finetune_epochs`` epochs (validation after each); returns the wall time [s]."""
        if self._history is not None:
            raise RuntimeError("this fine-tuning job has already run; make a new FinetuneJob")
        dataset, preset = self.dataset, self.preset
        x, y = dataset.x_train, np.asarray(dataset.y_train, dtype=np.int64)
        batch = preset.finetune_batch_size
        history: dict[str, list[float]] = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
        start = time.perf_counter()
        with without_graph_rewrites():
            self._run_epochs(x, y, batch, history, progress)
        self._seconds = time.perf_counter() - start
        self._history = history
        return self._seconds

    def _run_epochs(self, x, y, batch: int, history: dict[str, list[float]], progress: bool) -> None:
        preset = self.preset
        step = self.build_train_step()
        for epoch in range(preset.finetune_epochs):
            began = time.perf_counter()
            order = self._rng.permutation(len(y))
            loss_sum, correct = 0.0, 0.0
            for first in range(0, len(y), batch):
                index = np.sort(order[first : first + batch])
                images = tf.constant(x[index])
                if self._teacher is None:
                    loss, hits = step(images, tf.constant(y[index]))
                else:
                    loss, hits = step(images, tf.constant(y[index]), tf.constant(self._teacher[index]))
                loss_sum += float(loss) * len(index)
                correct += float(hits)
                self._steps += 1
            self._apply_masks()  # a masked weight's gradient is 0, so this only guards the invariant
            val_loss, val_accuracy = self._validate()
            for name, value in (("loss", loss_sum / len(y)), ("accuracy", correct / len(y)),
                                ("val_loss", val_loss), ("val_accuracy", val_accuracy)):
                history[name].append(value)
            if progress:
                print(
                    f"Epoch {epoch + 1}/{preset.finetune_epochs} - {time.perf_counter() - began:.1f}s - "
                    f"{math.ceil(len(y) / batch)} steps of {batch} - loss: {history['loss'][-1]:.4f} - "
                    f"accuracy: {history['accuracy'][-1]:.4f} - val_loss: {val_loss:.4f} - "
                    f"val_accuracy: {val_accuracy:.4f}",
                    file=sys.stdout,
                    flush=True,
                )

    def result(self) -> FinetuneResult:
        """The fine-tuned model with its top-1 before and after (on the test split)."""
        if self._history is None:
            raise RuntimeError("train() has not run yet")
        return FinetuneResult(
            model=self.model,
            top1_before=self.top1_before,
            top1_after=self._evaluate(self.model),
            epochs=self.preset.finetune_epochs,
            history=self._history,
            seconds=self._seconds,
            steps=self._steps,
            dropout=_dropout_rate(self.model),
        )


def finetune(
    model: keras.Model, dataset, preset: Preset, *, teacher: np.ndarray | None = None, progress: bool = True,
    evaluate=None,
) -> FinetuneResult:
    """Fine-tune a copy of ``model`` on ``dataset`` with the preset's recipe.

    Parameters
    ----------
    model : keras.Model
        Full, filter-pruned or magnitude-pruned (tfmot-wrapped) MobileNet v1;
        untouched.
    dataset : fixtures.dataset.Dataset
        Anything with ``x_train, y_train, x_val, y_val, x_test, y_test``
        (float32 NHWC, integer labels).
    preset : Preset
        Supplies ``finetune_epochs``, ``finetune_learning_rate``, ``finetune_batch_size``, ``seed``,
        ``finetune_label_weight`` and ``finetune_temperature``.
    teacher : numpy.ndarray, optional
        The full model's probabilities ``[N_train, classes]`` on ``dataset.x_train``, row for row
        (``fixtures.teacher.cached_teacher_probabilities``); required when the preset distils
        (``finetune_label_weight`` < 1), unused otherwise.
    progress : bool
        Print one line per epoch.
    evaluate : callable, optional
        ``evaluate(model) -> top-1`` on the test split (default: :func:`top1`).
    """
    job = FinetuneJob(model, dataset, preset, teacher=teacher, evaluate=evaluate)
    job.train(progress=progress)
    return job.result()


__all__ = ["FinetuneJob", "FinetuneResult", "distillation_loss", "finetune", "top1"]
