"""A weights file's backbone with a new head: head only against head plus unfrozen epochs, top-1 for its cost.

    TF_USE_LEGACY_KERAS=1 python -m tools.headrecipe --preset quick --classes 24 --unfrozen 0 2 5

ImageNet weights cannot be had here, so the backbone is a stand-in: the preset's trained
base model (the cached one the suite uses, trained on the preset's first classes of the
embedded dataset), written as a Keras-layout backbone file. A head is then trained on it
by the suite's route (fixtures.model: ``HEAD_EPOCHS`` on the frozen backbone's features,
then ``UNFROZEN_EPOCHS`` of the whole model) for an embedded dataset of ``--classes``
classes drawn with another seed (the pretrained classes and unseen ones), once per
``--unfrozen`` count (and ``--head-epochs`` count). Prints the test top-1, the base step's wall time and the process's
CPU time for it, one line per count. Nothing here is part of the benchmark grid.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

# fixtures.tfenv refuses to start without legacy Keras.
from fixtures.tfenv import keras  # isort: skip


def backbone_file(model, alpha: float, input_size: int, path: Path) -> Path:
    """``model``'s MobileNet v1 backbone saved as Keras' ``include_top=False`` model would be."""
    from fixtures.weights import mobilenet_v1_shapes

    backbone = keras.applications.MobileNet(
        alpha=alpha, input_shape=(input_size, input_size, 3), include_top=False, weights=None
    )
    for name in mobilenet_v1_shapes(alpha):
        backbone.get_layer(name).set_weights(model.get_layer(name).get_weights())
    backbone.save_weights(str(path))
    return path


def main(argv=None) -> int:
    import fixtures.model as model_module
    from fixtures.dataset import dataset_for
    from fixtures.presets import get_preset

    parser = argparse.ArgumentParser(prog="python -m tools.headrecipe", description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick", help="preset whose base model is the backbone (default: quick)")
    parser.add_argument("--classes", type=int, default=24, help="classes of the head's dataset (default: 24)")
    parser.add_argument("--seed", type=int, default=99, help="seed of the head's dataset and training (default: 99)")
    parser.add_argument("--unfrozen", type=int, nargs="+", default=[0, 2, 5],
                        help="epochs of the whole model after the head, one run each (default: 0 2 5)")
    parser.add_argument("--head-epochs", type=int, nargs="+", default=[model_module.HEAD_EPOCHS],
                        help=f"epochs of the head on the frozen backbone (default: {model_module.HEAD_EPOCHS})")
    args = parser.parse_args(argv)
    try:
        preset = get_preset(args.preset)
        target = dataclasses.replace(preset, num_classes=args.classes, seed=args.seed)
    except ValueError as error:
        parser.error(str(error))
    base = model_module.load_base_model(preset, dataset_for(preset))[0]
    data = dataset_for(target)
    with tempfile.TemporaryDirectory() as folder:
        path = backbone_file(base, preset.alpha, preset.input_size, Path(folder) / "backbone.h5")
        print(f"backbone: {args.preset}'s base model; head on {args.classes} classes, "
              f"{len(data.y_train)} training / {len(data.y_test)} test images", flush=True)
        for head_epochs, epochs in ((h, u) for h in args.head_epochs for u in args.unfrozen):
            model_module.HEAD_EPOCHS, model_module.UNFROZEN_EPOCHS = head_epochs, epochs
            cpu = time.process_time()
            info = model_module.load_base_model(target, data, weights=path, cache_root=folder, progress=False)[1]
            print(f"head {model_module.HEAD_EPOCHS} epochs + unfrozen {epochs}: test top-1 {info.top1_test:.3f}, "
                  f"base step {info.train_time_s:.1f} s wall, {time.process_time() - cpu:.1f} s CPU", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
