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
pruning step, so it loads without tfmot. ``.keras`` files are loaded with
Keras' ``safe_mode=True`` (no arbitrary code from lambdas).
"""

from __future__ import annotations

import gzip
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


def load_model(path: Path | str):
    """Load a ``.keras`` (safe mode) or ``.h5`` model file, uncompiled.

    ``.tflite`` files are run, not loaded as Keras models: use
    ``pipeline.infer.LiteRTRunner(path)``.
    """
    from fixtures.tfenv import keras

    path = Path(path)
    if path.suffix == ".keras":
        return keras.models.load_model(str(path), compile=False, safe_mode=True)
    if path.suffix == ".h5":
        return keras.models.load_model(str(path), compile=False)
    raise ValueError(
        f"cannot load {str(path)!r} as a Keras model: suffix {path.suffix!r} is not .keras or .h5 "
        "(run a .tflite file with pipeline.infer.LiteRTRunner)"
    )


__all__ = ["GZIP_LEVEL", "MODEL_FORMATS", "SerializedModel", "gzip_size", "load_model", "serialize_model"]
