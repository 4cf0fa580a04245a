"""Serialising every model in three formats (its size is what a device downloads), and
packing the device's dataset into one archive (its size is what the device uploads)."""

from __future__ import annotations

import pytest

from benchmarks.grid import SERIALIZATION_CASES, ids
from harness.calibrate import calls_per_round
from harness.record import case_info

#: A write whose first (untimed) call lasts this many rounds is timed one call per round without a
#: second probe. A model's first .keras or .h5 write lasted 0.63-1.36 times its later ones (quick,
#: pruned models, one core), so a first call of 2 rounds leaves later ones over a round; a second
#: probe of each .keras and pruned .h5 write was 0.2-0.6 s of set-up.
DECISIVE_ROUNDS = 2


@pytest.mark.benchmark_op("serialization")
@pytest.mark.parametrize(
    ("pf", "method", "fmt"), SERIALIZATION_CASES, ids=ids(SERIALIZATION_CASES)
)
def test_serialize_model(benchmark, preset, chain, tmp_path, pf, method, fmt):
    from fixtures.sizes import cached_size
    from pipeline.serialize import GZIP_LEVEL, gzip_size, serialize_model

    # conversion to TFLite and stripping tfmot's wrappers are setup
    source = chain.tflite(pf, method) if fmt == "tflite" else chain.deployable(pf, method)
    path = tmp_path / f"model.{fmt}"
    # A .tflite of a pruned quick model is written in ~0.3 ms: one write per round times the
    # file system's state (first write or overwrite, writeback), not the serializer, so rounds
    # repeat the write until they last serialize_round_s; the probe writes are the warm-up.
    round_s = preset.rounds.serialize_round_s
    iterations = calls_per_round(lambda: serialize_model(source, fmt, path, compressed=False), round_s,
                                 decisive_s=DECISIVE_ROUNDS * round_s)
    written = benchmark.pedantic(
        serialize_model,
        args=(source, fmt, path),
        kwargs={"compressed": False},  # the gzip size is measured below, untimed
        rounds=preset.rounds.serialize_rounds,
        iterations=iterations,
        warmup_rounds=0,
    )
    assert written.bytes == path.stat().st_size > 0
    benchmark.extra_info.update(
        case_info(
            preset,
            "serialization",
            pruning_factor=pf,
            pruning_method=method,
            model_format=fmt,
            quantization="none",  # every format holds the float model
            model_bytes=written.bytes,
            # the same bytes (an .h5 or .tflite of the same weights, in the next profile or run): not compressed again
            model_bytes_gzip=cached_size(path.read_bytes(), gzip_size, f"gzip-{GZIP_LEVEL}"),
            **chain.accuracy(pf, method),
            **chain.provenance(pf, method),
        )
    )


@pytest.mark.benchmark_op("serialization")
def test_serialize_dataset(benchmark, preset, dataset, tmp_path):
    from pipeline.archive import archive_dataset

    path = tmp_path / "dataset.tar"
    archive = benchmark.pedantic(
        archive_dataset,
        args=(dataset.root, path),
        rounds=preset.rounds.serialize_rounds,
        iterations=1,
        warmup_rounds=0,
    )
    assert archive.bytes == path.stat().st_size
    benchmark.extra_info.update(
        case_info(
            preset,
            "serialization",
            model_format="dataset-tar",
            dataset_bytes=archive.bytes,
            dataset_files=archive.files,
        )
    )
