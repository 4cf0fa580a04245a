"""Fine-tuning the full, magnitude-pruned and filter-pruned tiny MobileNet (pipeline/finetune.py)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.finetune import FinetuneResult, finetune, top1
from pipeline.prune import filter_prune, is_pruning_wrapped, magnitude_prune, measure_sparsity
from tests.pipeline.helpers import assert_same_weights, weights_of

PF = 0.7


def _check_result(result: FinetuneResult, preset, dataset) -> None:
    assert result.epochs == preset.finetune_epochs
    assert len(result.history["loss"]) == preset.finetune_epochs
    assert "val_accuracy" in result.history  # validation data was used
    assert 0 <= result.top1_before <= 1 and 0 <= result.top1_after <= 1
    assert result.top1_after == pytest.approx(top1(result.model, dataset.x_test, dataset.y_test))
    assert result.seconds > 0
    assert result.dropout == preset.dropout
    # every training image once per epoch, in steps of finetune_batch_size
    assert result.steps == preset.finetune_epochs * -(-len(dataset.y_train) // preset.finetune_batch_size)


def test_magnitude_masks_stay_fixed_while_finetuning(tiny_model, tiny_dataset, tiny_teacher, preset, capsys):
    pruned = magnitude_prune(tiny_model, PF)
    before = weights_of(pruned)
    zeros_before = {  # inner layer name -> where its kernel is 0
        layer.layer.name: layer.layer.kernel.numpy() == 0 for layer in pruned.layers if hasattr(layer, "pruning_vars")
    }
    assert zeros_before
    result = finetune(pruned, tiny_dataset, preset, teacher=tiny_teacher, progress=True)
    assert "val_accuracy" in capsys.readouterr().out  # progress shown (one line per epoch)
    assert_same_weights(before, pruned)
    _check_result(result, preset, tiny_dataset)
    assert not is_pruning_wrapped(result.model)  # fine-tuned stripped, with gradient masks
    assert measure_sparsity(result.model).prunable_sparsity == pytest.approx(PF, abs=0.01)
    assert measure_sparsity(result.model).prunable_sparsity == pytest.approx(measure_sparsity(pruned).prunable_sparsity)
    changed = []
    for name, zeros in zeros_before.items():
        kernel = result.model.get_layer(name).kernel.numpy()
        np.testing.assert_array_equal(kernel == 0, zeros)  # the same weights are zero, no others
        if not np.array_equal(kernel, pruned.get_layer(f"prune_low_magnitude_{name}").layer.kernel.numpy()):
            changed.append(name)
    assert changed, "fine-tuning did not update any kernel"


def test_magnitude_finetuning_starts_from_the_pruned_model(tiny_model, tiny_dataset, tiny_teacher, preset):
    """The stripped copy it trains computes what the wrapped model computes (top-1 before)."""
    pruned = magnitude_prune(tiny_model, PF)
    from pipeline.finetune import FinetuneJob

    job = FinetuneJob(pruned, tiny_dataset, preset, teacher=tiny_teacher)
    x = tiny_dataset.x_test[:8]
    np.testing.assert_allclose(job.model(x, training=False), pruned(x, training=False), rtol=1e-5, atol=1e-6)
    assert job.top1_before == pytest.approx(top1(pruned, tiny_dataset.x_test, tiny_dataset.y_test))
    # a top-1 already measured on the model passed in is the copy's too: taken, not re-measured
    given = FinetuneJob(pruned, tiny_dataset, preset, teacher=tiny_teacher, top1_before=job.top1_before)
    assert given.top1_before == job.top1_before


@pytest.mark.parametrize(
    "method",
    [
        "filter",
        # the same code path as "filter" (a plain model); one more fit costs ~15 s on 2 busy cores
        pytest.param("full", marks=pytest.mark.slow),
    ],
)
def test_finetune_filter_pruned_and_full_models(tiny_model, tiny_dataset, preset, method):
    import dataclasses

    model = filter_prune(tiny_model, PF) if method == "filter" else tiny_model
    before = weights_of(model)
    labels_only = dataclasses.replace(preset, finetune_label_weight=1.0)  # the study's loss: no teacher needed
    result = finetune(model, tiny_dataset, labels_only, progress=False)
    assert_same_weights(before, model)
    _check_result(result, labels_only, tiny_dataset)
    assert result.model is not model
    momentum = {layer.name: getattr(layer, "momentum", None) for layer in model.layers}
    assert {layer.name: getattr(layer, "momentum", None) for layer in result.model.layers} == momentum
    assert result.top1_before == pytest.approx(top1(model, tiny_dataset.x_test, tiny_dataset.y_test))


def test_a_handed_over_model_is_trained_itself_and_a_wrapped_one_stays_untouched(tiny_model, tiny_dataset,
                                                                                  tiny_teacher, preset):
    """``copy=False``: a plain model is the job's model (no copy) and ends fine-tuned; a
    tfmot-wrapped one is stripped into a new model whatever ``copy`` says, and kept as it was."""
    from pipeline.finetune import FinetuneJob

    model = filter_prune(tiny_model, PF)
    before = weights_of(model)
    job = FinetuneJob(model, tiny_dataset, preset, teacher=tiny_teacher, copy=False)
    assert job.model is model
    job.train(progress=False)
    assert job.result().model is model
    changed = [a for a, b in zip(before, weights_of(model)) if not np.array_equal(a, b)]
    assert changed, "the handed-over model was not trained"

    wrapped = magnitude_prune(tiny_model, PF)
    kept = weights_of(wrapped)
    stripped = FinetuneJob(wrapped, tiny_dataset, preset, teacher=tiny_teacher, copy=False)
    assert stripped.model is not wrapped and not is_pruning_wrapped(stripped.model)
    stripped.train(progress=False)
    assert_same_weights(kept, wrapped)


def test_training_runs_without_graph_rewrites_and_restores_the_option(tiny_model, tiny_dataset, tiny_teacher,
                                                                      preset, monkeypatch):
    """The training step's graph runs with Grappler's meta-optimizer off; the option is back as it
    was afterwards, also when training fails."""
    from fixtures.tfenv import tf
    from pipeline.finetune import FinetuneJob

    def meta_off() -> bool:
        return tf.config.optimizer.get_experimental_options().get("disable_meta_optimizer", False)

    assert not meta_off()
    job = FinetuneJob(filter_prune(tiny_model, PF), tiny_dataset, preset, teacher=tiny_teacher)
    seen = []
    build = job.build_train_step
    monkeypatch.setattr(job, "build_train_step", lambda: seen.append(meta_off()) or build())
    job.train(progress=False)
    assert seen == [True] and not meta_off()

    failing = FinetuneJob(filter_prune(tiny_model, PF), tiny_dataset, preset, teacher=tiny_teacher)
    monkeypatch.setattr(failing, "build_train_step", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        failing.train(progress=False)
    assert not meta_off()


def test_top1_against_a_numpy_reference(tiny_model, samples):
    probabilities = tiny_model(samples, training=False).numpy()
    labels = np.arange(len(samples)) % probabilities.shape[1]
    assert top1(tiny_model, samples, labels) == pytest.approx(np.mean(probabilities.argmax(axis=1) == labels))


def test_job_times_training_apart_and_runs_once(tiny_model, tiny_dataset, tiny_teacher, preset):
    from pipeline.finetune import FinetuneJob

    pruned = filter_prune(tiny_model, PF)
    job = FinetuneJob(pruned, tiny_dataset, preset, teacher=tiny_teacher)
    assert job.top1_before == pytest.approx(top1(pruned, tiny_dataset.x_test, tiny_dataset.y_test))
    with pytest.raises(RuntimeError, match="train"):
        job.result()
    seconds = job.train(progress=False)
    result = job.result()
    assert result.seconds == seconds > 0
    _check_result(result, preset, tiny_dataset)
    with pytest.raises(RuntimeError, match="already run"):
        job.train(progress=False)


def test_fused_adam_follows_keras_adam():
    """The fine-tuning's fused Adam (one op per variable) makes the same updates as
    keras.optimizers.Adam: same rule, same defaults; only the op count differs."""
    from fixtures.tfenv import keras, tf
    from pipeline.finetune import make_optimizer

    rng = np.random.default_rng(0)
    start = rng.normal(size=(3, 4)).astype(np.float32)
    grads = [rng.normal(size=(3, 4)).astype(np.float32) for _ in range(5)]
    finals = []
    for optimizer in (make_optimizer(1e-3), keras.optimizers.Adam(learning_rate=1e-3)):
        variable = tf.Variable(start)
        for g in grads:
            optimizer.apply_gradients([(tf.constant(g), variable)])
        finals.append(variable.numpy())
    assert not np.allclose(finals[0], start)  # it moved
    np.testing.assert_allclose(finals[0], finals[1], rtol=1e-5, atol=1e-7)


def test_cosine_schedule_decays_the_step_to_zero_at_the_last_step():
    """With ``schedule="cosine"`` the fused Adam's steps shrink along a cosine: the first step moves a
    variable like the constant rate's first step, the step at ``steps`` (and after) moves it by 0."""
    from fixtures.tfenv import tf
    from pipeline.finetune import make_optimizer

    def moves(optimizer, count):
        variable = tf.Variable(np.ones(4, dtype=np.float32))
        out = []
        for _ in range(count):
            before = variable.numpy().copy()
            optimizer.apply_gradients([(tf.constant(np.full(4, 0.5, dtype=np.float32)), variable)])
            out.append(float(np.abs(variable.numpy() - before).max()))
        return out

    constant, cosine = moves(make_optimizer(1e-3), 6), moves(make_optimizer(1e-3, "cosine", steps=4), 6)
    assert cosine[0] == pytest.approx(constant[0], rel=1e-4)  # the same first step (Adam: ~lr)
    assert cosine[0] > cosine[1] > cosine[2] > cosine[3] > 0  # shrinking
    assert cosine[4] == cosine[5] == 0  # the rate is 0 from step `steps` on
    assert max(constant) == pytest.approx(min(constant), rel=1e-3)


