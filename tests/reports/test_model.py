"""The data model: benchmarks, runs and run sets built in memory (no file is read)."""
import pytest

from reports import model as M


def _bench(name="test_inference[full-litert]", operation="inference", median=0.01, *, mean=None, stddev=0.0001,
           rounds=10, data=(), **extra):
    mean = median if mean is None else mean
    return M.Benchmark(source="mem.json", profile="device", name=name, fullname=f"benchmarks/x.py::{name}",
                       operation=operation, mean_s=mean, median_s=median, min_s=median * 0.9, stddev_s=stddev,
                       rounds=rounds, data=tuple(data), extra_info={"operation": operation, **extra})


def _run(*benchmarks, record=None, machine_info=None):
    return M.Run("mem.json", "device", record or {"profile": {"name": "device"}}, "abc", "2026-12-01T00:00:00",
                 tuple(benchmarks), machine_info or {})


def test_a_benchmark_is_unstable_beyond_the_cv_or_below_the_rounds():
    assert not _bench(stddev=0.0005).unstable
    noisy = _bench(stddev=0.002)
    assert noisy.cv == pytest.approx(0.2) and noisy.unstable and "CV 20.0% > 10%" in noisy.warning
    few = _bench(rounds=3)
    assert few.unstable and "3 rounds < 5" in few.warning and "--benchmark-min-rounds" in few.warning


def test_scaled_multiplies_every_round_and_the_count():
    b = _bench(median=0.01, data=(0.01, 0.02), instructions=1000)
    s = b.scaled(1.5)
    assert s.data == pytest.approx((0.015, 0.03)) and s.median_s == pytest.approx(0.015)
    assert s.instructions == pytest.approx(1500) and b.instructions == 1000


def test_time_names_the_allowed_statistics():
    with pytest.raises(ValueError, match=r"statistic must be one of \('mean', 'median', 'min'\), got 'max'"):
        _bench().time("max")


def test_a_run_whose_load_died_names_the_field():
    record = {"profile": {"name": "device"},
              "load": {"valid": False, "state": "stopped", "died": [{"index": 0, "pid": 7, "returncode": -9}]}}
    run = _run(_bench(), record=record)
    assert run.invalid == ("machine_info.continuum.load.valid: false (died: worker 0 pid 7 exit -9; state "
                           "'stopped'): the background load was not the one claimed",)
    assert _run(_bench()).invalid == ()


def test_unenforced_limits_flat_and_nested():
    flat = {"profile": {"name": "device", "enforced": {"cpu_quota": False, "reason": "no cgroup v2"}}}
    assert M.unenforced_limits(flat) == ("machine_info.continuum.profile.enforced.cpu_quota: false (no cgroup v2)",)
    nested = {"profile": {"enforced": {"memory_limit": {"requested": True, "enforced": False, "reason": "none"},
                                       "cpu_quota": {"requested": False, "enforced": False}}}}
    assert M.unenforced_limits(nested) == ("machine_info.continuum.profile.enforced.memory_limit.enforced: false "
                                           "(none)",)


def test_counted_and_injected_runs_read_machine_info():
    assert _run(_bench(), machine_info={"counts": {"tool": "callgrind"}}).counted
    assert not _run(_bench()).counted
    assert _run(_bench(), machine_info={"injected_slowdown": {"inference": 0.05}}).injected == {"inference": 0.05}


def test_the_one_result_names_what_tells_two_apart():
    hybrid = _bench("enc_hybrid", "encryption", scheme="hybrid")
    rsa = _bench("enc_rsa", "encryption", scheme="rsa")
    rs = M.ResultSet((_run(hybrid, rsa),))
    with pytest.raises(M.ResultsError, match=r"2 'encryption' results match.*tell them apart by scheme"):
        rs.one("encryption", "device")
    assert rs.one("encryption", "device", scheme="rsa") is rsa
    with pytest.raises(M.ResultsError, match=r"no 'inference' result"):
        rs.one("inference", "device")
    with pytest.raises(ValueError, match="operation must be one of"):
        rs.select("nap")


def test_a_history_entry_labels_itself_by_id_and_commit():
    from pathlib import Path

    entry = M.HistoryEntry("0003", Path("h/0003_abcdef123_x.json"), "m", _run(_bench()))
    assert entry.label == "0003_abc" and entry.profile == "device"
