"""Instruction counts of the timed calls: the counted cases (run by ``python -m harness.counts``).

Each case calls what its timed twin calls (test_inference.py, test_encryption.py,
test_serialization.py), with the same arguments: a few untimed warm-up calls, then
``calls`` calls counted as one callgrind region. ``extra_info["instructions"]`` is
instructions per call; the pytest-benchmark stats are the wall time of that region
under valgrind (one round), recorded for completeness, never a latency. A ``.tflite``
write is counted the same way, but in a fresh process of its own (harness/freshcount.py;
its stats are then that process's wall time, valgrind's start included).

Outside a counted session (the main job, the test command) every case skips with
the reason.
"""

from __future__ import annotations

import os
import time

import pytest

from benchmarks.grid import MODELS, PURE_RSA_INPUT_BYTES, case_id, inference_id
from harness import inject
from harness.counts import COUNTED_QUANTIZATIONS, COUNTER_KEY, CountInputs, INPUTS_ENV_VARIABLE, skip_reason
from harness.record import case_info

#: Calls counted per case, by operation. A LiteRT, RSA or AES-GCM call repeats to a few parts
#: per million, so one call is enough (under valgrind a LiteRT call of the quick full model
#: takes 1-3 s: XNNPACK's FMA kernels are slow to emulate). A .tflite write (~104 k
#: instructions, 0.02 s) is mostly Python, whose adaptive interpreter re-specialises its code at
#: growing intervals: single calls differ by up to 3 % even after warm-up, in the same pattern
#: every run, so 100 are counted.
COUNTED_CALLS = {"inference": 1, "serialization": 100, "encryption": 1, "decryption": 1}
#: Uncounted calls before the region, by operation: the first call does one-time work, and Python
#: 3.11 quickens a function after 8 calls and specialises it over the next ones (measured on a
#: .tflite write: calls 1-8 after one warm-up cost 10-20 % more than calls 10-20).
WARMUP_CALLS = {"inference": 10, "serialization": 20, "encryption": 3, "decryption": 3}


@pytest.fixture(scope="module")
def counted(pytestconfig: pytest.Config) -> CountInputs:
    reason = skip_reason()
    if reason is not None:
        pytest.skip(reason)
    return CountInputs.load(os.environ[INPUTS_ENV_VARIABLE])


@pytest.fixture(scope="module")
def counter(pytestconfig: pytest.Config, counted: CountInputs):
    from harness.callgrind import Counter

    found = Counter()
    if not found.running_on_valgrind:
        pytest.fail(f"${INPUTS_ENV_VARIABLE} is set but this process does not run under valgrind")
    pytestconfig.stash[COUNTER_KEY] = found
    return found


def count_call(benchmark, request: pytest.FixtureRequest, counter, operation: str, fn, args: tuple) -> dict:
    """Warm up, count ``fn(*args)`` as one region, and return the count's ``extra_info`` fields.

    The region's own cost (the two client-request calls through ctypes and the loop's
    set-up, a few thousand instructions) is counted in an empty region right after and
    subtracted, so that fixed cost is not spread over the calls.

    With --inject-slowdown OP=SHARE on ``operation`` the calls are counted as in a plain run
    (the same ``calls``, so the two counts compare like for like), then
    :func:`harness.inject.extra_region_calls` more calls of ``fn`` in a region of their
    own, and SHARE of their per-call count is added to the call's: the work of the
    ``floor(n x SHARE)`` repeats a timed run makes over n calls, per call. The extra calls
    are real calls, counted, never an estimate.
    """
    for _ in range(WARMUP_CALLS[operation]):
        fn(*args)
    calls = COUNTED_CALLS[operation]
    share = inject.injections(request.config).get(operation)

    def region(n):
        counter.region(fn, n, args)

    started = time.perf_counter()
    benchmark.pedantic(region, args=(calls,), rounds=1, iterations=1, warmup_rounds=0)
    wall_s = time.perf_counter() - started
    totals = counter.dump(request.node.nodeid)
    region(0)
    empty = counter.dump(request.node.nodeid + " (empty region)")
    extra = injected = None
    if share is not None:
        extra = inject.extra_region_calls(share, calls)
        region(extra)
        injected = counter.dump(request.node.nodeid + " (injected extra calls)").instructions
    return count_record(calls, totals.instructions, empty.instructions, wall_s, share, extra, injected)


def count_record(calls: int, region: int, empty: int, wall_s: float, share=None, extra_calls: int | None = None,
                 injected: int | None = None) -> dict:
    """``extra_info`` fields of a count: ``calls`` calls counted as ``region`` instructions, the empty
    region ``empty``; with ``share`` (--inject-slowdown), ``extra_calls`` more calls counted as ``injected``."""
    per_call = (region - empty) / calls
    record = {
        "instructions": per_call,
        "instructions_region": region,
        "instructions_empty_region": empty,
        "counted_calls": calls,
        "count_tool": "callgrind",
        "valgrind_wall_s_per_call": wall_s / calls,
    }
    if share is not None:
        extra_per_call = (injected - empty) / extra_calls
        record.update({
            "instructions": per_call + float(share) * extra_per_call,
            "instructions_without_injection": per_call,
            "injected_extra_calls": extra_calls,
            "instructions_injected_region": injected,
            inject.EXTRA_INFO_KEY: float(share),
        })
    return record


