"""Model serialization: ``.keras``, ``.h5`` and ``.tflite`` files and their sizes.

The size of the file is what the device downloads. Sizes are reported raw and
gzip-compressed (level 6, gzip's default, and mtime 0, so the same bytes always give
the same size): zeroed weights of a magnitude-pruned model only shrink the
compressed size. Level 9 gave files 1.5 % smaller but took 11x longer on a
magnitude-pruned model (2.4-3.3 s against 0.2 s for a 3.6 MB file with 70 % zero
weights: its long hash chains of zero patterns), and the suite measures 48 sizes
per profile.

A magnitude-pruned (tfmot-wrapped) model is stripped before saving (on a copy):
the file holds a plain model with sparse kernels, not the wrappers, masks and
pruning step, so it loads without tfmot.

Loading never runs code stored in a file, as far as the format lets Keras check:
tf_keras applies ``safe_mode`` (a Lambda layer's Python bytecode is refused) only to
``.keras`` zip archives; any other file, an ``.h5`` or a non-zip file named ``.keras``,
goes to its legacy loader, which has no safe mode and would rebuild a Lambda layer
from its bytecode. So :func:`load_model` loads ``.keras`` files only when they are zip
archives, in safe mode, and reads an ``.h5`` file's stored architecture first and
refuses one that holds a Lambda layer.
"""

from __future__ import annotations

import gzip
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

#: gzip settings that make the compressed size reproducible (level 6: ``gzip``'s default).
GZIP_LEVEL = 6
GZIP_MTIME = 0
#: File formats and their suffixes.
MODEL_FORMATS = ("keras", "h5", "tflite")


@dataclass(frozen=True)
class SerializedModel:
    """One model file: its path, raw size [byte], gzip size [byte] and format."""

    path: Path
    bytes: int
    gzip_bytes: int | None  # None when serialize_model(..., compressed=False)
    format: str


def gzip_size(data: bytes) -> int:
    """Size [byte] of ``data`` gzip-compressed at :data:`GZIP_LEVEL` with mtime 0."""
    return len(gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=GZIP_MTIME))


def _check_format(fmt: str) -> str:
    if fmt not in MODEL_FORMATS:
        raise ValueError(f"unknown model format {fmt!r}; known formats: {', '.join(MODEL_FORMATS)}")
    return fmt


def serialize_model(model, fmt: str, path: Path | str, *, compressed: bool = True) -> SerializedModel:
    """Write ``model`` to ``path`` as ``fmt`` ("keras", "h5" or "tflite") and measure it.

    ``compressed=False`` skips measuring the gzip size (``gzip_bytes`` is then
    None): gzip on a mostly-zero magnitude-pruned file takes a fraction of a second,
    which a benchmark of the writing must not time.

    ``model`` may also be the bytes of an already converted ``.tflite``
    flatbuffer (from :func:`pipeline.infer.to_tflite`): then only writing is
    done, so a benchmark can keep the conversion out of the timed region.

    The path must end with ``.<fmt>`` (Keras picks the format from it). tfmot
    wrappers are stripped first (on a copy; ``model`` is untouched). A compiled
    model is saved through an uncompiled copy: the optimizer state is not part
    of the download, which is the inference model.
    """
    fmt = _check_format(fmt)
    path = Path(path)
    if path.suffix != f".{fmt}":
        raise ValueError(f"path {str(path)!r} must end with .{fmt} for format {fmt!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(model, (bytes, bytearray)):
        if fmt != "tflite":
            raise ValueError(f"bytes can only be written as a .tflite flatbuffer, not as format {fmt!r}")
        data = bytes(model)
        path.write_bytes(data)
        return SerializedModel(path=path, bytes=len(data), gzip_bytes=gzip_size(data) if compressed else None, format=fmt)
    # Imported only for a Keras model: writing flatbuffer bytes needs no TensorFlow (the counted
    # run, benchmarks/test_counts.py, calls this under valgrind, where importing TF costs minutes).
    from pipeline.infer import to_tflite
    from pipeline.prune import copy_model, is_pruning_wrapped, strip_pruning

    if is_pruning_wrapped(model):
        model = strip_pruning(model)
    elif getattr(model, "optimizer", None) is not None:
        model = copy_model(model)  # clone_model gives an uncompiled model
    if fmt == "tflite":
        path.write_bytes(to_tflite(model))
    else:
        model.save(str(path))
    if not compressed:
        return SerializedModel(path=path, bytes=path.stat().st_size, gzip_bytes=None, format=fmt)
    data = path.read_bytes()
    return SerializedModel(path=path, bytes=len(data), gzip_bytes=gzip_size(data), format=fmt)


def _lambda_layers(config) -> list[str]:
    """Names of the Lambda layers anywhere in a stored Keras architecture (nested models included)."""
    if isinstance(config, list):
        return [name for item in config for name in _lambda_layers(item)]
    if not isinstance(config, dict):
        return []
    found = [str(config.get("config", {}).get("name", "?"))] if config.get("class_name") == "Lambda" else []
    return found + [name for value in config.values() for name in _lambda_layers(value)]


def _refuse_h5_lambdas(path: Path) -> None:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
    except OSError as error:
        raise ValueError(f"cannot read {str(path)!r} as an .h5 model file (truncated, or not HDF5): {error}") from None
    if raw is None:
        return  # no architecture stored: Keras refuses it itself (a weights-only file)
    names = _lambda_layers(json.loads(raw.decode("utf8") if isinstance(raw, bytes) else raw))
    if names:
        raise ValueError(
            f"refusing to load {str(path)!r}: it holds Lambda layer(s) {', '.join(names)}, whose Python code the "
            ".h5 loader would run (it has no safe mode); save the model as .keras, which loads in safe mode"
        )


def load_model(path: Path | str):
    """Load a ``.keras`` or ``.h5`` model file, uncompiled, without running code stored in it.

    A ``.keras`` file must be a zip archive (loaded with ``safe_mode=True``); an ``.h5``
    file must hold no Lambda layer (the module docstring says why). Either is otherwise
    refused with ``ValueError`` naming the file, as is any other suffix. ``.tflite`` files
    are run, not loaded as Keras models: use ``pipeline.infer.LiteRTRunner(path)``.
    """
    from fixtures.tfenv import keras

    path = Path(path)
    if path.suffix == ".keras":
        if not zipfile.is_zipfile(path):
            raise ValueError(
                f"refusing to load {str(path)!r}: a .keras file is a zip archive and this one is not; Keras "
                "would hand it to its legacy loader, which has no safe mode"
            )
        return keras.models.load_model(str(path), compile=False, safe_mode=True)
    if path.suffix == ".h5":
        _refuse_h5_lambdas(path)
        return keras.models.load_model(str(path), compile=False)
    raise ValueError(
        f"cannot load {str(path)!r} as a Keras model: suffix {path.suffix!r} is not .keras or .h5 "
        "(run a .tflite file with pipeline.infer.LiteRTRunner)"
    )


__all__ = ["GZIP_LEVEL", "MODEL_FORMATS", "SerializedModel", "gzip_size", "load_model", "serialize_model"]