def test_unknown_schedules_are_refused_by_name():
    import dataclasses

    from fixtures.presets import get_preset
    from pipeline.finetune import make_optimizer

    with pytest.raises(ValueError, match="unknown learning-rate schedule 'step'"):
        make_optimizer(1e-3, "step", steps=10)
    with pytest.raises(ValueError, match="needs steps >= 1, got 0"):
        make_optimizer(1e-3, "cosine", steps=0)
    with pytest.raises(ValueError, match="'quick': finetune_lr_schedule must be one of constant, cosine, got 'linear'"):
        dataclasses.replace(get_preset("quick"), finetune_lr_schedule="linear")
    assert get_preset("quick").finetune_lr_schedule == "constant"  # the study's


def test_a_cosine_job_reaches_zero_rate_at_its_last_step(tiny_model, tiny_dataset, tiny_teacher, preset):
    import dataclasses

    from pipeline.finetune import FinetuneJob

    setting = dataclasses.replace(preset, finetune_lr_schedule="cosine")
    job = FinetuneJob(filter_prune(tiny_model, PF), tiny_dataset, setting, teacher=tiny_teacher)
    job.train(progress=False)
    assert job.result().steps == job.total_steps
    assert float(job._optimizer._decayed_lr("float32")) == pytest.approx(0.0, abs=1e-9)


