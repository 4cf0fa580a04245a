"""What one fine-tuning step costs: Keras ``fit`` against the pipeline's compiled step.

    TF_USE_LEGACY_KERAS=1 taskset -c 1 .tox/device/bin/python -m tools.stepcost \\
        --preset quick --pf 0.7 --images 256 --batch 8 32

Runs with one TensorFlow thread (the device profile's) on a pruned MobileNet of
the preset (random weights: a step's cost does not depend on their values) and
prints, per method and variant, the CPU seconds of the first pass over the
images (graph building plus steps) and of a second pass (steps only), per step
and per image. CPU time, not wall time: on a shared machine the wall clock
measures the neighbours too. Nothing here is part of the benchmark grid.
"""

from __future__ import annotations

import argparse
import time

# Threads before TensorFlow's first op; fixtures.tfenv refuses to start without legacy Keras.
from fixtures.tfenv import keras, tf  # isort: skip


def _cpu() -> float:
    return time.process_time()


def keras_fit_cost(model, x, y, batch: int) -> tuple[float, float]:
    """CPU seconds of a first and a second ``fit`` epoch over ``x`` (the study's path before)."""
    import tensorflow_model_optimization as tfmot

    from pipeline.prune import copy_model, is_pruning_wrapped

    model = copy_model(model)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=["accuracy"])
    callbacks = [tfmot.sparsity.keras.UpdatePruningStep()] if is_pruning_wrapped(model) else []
    passes = []
    for _ in range(2):
        started = _cpu()
        model.fit(x, y, batch_size=batch, epochs=1, shuffle=True, callbacks=callbacks, verbose=0)
        passes.append(_cpu() - started)
    return passes[0], passes[1]


def pipeline_cost(model, x, y, batch: int, preset) -> tuple[float, float]:
    """CPU seconds of a first and a second epoch of ``pipeline.finetune.FinetuneJob``'s step."""
    import dataclasses
    from types import SimpleNamespace

    from pipeline.finetune import FinetuneJob

    import numpy as np

    data = SimpleNamespace(x_train=x, y_train=y, x_val=x[:batch], y_val=y[:batch], x_test=x[:batch], y_test=y[:batch])
    setting = dataclasses.replace(preset, finetune_batch_size=batch, finetune_epochs=1)
    # A distilling preset's step takes the teacher's probabilities too (their values cost nothing).
    distils = setting.finetune_label_weight < 1
    teacher = np.full((len(y), setting.num_classes), 1 / setting.num_classes, np.float32) if distils else None
    job = FinetuneJob(model, data, setting, teacher=teacher)
    passes = []
    step = None
    for _ in range(2):
        started = _cpu()
        if step is None:
            step = job.build_train_step()  # graph building, as train() does first
        for first in range(0, len(y), batch):
            inputs = [tf.constant(x[first : first + batch]), tf.constant(y[first : first + batch])]
            if distils:
                inputs.append(tf.constant(teacher[first : first + batch]))
            step(*inputs)
        passes.append(_cpu() - started)
    return passes[0], passes[1]


def run(preset_name: str, pf: float, images: int, batches: list[int], methods: list[str]) -> list[str]:
    """Measure and return the printed lines (see the module docstring)."""
    import numpy as np

    from fixtures.model import build_mobilenet
    from fixtures.presets import get_preset
    from pipeline.prune import prune

    preset = get_preset(preset_name)
    rng = np.random.default_rng(preset.seed)
    x = rng.uniform(-1, 1, (images, preset.input_size, preset.input_size, 3)).astype("float32")
    y = rng.integers(0, preset.num_classes, images).astype("int64")
    keras.utils.set_random_seed(preset.seed)
    base = build_mobilenet(preset)
    lines = [f"preset {preset.name}, pf {pf:g}, {images} images, 1 TensorFlow thread, CPU seconds"]
    for method in methods:
        model = prune(base, pf, method)
        for batch in batches:
            steps = -(-images // batch)
            for name, measure in (("keras-fit", lambda: keras_fit_cost(model, x, y, batch)),
                                  ("pipeline", lambda: pipeline_cost(model, x, y, batch, preset))):
                first, second = measure()
                lines.append(
                    f"{method:<9} {name:<9} batch {batch:>3}: first pass {first:6.1f} s "
                    f"(graph building ~{first - second:5.1f} s), then {1000 * second / steps:6.1f} ms per step, "
                    f"{1000 * second / images:5.2f} ms per image"
                )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick", help="preset whose model is measured (default: quick)")
    parser.add_argument("--pf", type=float, default=0.7, help="pruning factor (default: 0.7)")
    parser.add_argument("--images", type=int, default=256, help="images per pass (default: 256)")
    parser.add_argument("--batch", type=int, nargs="+", default=[8, 32], help="batch sizes (default: 8 32)")
    parser.add_argument("--method", nargs="+", default=["magnitude", "filter"],
                        help="pruning methods (default: magnitude filter)")
    args = parser.parse_args(argv)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    for line in run(args.preset, args.pf, args.images, args.batch, args.method):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