#: The counted inference cases: every model's float and int8 flatbuffer (harness/counts.py prepares both).
COUNTED_INFERENCE = [(pf, method, q) for pf, method in MODELS for q in COUNTED_QUANTIZATIONS]


@pytest.mark.counted
@pytest.mark.benchmark_op("inference")
@pytest.mark.parametrize(("pf", "method", "quantization"), COUNTED_INFERENCE,
                         ids=[inference_id(pf, m, "litert", q) for pf, m, q in COUNTED_INFERENCE])
def test_count_inference(benchmark, request, preset, counted, counter, pf, method, quantization):
    from pipeline.infer import LiteRTRunner

    tflite = counted.tflite(pf, method, quantization)
    runner = LiteRTRunner(tflite, num_threads=1)
    sample = counted.sample
    record = count_call(benchmark, request, counter, "inference", runner.run, (sample,))
    assert runner.run(sample).shape[-1] == preset.num_classes
    benchmark.extra_info.update(
        case_info(preset, "inference", pruning_factor=pf, pruning_method=method, runtime="litert",
                  quantization=quantization, model_bytes=len(tflite),
                  model_bytes_gzip=counted.gzip_bytes(pf, method, quantization), batch_size=1, num_threads=1, **record)
    )


@pytest.mark.counted
@pytest.mark.benchmark_op("serialization")
@pytest.mark.parametrize(("pf", "method"), MODELS, ids=[case_id(pf, m, "tflite") for pf, m in MODELS])
def test_count_serialize_tflite(benchmark, request, preset, counted, counter, tmp_path, pf, method):
    """Counted in fresh processes (harness/freshcount.py), not in this one: here a write's count
    moved between runs with the state the earlier cases left (docs/counts.md, "Serialization")."""
    from harness.counts import model_file_name
    from harness.freshcount import count_write, median_count

    source = counted.tflite(pf, method)
    path = tmp_path / "model.tflite"
    calls = COUNTED_CALLS["serialization"]
    share = inject.injections(request.config).get("serialization")
    extra = inject.extra_region_calls(share, calls) if share is not None else 0
    counts = benchmark.pedantic(
        count_write, args=(counted.folder / model_file_name(pf, method), path),
        kwargs={"warmup": WARMUP_CALLS["serialization"], "calls": calls, "extra_calls": extra,
                "label": request.node.nodeid},
        rounds=1, iterations=1, warmup_rounds=0,
    )
    chosen = median_count(counts)
    record = count_record(calls, chosen.region, chosen.empty, chosen.region_wall_s, share, extra or None,
                          chosen.injected)
    record.update(counted_processes=len(counts), instructions_per_process=[count.per_call for count in counts])
    assert path.read_bytes() == source
    benchmark.extra_info.update(
        case_info(preset, "serialization", pruning_factor=pf, pruning_method=method, model_format="tflite",
                  model_bytes=len(source), model_bytes_gzip=counted.gzip_bytes(pf, method), **record)
    )


@pytest.mark.counted
@pytest.mark.benchmark_op("encryption")
def test_count_encrypt_dataset_hybrid(benchmark, request, preset, counted, counter, tmp_path):
    from pipeline.encrypt import encrypt_file

    public_key = counted.private_key().public_key()
    out = tmp_path / "dataset.tar.enc"
    record = count_call(benchmark, request, counter, "encryption", encrypt_file, (counted.archive, out, public_key))
    benchmark.extra_info.update(
        case_info(preset, "encryption", scheme="rsa-oaep+aes-256-gcm", key_bits=public_key.key_size,
                  dataset_bytes=counted.archive.stat().st_size, ciphertext_bytes=out.stat().st_size, **record)
    )


@pytest.mark.counted
@pytest.mark.benchmark_op("decryption")
def test_count_decrypt_dataset_hybrid(benchmark, request, preset, counted, counter, tmp_path):
    from pipeline.encrypt import decrypt_file

    private_key = counted.private_key()
    out = tmp_path / "dataset.tar"
    record = count_call(benchmark, request, counter, "decryption", decrypt_file, (counted.ciphertext, out, private_key))
    assert out.read_bytes() == counted.archive.read_bytes()
    benchmark.extra_info.update(
        case_info(preset, "decryption", scheme="rsa-oaep+aes-256-gcm", key_bits=private_key.key_size,
                  dataset_bytes=counted.archive.stat().st_size, ciphertext_bytes=counted.ciphertext.stat().st_size,
                  **record)
    )


@pytest.mark.counted
@pytest.mark.benchmark_op("encryption")
def test_count_encrypt_pure_rsa(benchmark, request, preset, counted, counter):
    from pipeline.encrypt import rsa_encrypt_blocks

    public_key = counted.private_key().public_key()
    data = bytes(range(256)) * (PURE_RSA_INPUT_BYTES // 256)
    record = count_call(benchmark, request, counter, "encryption", rsa_encrypt_blocks, (data, public_key))
    benchmark.extra_info.update(
        case_info(preset, "encryption", scheme="rsa-oaep-blocks", key_bits=public_key.key_size,
                  dataset_bytes=len(data), ciphertext_bytes=len(rsa_encrypt_blocks(data, public_key)), **record)
    )
