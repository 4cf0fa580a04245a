"""Fine-tuning a (pruned) MobileNet v1 on the device's labelled dataset.

The study's recipe: learning rate 0.001, dropout, validation data. Here:

- optimizer Adam at ``preset.finetune_learning_rate`` (0.001), sparse categorical
  cross-entropy on the softmax output, ``preset.finetune_epochs`` epochs of
  ``preset.batch_size``, validation on the dataset's validation split after each
  epoch, progress printed by Keras (``verbose=2``: one line per epoch);
- dropout is the model's own ``dropout`` layer (``keras.applications.MobileNet``
  puts ``Dropout(preset.dropout)`` before the classifier; :func:`filter_prune`
  keeps it with the same rate): active in ``fit``, inactive at inference;
- a magnitude-pruned model (tfmot wrappers) is trained with the
  ``UpdatePruningStep`` callback; its schedule ended at step 0, so the masks stay
  fixed and the sparsity after fine-tuning equals the pruning factor;
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

import time
from dataclasses import dataclass, field

# fixtures.tfenv first: it refuses to start without TF_USE_LEGACY_KERAS=1, which tfmot
# would otherwise set by itself, too late for a Keras 3 already imported.
from fixtures.tfenv import keras  # isort: skip
import tensorflow_model_optimization as tfmot

from fixtures.model import top1_accuracy as top1  # top-1 [fraction]; re-exported as pipeline.finetune.top1
from fixtures.presets import Preset
from pipeline.prune import DROPOUT_LAYER, copy_model, is_pruning_wrapped

#: Keras ``fit`` verbosity when progress is shown: one line per epoch.
PROGRESS_VERBOSE = 2


@dataclass(frozen=True)
class FinetuneResult:
    """What one fine-tuning run gives: the new model and its accuracy before and after.

    ``top1_*`` are fractions in [0, 1] on the test split; ``seconds`` is the wall
    time of ``fit`` [s] (without the two evaluations); ``history`` is Keras'
    ``History.history`` (per-epoch loss, accuracy, val_loss, val_accuracy).
    """

    model: keras.Model = field(repr=False)
    top1_before: float
    top1_after: float
    epochs: int
    history: dict = field(repr=False)
    seconds: float
    dropout: float | None = None


def _dropout_rate(model: keras.Model) -> float | None:
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)
        if inner.name == DROPOUT_LAYER and isinstance(inner, keras.layers.Dropout):
            return float(inner.rate)
    return None


class FinetuneJob:
    """One fine-tuning, split so a benchmark can time the training alone.

    ``FinetuneJob(model, dataset, preset)`` copies the model, measures its top-1
    and compiles it (setup); :meth:`train` runs the epochs (the operation);
    :meth:`result` measures the top-1 after and returns the
    :class:`FinetuneResult`. :func:`finetune` does all three.
    """

    def __init__(self, model: keras.Model, dataset, preset: Preset) -> None:
        keras.utils.set_random_seed(preset.seed)
        self.dataset = dataset
        self.preset = preset
        self.model = copy_model(model)
        self.top1_before = top1(self.model, dataset.x_test, dataset.y_test)
        self.model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=preset.finetune_learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(),
            metrics=["accuracy"],
        )
        self._callbacks = [tfmot.sparsity.keras.UpdatePruningStep()] if is_pruning_wrapped(self.model) else []
        self._history: dict | None = None
        self._seconds: float | None = None

    def train(self, *, progress: bool = True) -> float:
        """Run ``preset.finetune_epochs`` epochs (validation after each); returns the wall time [s]."""
        if self._history is not None:
            raise RuntimeError("this fine-tuning job has already run; make a new FinetuneJob")
        dataset, preset = self.dataset, self.preset
        start = time.perf_counter()
        history = self.model.fit(
            dataset.x_train,
            dataset.y_train,
            validation_data=(dataset.x_val, dataset.y_val),
            epochs=preset.finetune_epochs,
            batch_size=preset.batch_size,
            shuffle=True,
            callbacks=self._callbacks,
            verbose=PROGRESS_VERBOSE if progress else 0,
        )
        self._seconds = time.perf_counter() - start
        self._history = dict(history.history)
        return self._seconds

    def result(self) -> FinetuneResult:
        """The fine-tuned model with its top-1 before and after (on the test split)."""
        if self._history is None:
            raise RuntimeError("train() has not run yet")
        return FinetuneResult(
            model=self.model,
            top1_before=self.top1_before,
            top1_after=top1(self.model, self.dataset.x_test, self.dataset.y_test),
            epochs=self.preset.finetune_epochs,
            history=self._history,
            seconds=self._seconds,
            dropout=_dropout_rate(self.model),
        )


def finetune(model: keras.Model, dataset, preset: Preset, *, progress: bool = True) -> FinetuneResult:
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
        Supplies ``finetune_epochs``, ``finetune_learning_rate``, ``batch_size``, ``seed``.
    progress : bool
        Print one line per epoch (Keras ``verbose=2``).
    """
    job = FinetuneJob(model, dataset, preset)
    job.train(progress=progress)
    return job.result()


__all__ = ["FinetuneJob", "FinetuneResult", "finetune", "top1"]
