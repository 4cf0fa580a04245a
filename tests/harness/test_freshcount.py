"""harness.freshcount: a .tflite write counted in fresh valgrind processes repeats to the
instruction, whatever the caller's environment, and sees the injected extra calls."""
import os
import shutil

import pytest

from harness import callgrind, freshcount
from harness.freshcount import WriteCount

NEEDS_VALGRIND = pytest.mark.skipif(shutil.which("valgrind") is None or shutil.which("cc") is None,
                                    reason=f"valgrind or cc not found on PATH: {callgrind.INSTALL_HINT}")


def _count(calls, per_call, empty=3_000):
    return WriteCount(calls=calls, region=per_call * calls + empty, empty=empty, extra_calls=0, injected=None,
                      region_wall_s=1.0)


def test_per_call_subtracts_the_empty_region_and_the_extra_region_has_its_own():
    count = WriteCount(calls=100, region=11_703_000, empty=3_000, extra_calls=2, injected=243_000, region_wall_s=1.0)
    assert count.per_call == 117_000
    assert count.extra_per_call == 120_000
    assert _count(100, 117_000).extra_per_call is None


def test_the_median_process_is_chosen():
    counts = [_count(100, 117_300), _count(100, 117_000), _count(100, 117_100)]
    assert freshcount.median_count(counts).per_call == 117_100
    assert freshcount.median_count(counts[:2]).per_call == 117_000  # the lower middle of an even number
    with pytest.raises(ValueError, match="no counts"):
        freshcount.median_count([])


def test_a_childs_environment_is_fixed_whatever_the_callers(monkeypatch):
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "1")
    env = freshcount.child_environment("/x/callgrind.out.%p", "0")
    assert env == {"PATH": os.defpath, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
                   callgrind.OUT_FILE_ENV_VARIABLE: "/x/callgrind.out.%p"}


def test_processes_must_be_positive(monkeypatch, tmp_path):
    monkeypatch.setenv(callgrind.OUT_FILE_ENV_VARIABLE, str(tmp_path / "callgrind.out.%p"))
    with pytest.raises(ValueError, match="processes must be >= 1"):
        freshcount.count_write(tmp_path / "m.tflite", tmp_path / "o.tflite", warmup=1, calls=1, label="x", processes=0)


@NEEDS_VALGRIND
def test_fresh_processes_count_a_write_to_the_instruction_whatever_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CONTINUUM_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(callgrind.OUT_FILE_ENV_VARIABLE, str(tmp_path / "dumps" / "callgrind.out.%p"))
    (tmp_path / "dumps").mkdir()
    model = tmp_path / "model.tflite"
    source = bytes(range(256)) * 400
    model.write_bytes(source)
    out = tmp_path / "out" / "model.tflite"
    # As pytest's tmp_path: the folder exists. A first process that creates it in its first warm-up
    # call counted 32 instructions a call more than the ones after it (another path through mkdir).
    out.parent.mkdir()
    kwargs = {"warmup": 20, "calls": 10, "label": "write"}
    first = freshcount.count_write(model, out, processes=2, **kwargs)
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "1")  # moved an in-environment child's count by 33 a call
    (injected,) = freshcount.count_write(model, out, extra_calls=3, **kwargs)
    assert out.read_bytes() == source
    assert [count.region for count in first] == [first[0].region] * 2
    assert injected.region == first[0].region and injected.empty == first[0].empty
    assert 50_000 < first[0].per_call < 500_000  # a write is ~117 k instructions, mostly Python
    assert injected.extra_calls == 3
    assert injected.extra_per_call == pytest.approx(first[0].per_call, rel=0.05)