def _distillation_reference(labels, student, teacher, label_weight, temperature):
    """Plain numpy: a*CE + (1-a)*T^2*KL(softmax(log t / T) || softmax(log s / T)), batch mean."""
    def soft(p):
        z = np.log(p) / temperature
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    ce = -np.mean(np.log(student[np.arange(len(labels)), labels]))
    qs, qt = soft(student), soft(teacher)
    kl = np.mean(np.sum(qt * (np.log(qt) - np.log(qs)), axis=1))
    return label_weight * ce + (1 - label_weight) * temperature**2 * kl


def _probabilities(rng, shape):
    p = rng.uniform(0.05, 1.0, size=shape)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize(("label_weight", "temperature"), [(0.2, 4.0), (0.5, 2.0), (0.0, 1.0), (1.0, 4.0)])
def test_distillation_loss_against_a_numpy_reference(label_weight, temperature):
    from pipeline.finetune import distillation_loss

    rng = np.random.default_rng(3)
    student, teacher = _probabilities(rng, (5, 4)), _probabilities(rng, (5, 4))
    labels = np.array([0, 3, 1, 1, 2], dtype=np.int64)
    got = float(distillation_loss(labels, student, teacher, label_weight=label_weight, temperature=temperature))
    want = _distillation_reference(labels, student.astype(np.float64), teacher.astype(np.float64),
                                   label_weight, temperature)
    assert got == pytest.approx(want, rel=1e-5)


