"""Top-1 after fine-tuning under other recipes and seeds: how a preset's fine-tuning was chosen.

    TF_USE_LEGACY_KERAS=1 taskset -c 1 .tox/device/bin/python -m tools.recipe \\
        --preset quick --pf 0.7 --method magnitude --recipe 32x1 --recipe 16x2 --seeds 1 2 3 1234
    ... --recipe 16x2 --distill none --distill 0.2:4 --seeds 1 2 3 1234   # labels only against distillation

Prunes the preset's trained base model (the cached one the suite uses) once per
method and factor, re-estimates its BatchNorm statistics as the suite does, then
fine-tunes a copy with every recipe (``BATCHxEPOCHS``, at the preset's learning
rate), every loss (``--distill WEIGHT:TEMPERATURE``: that share of the labels'
cross-entropy plus distillation from the full model at that temperature, from the
teacher outputs the suite caches; ``none``: labels only) and every fine-tuning seed, and prints the test top-1 before and after and
the CPU seconds of the training, one line per run, then the mean per recipe.
One TensorFlow thread (the device profile's). One run's top-1 moves with the seed
(shuffling order and dropout) by several points on a small test split: compare
recipes over several seeds, not one. Nothing here is part of the benchmark grid.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time

# Threads before TensorFlow's first op; fixtures.tfenv refuses to start without legacy Keras.
from fixtures.tfenv import tf  # isort: skip


def parse_recipe(text: str) -> tuple[int, int]:
    """``"16x2"`` -> (batch 16, epochs 2); anything else raises ``ValueError`` naming it."""
    try:
        batch, epochs = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"recipe {text!r} is not BATCHxEPOCHS, e.g. 16x2") from None
    if batch < 1 or epochs < 1:
        raise ValueError(f"recipe {text!r}: batch and epochs must be >= 1")
    return batch, epochs


def parse_distill(text: str) -> tuple[float, float]:
    """``"0.2:4"`` -> (label weight 0.2, temperature 4.0); ``"none"`` -> (1.0, 1.0), labels only.
    Anything else, or a weight outside [0, 1] or a temperature <= 0, raises ``ValueError`` naming it."""
    if text.lower() == "none":
        return 1.0, 1.0
    try:
        weight, temperature = (float(part) for part in text.split(":"))
    except ValueError:
        raise ValueError(f"distillation {text!r} is not WEIGHT:TEMPERATURE (e.g. 0.2:4) or none") from None
    if not 0 <= weight <= 1 or not temperature > 0:
        raise ValueError(f"distillation {text!r}: the weight must be in [0, 1] and the temperature > 0")
    return weight, temperature


def main(argv=None) -> int:
    from fixtures.presets import FINETUNE_LR_SCHEDULES

    parser = argparse.ArgumentParser(prog="python -m tools.recipe", description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick", help="preset (default: quick)")
    parser.add_argument("--pf", type=float, action="append", help="pruning factor, repeatable (default: 0.7)")
    parser.add_argument("--method", action="append", choices=("magnitude", "filter"),
                        help="pruning method, repeatable (default: magnitude)")
    parser.add_argument("--recipe", action="append",
                        help="BATCHxEPOCHS, repeatable (default: the preset's for each method)")
    parser.add_argument("--distill", action="append",
                        help="WEIGHT:TEMPERATURE of the loss (label share, distillation temperature), or none "
                             "for labels only; repeatable (default: the preset's)")
    parser.add_argument("--schedule", action="append", choices=FINETUNE_LR_SCHEDULES,
                        help="learning-rate schedule, repeatable (default: the preset's)")
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the preset's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="fine-tuning seeds (default: the preset's)")
    args = parser.parse_args(argv)

    from fixtures.dataset import dataset_for
    from fixtures.model import load_base_model
    from fixtures.presets import get_preset
    from fixtures.teacher import cached_teacher_probabilities
    from pipeline.finetune import FinetuneJob, top1
    from pipeline.prune import prune
    from pipeline.recalibrate import recalibrate_batchnorm, recalibration_sample

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    try:
        preset = get_preset(args.preset)
        recipes = [parse_recipe(r) for r in args.recipe] if args.recipe else None  # None: the preset's
        losses = [parse_distill(d) for d in args.distill] if args.distill else [
            (preset.finetune_label_weight, preset.finetune_temperature)]
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    dataset = dataset_for(preset, None)
    base, info = load_base_model(preset, dataset)  # trained once and cached, as the suite's
    teacher = None
    if any(weight < 1 for weight, _ in losses):
        teacher = cached_teacher_probabilities(base, info.sha256, dataset)
    print(f"full model: test top-1 {top1(base, dataset.x_test, dataset.y_test):.3f} "
          f"({len(dataset.y_test)} test images)")
    images = recalibration_sample(dataset.x_train, preset.bn_recalibration_samples, preset.seed)
    seeds = args.seeds or [preset.seed]
    lr = preset.finetune_learning_rate if args.lr is None else args.lr
    for method in args.method or ["magnitude"]:
        for pf in args.pf or [0.7]:
            start = recalibrate_batchnorm(prune(base, pf, method, images=images), images)
            for (batch, epochs), (weight, temperature), schedule in [
                    (r, d, s) for r in recipes or [(preset.finetune_batch_size, preset.finetune_epochs)] for d in losses
                    for s in args.schedule or [preset.finetune_lr_schedule]]:
                after = []
                name = (f"{batch}x{epochs} " + ("labels" if weight >= 1 else f"distill {weight:g}:{temperature:g}")
                        + f" lr {lr:g} {schedule}")
                for seed in seeds:
                    setting = dataclasses.replace(preset, finetune_batch_size=batch, finetune_epochs=epochs, seed=seed,
                                                  finetune_label_weight=weight, finetune_temperature=temperature,
                                                  finetune_lr_schedule=schedule,
                                                  finetune_learning_rate=lr)
                    job = FinetuneJob(start, dataset, setting, teacher=teacher)
                    began = time.process_time()
                    job.train(progress=False)
                    cpu = time.process_time() - began
                    result = job.result()
                    after.append(result.top1_after)
                    print(f"{method} pf {pf:g} {name} seed {seed}: top-1 {result.top1_before:.3f} -> "
                          f"{result.top1_after:.3f}, {cpu:.1f} s CPU ({result.steps} steps)", flush=True)
                spread = f", SD {statistics.stdev(after):.3f}, range {min(after):.3f}-{max(after):.3f}" if len(after) > 1 else ""
                print(f"{method} pf {pf:g} {name}: mean top-1 after {statistics.mean(after):.3f} "
                      f"over {len(after)} seed(s){spread}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
