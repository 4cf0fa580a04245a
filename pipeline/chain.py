"""The session's chain of models: prune -> BatchNorm re-estimation -> fine-tune -> convert, each step once.

A benchmark that times a step hands its output to the chain
(``remember_*``); a later step that needs it takes it from there, and computes
it untimed only when the producing case did not run (``-k`` selections). So
accuracy never needs a second fine-tuning, and the inference cases run the
models the timed operations produced.

The BatchNorm re-estimation and the fine-tuning change the model they start
from in place, as a device would, instead of copying it (a copy of a quick
model cost ~0.4 s, inside the re-estimation's timing): the chain hands that
model over (``hand_over_*``) after measuring its top-1, and forgets it.

Fine-tuning starts from the BatchNorm-recalibrated model (the pruned weights
with moving statistics re-estimated on the training images, labels unused):
pruning in one shot leaves statistics that put inference-mode accuracy at chance,
and starting from them wastes the first steps of a short fine-tuning on
re-learning them (``pipeline/recalibrate.py``).

Quantized models (``pipeline/quantize.py``) come from the deployable model of each (pf,
method): dynamic-range and full-integer int8 (calibrated on a fixed, seeded choice of
training images), cached on disk like the float flatbuffer; and the quantization-aware
fine-tuning of a pruned model, which starts from the same re-estimated model as its float
fine-tuning (a stripped copy is kept when that model is handed over).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fixtures.presets import Preset


@dataclass(frozen=True)
class Step:
    """Where a model in the chain came from: timed by a benchmark, or computed as setup."""

    value: Any
    timed: bool


class ModelChain:
    """Per-session cache of pruned, fine-tuned and converted models, keyed by (pf, method)."""

    def __init__(
        self, preset: Preset, dataset: Any, base: Any, *, base_sha256: str = "", progress: bool = True
    ) -> None:
        self.preset = preset
        self.dataset = dataset
        self.base = base
        self.base_sha256 = base_sha256  # the base model file's hash: the key of its cached teacher outputs
        self._teacher: Any = None
        self.progress = progress
        self._pruned: dict[tuple, Step] = {}
        self._recalibrated: dict[tuple, Step] = {}
        self._top1_pruned: dict[tuple, float] = {}
        self._top1_recalibrated: dict[tuple, float] = {}
        self._recalibration_images: Any = None
        self._finetuned: dict[tuple, Step] = {}
        self._tflite: dict[tuple, bytes] = {}
        self._deployable: dict[tuple, _Deployable] = {}
        self._base_top1: float | None = None
        self._representative: Any = None
        self._quantized: dict[tuple, Any] = {}  # (key, mode, sparse) -> pipeline.quantize.QuantizedModel
        self._qat_wanted: set[tuple] = set()
        self._qat_start: dict[tuple, Any] = {}
        self._qat: dict[tuple, Step] = {}  # key -> Step(pipeline.quantize.QATResult)
        self._qat_sparse: dict[tuple, Any] = {}
        self._sizes: dict[str, dict] = {}  # flatbuffer sha256 -> its sizes
        self._kernel_paths: dict[str, dict] = {}  # flatbuffer sha256 -> pipeline.quantize.kernel_path

    @staticmethod
    def key(pf: float, method: str | None) -> tuple:
        return (round(pf, 6), method if pf else None)

    def pruned(self, pf: float, method: str | None) -> Any:
        if pf == 0:
            return self.base
        key = self.key(pf, method)
        if key not in self._pruned:
            from pipeline.prune import prune

            self._pruned[key] = Step(prune(self.base, pf, method, images=self.recalibration_images()), timed=False)
        return self._pruned[key].value

    def remember_pruned(self, pf: float, method: str, model: Any) -> None:
        self._pruned[self.key(pf, method)] = Step(model, timed=True)

    def hand_over_pruned(self, pf: float, method: str) -> Any:
        """The pruned model of (pf, method), given away to a step that changes it in place (the
        BatchNorm re-estimation): its top-1 as pruned is measured first, and the chain forgets
        it, so a later :meth:`pruned` prunes again (untimed) instead of returning a changed model."""
        return self._hand_over(self._pruned, self.top1_pruned, self.pruned, pf, method)

    def recalibration_images(self) -> Any:
        """The unlabelled images BatchNorm statistics are re-estimated on (labels never read)."""
        if self._recalibration_images is None:
            from pipeline.recalibrate import recalibration_sample

            self._recalibration_images = recalibration_sample(
                self.dataset.x_train, self.preset.bn_recalibration_samples, self.preset.seed
            )
        return self._recalibration_images

    def recalibrated(self, pf: float, method: str) -> Any:
        """The pruned model of (pf, method) with re-estimated BatchNorm statistics; computed untimed if needed."""
        key = self.key(pf, method)
        if key not in self._recalibrated:
            from pipeline.recalibrate import recalibrate_batchnorm

            model = recalibrate_batchnorm(self.pruned(pf, method), self.recalibration_images())
            self._recalibrated[key] = Step(model, timed=False)
        return self._recalibrated[key].value

    def remember_recalibrated(self, pf: float, method: str, model: Any) -> None:
        self._recalibrated[self.key(pf, method)] = Step(model, timed=True)

    def hand_over_recalibrated(self, pf: float, method: str) -> Any:
        """The re-estimated model of (pf, method), given away to the fine-tuning that trains it in
        place; as :meth:`hand_over_pruned` (its top-1 is measured first, the chain forgets it).
        For a model :meth:`keep_for_qat` named, a stripped copy is kept first."""
        key = self.key(pf, method)
        if key in self._qat_wanted and key not in self._qat_start:
            self._qat_start[key] = _stripped_copy(self.recalibrated(pf, method))
        return self._hand_over(self._recalibrated, self.top1_recalibrated, self.recalibrated, pf, method)

    def _hand_over(self, steps: dict[tuple, Step], top1, model_of, pf: float, method: str) -> Any:
        top1(pf, method)  # measured (or recalled) before the model changes
        model = model_of(pf, method)
        del steps[self.key(pf, method)]
        return model

    def top1_recalibrated(self, pf: float, method: str) -> float:
        """Test top-1 of the re-estimated model of (pf, method) [fraction], measured once: the
        BatchNorm case records it and the fine-tuning that starts from that model reuses it
        (one evaluation of the 740 test images costs ~0.8 s of CPU on quick)."""
        key = self.key(pf, method)
        if key not in self._top1_recalibrated:
            self._top1_recalibrated[key] = self.evaluate(self.recalibrated(pf, method))
        return self._top1_recalibrated[key]

    def top1_pruned(self, pf: float, method: str | None) -> float:
        """Test top-1 of the pruned model as pruned (no re-estimation, no fine-tuning) [fraction]."""
        if pf == 0:
            return self.base_top1()
        key = self.key(pf, method)
        if key not in self._top1_pruned:
            self._top1_pruned[key] = self.evaluate(self.pruned(pf, method))
        return self._top1_pruned[key]

    def evaluate(self, model: Any) -> float:
        """Test top-1 of ``model`` [fraction]: evaluated once per distinct model, ever
        (fixtures/memo.py: cached by the weights' digest, so the same pruned model under the
        next profile, or any model of a rerun, is not evaluated again)."""
        from fixtures.memo import cached_top1

        return cached_top1(model, self.dataset)

    def teacher(self) -> Any:
        """The base model's probabilities on the training split (fixtures/teacher.py, cached on disk),
        or None when the preset's fine-tuning does not distil."""
        if self.preset.finetune_label_weight >= 1:
            return None
        if self._teacher is None:
            from fixtures.teacher import cached_teacher_probabilities

            self._teacher = cached_teacher_probabilities(self.base, self.base_sha256, self.dataset)
        return self._teacher

    def finetuned(self, pf: float, method: str) -> Any:
        """The :class:`pipeline.finetune.FinetuneResult` of (pf, method); fine-tunes untimed if needed."""
        key = self.key(pf, method)
        if key not in self._finetuned:
            from pipeline.finetune import finetune

            result = finetune(
                self.recalibrated(pf, method), self.dataset, self.preset, teacher=self.teacher(), progress=self.progress,
                evaluate=self.evaluate,
            )
            self._finetuned[key] = Step(result, timed=False)
        return self._finetuned[key].value

    def remember_finetuned(self, pf: float, method: str, result: Any) -> None:
        self._finetuned[self.key(pf, method)] = Step(result, timed=True)

    def base_top1(self) -> float:
        if self._base_top1 is None:
            self._base_top1 = self.evaluate(self.base)
        return self._base_top1

    def deployable(self, pf: float, method: str | None) -> Any:
        """The model a device would run: the fine-tuned one where it exists, else the pruned one,
        with tfmot's wrappers stripped (once per model; a model without wrappers, filter-pruned,
        is its own deployable: no reader mutates it, and a copy cost ~0.5 s per model)."""
        if pf == 0:
            return self.base
        return self._deployable_entry(pf, method).model

    def _deployable_entry(self, pf: float, method: str | None) -> _Deployable:
        from pipeline.prune import is_pruning_wrapped, strip_pruning

        key = self.key(pf, method)
        source = self.base if pf == 0 else (
            self._finetuned[key].value.model if key in self._finetuned else self.pruned(pf, method))
        cached = self._deployable.get(key)
        if cached is None or cached.source is not source:
            cached = self._deployable[key] = _Deployable(source, strip_pruning(source) if is_pruning_wrapped(source) else source)
        return cached

    def deployable_digest(self, pf: float, method: str | None) -> str:
        """``fixtures.memo.model_digest`` of :meth:`deployable`, once per model: the key of each of its
        conversions on disk (hashing a quick model's weights took 0.05-0.1 s, 4-5 times per model)."""
        entry = self._deployable_entry(pf, method)
        if entry.digest is None:
            from fixtures.memo import model_digest

            entry.digest = model_digest(entry.model)
        return entry.digest

    def deployable_account(self, pf: float, method: str | None) -> Any:
        """``pipeline.accounting.account`` of :meth:`deployable`, once per model (its 3-5 inference cases
        record the same counts)."""
        entry = self._deployable_entry(pf, method)
        if entry.account is None:
            from pipeline.accounting import account

            entry.account = account(entry.model)
        return entry.account

    def provenance(self, pf: float, method: str | None) -> dict:
        """Which model :meth:`deployable` gives, for the record of a case that measures it:
        ``model_state`` (``full``; ``finetuned`` in this session; ``pruned`` only, when no
        fine-tuning of it ran, e.g. under ``-k``) and ``model_from_timed_case`` (whether the
        step that made it was a timed benchmark of this session, not untimed setup)."""
        if pf == 0:
            return {"model_state": "full", "model_from_timed_case": None}
        key = self.key(pf, method)
        step = self._finetuned.get(key) or self._pruned.get(key)
        state = "finetuned" if key in self._finetuned else "pruned"
        return {"model_state": state, "model_from_timed_case": None if step is None else step.timed}

    def accuracy(self, pf: float, method: str | None) -> dict:
        """Test top-1 [fraction] of the full model (``top1_full``) and of (pf, method) as pruned
        (``top1_before_ft``), after BatchNorm re-estimation (``top1_after_bn``) and after
        fine-tuning (``top1_after_ft``), where known: never computed here at the cost of a
        fine-tuning. The full model's own row has ``top1_before_ft = top1_full``."""
        full = self.base_top1()
        if pf == 0:
            return {"top1_full": full, "top1_before_ft": full, "top1_after_bn": None, "top1_after_ft": None}
        key = self.key(pf, method)
        if key not in self._finetuned:
            return {"top1_full": full, "top1_before_ft": None, "top1_after_bn": None, "top1_after_ft": None}
        result = self._finetuned[key].value
        return {
            "top1_full": full,
            "top1_before_ft": self.top1_pruned(pf, method),
            "top1_after_bn": result.top1_before,  # fine-tuning starts from the recalibrated model
            "top1_after_ft": result.top1_after,
        }

    def tflite(self, pf: float, method: str | None) -> bytes:
        key = self.key(pf, method)
        if key not in self._tflite:
            from fixtures.memo import cached_tflite
            from pipeline.infer import to_tflite

            self._tflite[key] = cached_tflite(self.deployable(pf, method), to_tflite,
                                              digest=self.deployable_digest(pf, method))
        return self._tflite[key]

    # -- quantized models ------------------------------------------------------------------

    def representative(self) -> Any:
        """The int8 conversions' representative set: ``REPRESENTATIVE_SAMPLES`` training images
        chosen by the preset's seed (the same for every model and every session of a preset)."""
        if self._representative is None:
            from pipeline.quantize import REPRESENTATIVE_SAMPLES, representative_images

            self._representative = representative_images(self.dataset.x_train, REPRESENTATIVE_SAMPLES, self.preset.seed)
        return self._representative

    def _variant(self, mode: str, sparse: bool) -> str:
        """The disk cache's name of a conversion: the mode and, for int8, the representative set's identity."""
        name = mode
        if mode == "int8":
            name += f"-rep{len(self.representative())}-seed{self.preset.seed}-{self.dataset.fingerprint[:16]}"
        return name + ("-sparse" if sparse else "")

    def quantized(self, pf: float, method: str | None, mode: str, *, sparse: bool = False) -> Any:
        """The deployable model of (pf, method) converted to ``mode`` (``none``, ``dynamic``, ``int8``;
        ``sparse``: weights in the sparse format) as a :class:`pipeline.quantize.QuantizedModel`,
        converted once (cached on disk). An int8 conversion that leaves ops in float is returned with
        them in ``float_ops``: the caller decides (a partly float model is never served as int8)."""
        from pipeline.quantize import check_mode

        check_mode(mode)
        key = (self.key(pf, method), mode, sparse)
        if key not in self._quantized:
            from fixtures.memo import cached_tflite
            from pipeline.quantize import describe, quantize_tflite

            representative = self.representative() if mode == "int8" else None
            data = cached_tflite(
                self.deployable(pf, method),
                lambda model: quantize_tflite(model, mode, representative=representative, sparse=sparse,
                                              allow_float_ops=True).tflite,
                variant=self._variant(mode, sparse), digest=self.deployable_digest(pf, method),
            )
            self._quantized[key] = describe(data, mode, sparse=sparse, allow_float_ops=True,
                                            representative_samples=None if representative is None else len(representative))
        return self._quantized[key]

    def remember_quantized(self, pf: float, method: str | None, quantized: Any) -> None:
        """A conversion a benchmark timed (of :meth:`deployable`): kept for this session and on disk."""
        from fixtures.memo import cached_tflite

        cached_tflite(self.deployable(pf, method), lambda _: quantized.tflite,
                      variant=self._variant(quantized.mode, quantized.sparse), digest=self.deployable_digest(pf, method))
        self._quantized[(self.key(pf, method), quantized.mode, quantized.sparse)] = quantized

    def litert_top1(self, tflite: bytes) -> float:
        """Test top-1 of a flatbuffer through LiteRT [fraction], evaluated once per flatbuffer, ever
        (fixtures/memo.py); a quantized model's accuracy is its flatbuffer's."""
        from fixtures.memo import cached_litert_top1
        from pipeline.infer import litert_top1

        return cached_litert_top1(tflite, self.dataset, lambda data: litert_top1(data, self.dataset.x_test, self.dataset.y_test))

    def keep_for_qat(self, pf: float, method: str) -> None:
        """Keep a stripped copy of the re-estimated model of (pf, method) when it is handed over:
        its quantization-aware fine-tuning starts from it too."""
        self._qat_wanted.add(self.key(pf, method))

    def qat_start(self, pf: float, method: str) -> Any:
        """The model the quantization-aware fine-tuning of (pf, method) starts from: the re-estimated
        model, stripped (the kept copy, or re-estimated now, untimed); the chain forgets it."""
        model = self._qat_start.pop(self.key(pf, method), None)
        return model if model is not None else _stripped_copy(self.recalibrated(pf, method))

    def finetune_steps(self) -> int:
        """Training steps of one fine-tuning of the preset: its epochs over the training split."""
        import math

        return self.preset.finetune_epochs * math.ceil(len(self.dataset.y_train) / self.preset.finetune_batch_size)

    def qat(self, pf: float, method: str) -> Any:
        """The :class:`pipeline.quantize.QATResult` of (pf, method); fine-tuned untimed if needed, with the
        float fine-tuning's budget and learning rate (:meth:`qat_job`)."""
        key = self.key(pf, method)
        if key not in self._qat:
            job = self.qat_job(pf, method)
            job.train()
            self._qat[key] = Step(self.qat_result(job), timed=False)
        return self._qat[key].value

    def qat_result(self, job: Any) -> Any:
        """``job.result()`` with its int8 conversion cached on disk (the training is seeded and, for one
        thread count, bitwise reproducible: a warm session's QAT model is the same model)."""
        from fixtures.memo import cached_tflite
        from pipeline.quantize import qat_tflite

        return job.result(lambda model: cached_tflite(model, lambda m: qat_tflite(m).tflite, variant="int8-qat"))

    def qat_job(self, pf: float, method: str) -> Any:
        """A :class:`pipeline.quantize.QATJob` of (pf, method): :meth:`qat_start`, :meth:`finetune_steps`
        steps of ``finetune_batch_size`` images at the preset's fine-tuning learning rate, seeded, with
        the float fine-tuning's loss (distilled from the full model where the preset distils)."""
        from pipeline.quantize import QATJob

        return QATJob(self.qat_start(pf, method), self.dataset.x_train, self.dataset.y_train,
                      steps=self.finetune_steps(), batch_size=self.preset.finetune_batch_size,
                      learning_rate=self.preset.finetune_learning_rate, seed=self.preset.seed,
                      teacher=self.teacher(), label_weight=self.preset.finetune_label_weight,
                      temperature=self.preset.finetune_temperature)

    def remember_qat(self, pf: float, method: str, result: Any) -> None:
        self._qat[self.key(pf, method)] = Step(result, timed=True)

    def qat_timed(self, pf: float, method: str) -> bool | None:
        step = self._qat.get(self.key(pf, method))
        return None if step is None else step.timed

    def qat_sparse(self, pf: float, method: str) -> Any:
        """The quantization-aware model of (pf, method) converted with its weights in the sparse format."""
        key = self.key(pf, method)
        if key not in self._qat_sparse:
            from fixtures.memo import cached_tflite
            from pipeline.quantize import describe, qat_tflite

            data = cached_tflite(self.qat(pf, method).model, lambda m: qat_tflite(m, sparse=True).tflite,
                                 variant="int8-qat-sparse")
            self._qat_sparse[key] = describe(data, "int8-qat", sparse=True)
        return self._qat_sparse[key]

    def tflite_of(self, pf: float, method: str | None, quantization: str) -> bytes:
        """The flatbuffer of (pf, method) in ``quantization`` (``none``: :meth:`tflite`)."""
        if quantization == "none":
            return self.tflite(pf, method)
        if quantization == "int8-qat":
            return self.qat(pf, method).quantized.tflite
        return self.quantized(pf, method, quantization).tflite


    def sizes(self, tflite: bytes) -> dict:
        """``{"bytes": raw size, "gzip": gzip size}`` of a flatbuffer [byte], once per flatbuffer, ever
        (fixtures/sizes.py: gzip took 0.05-0.3 s per flatbuffer, ~50 per profile on quick)."""
        import hashlib

        digest = hashlib.sha256(tflite).hexdigest()
        if digest not in self._sizes:
            from fixtures.sizes import cached_size
            from pipeline.serialize import GZIP_LEVEL, gzip_size

            gzipped = cached_size(tflite, gzip_size, f"gzip-{GZIP_LEVEL}", sha256=digest)
            self._sizes[digest] = {"bytes": len(tflite), "gzip": gzipped}
        return self._sizes[digest]

    def kernel_path(self, tflite: bytes) -> dict:
        """Which kernels LiteRT runs a flatbuffer on (:func:`pipeline.quantize.kernel_path`), once per flatbuffer."""
        import hashlib

        digest = hashlib.sha256(tflite).hexdigest()
        if digest not in self._kernel_paths:
            from pipeline.quantize import kernel_path

            self._kernel_paths[digest] = kernel_path(tflite)
        return self._kernel_paths[digest]


@dataclass
class _Deployable:
    """The deployable model of a (pf, method), the model it was made from, and what is computed once from it."""

    source: Any
    model: Any
    digest: str | None = None
    account: Any = None


def _stripped_copy(model: Any) -> Any:
    """A copy of ``model`` without tfmot's pruning wrappers (``strip_pruning`` makes a new model)."""
    from pipeline.prune import copy_model, is_pruning_wrapped, strip_pruning

    return strip_pruning(model) if is_pruning_wrapped(model) else copy_model(model)