def test_distillation_loss_is_cross_entropy_when_student_matches_teacher():
    from fixtures.tfenv import keras
    from pipeline.finetune import distillation_loss

    rng = np.random.default_rng(4)
    student = _probabilities(rng, (6, 3))
    labels = np.array([0, 1, 2, 2, 1, 0], dtype=np.int64)
    cross_entropy = float(keras.losses.SparseCategoricalCrossentropy()(labels, student))
    got = float(distillation_loss(labels, student, student, label_weight=0.3, temperature=4.0))
    assert got == pytest.approx(0.3 * cross_entropy, rel=1e-5)
    # a teacher that disagrees costs more
    other = float(distillation_loss(labels, student, student[::-1], label_weight=0.3, temperature=4.0))
    assert other > got + 1e-3


def test_a_distilling_job_needs_teacher_outputs_of_the_training_split(tiny_model, tiny_dataset, preset):
    from pipeline.finetune import FinetuneJob

    assert preset.finetune_label_weight < 1  # tiny distils, like quick
    with pytest.raises(ValueError, match="teacher="):
        FinetuneJob(tiny_model, tiny_dataset, preset)
    wrong = np.full((len(tiny_dataset.y_train) - 1, preset.num_classes), 1 / preset.num_classes, np.float32)
    with pytest.raises(ValueError, match=r"\[training images, classes\]"):
        FinetuneJob(tiny_model, tiny_dataset, preset, teacher=wrong)
    other_classes = np.full((len(tiny_dataset.y_train), preset.num_classes + 1), 0.2, np.float32)
    with pytest.raises(ValueError, match=rf"\[{len(tiny_dataset.y_train)}, {preset.num_classes}\]"):
        FinetuneJob(tiny_model, tiny_dataset, preset, teacher=other_classes)


def test_distillation_learns_from_the_teacher_not_only_the_labels(tiny_model, tiny_dataset, preset):
    """Pure distillation (label weight 0) towards a teacher that always answers class 0 moves the model's
    outputs towards class 0; fine-tuning on the labels alone (same seed, same steps) does not."""
    import dataclasses

    model = filter_prune(tiny_model, PF)
    before = weights_of(model)
    teacher = np.full((len(tiny_dataset.y_train), preset.num_classes), 0.01, np.float32)
    teacher[:, 0] = 1.0 - 0.01 * (preset.num_classes - 1)
    setting = dataclasses.replace(preset, finetune_epochs=4)  # 16 steps of tiny
    distilled = finetune(
        model, tiny_dataset, dataclasses.replace(setting, finetune_label_weight=0.0, finetune_temperature=1.0),
        teacher=teacher, progress=False,
    )
    labelled = finetune(model, tiny_dataset, dataclasses.replace(setting, finetune_label_weight=1.0), progress=False)
    assert_same_weights(before, model)

    def class_0(result):  # batch statistics: a few steps leave the moving ones far from settled
        return float(np.mean(result.model(tiny_dataset.x_train, training=True).numpy()[:, 0]))

    assert class_0(distilled) > class_0(labelled) + 0.1
