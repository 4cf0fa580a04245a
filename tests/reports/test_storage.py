"""The storage: loading and validating pytest-benchmark JSON (hand-made 5.3-format fixtures),
the history layout, refusing a run whose load was not valid."""
import json

import pytest
from numpy.testing import assert_allclose

from harness import contract
from reports import model as M
from reports import storage as R

from . import benchjson as B
from . import conftest_data as D


@pytest.fixture
def results_dir(tmp_path):
    return B.write_results_dir(tmp_path / "results")


def test_load_results_dir(results_dir):
    rs = R.load_results(results_dir)
    assert set(rs.profiles) == set(contract.PROFILES)
    assert rs.pruning_factors() == [0.0, 0.7]
    m = rs.one("inference", "edge-idle", 0.7, runtime="litert", pruning_method="filter")
    assert m.name == "test_inference[pf=70-filter-litert]"
    assert_allclose(m.mean_s, 0.004, rtol=1e-9)
    assert not m.unstable and rs.warnings() == []
    assert rs.profiles["edge-loaded"]["load"]["workers"] == 50
    assert len(rs.frame()) == len(rs.measurements)


def test_load_single_files(results_dir):
    rs = R.load_results(results_dir / "device.json", results_dir / "edge-idle.json")
    assert set(rs.profiles) == {"device", "edge-idle"}


def test_same_profile_twice_is_an_error(results_dir, tmp_path):
    B.write(tmp_path / "other.json", B.profile_doc("device"))
    with pytest.raises(M.ResultsError, match="'device' found in both"):
        R.load_results(results_dir / "device.json", tmp_path / "other.json")


def test_history_storage(tmp_path):
    storage = tmp_path / ".benchmarks" / "device"
    for i in (1, 2, 3):
        doc = B.profile_doc("device")
        doc["commit_info"]["id"] = f"c{i}"
        B.write(storage / B.MACHINE_ID / f"000{i}_c{i}_20261127_08000{i}.json", doc)
    entries = R.list_entries(storage)
    assert [e.id for e in entries] == ["0001", "0002", "0003"]
    assert [e.run.commit for e in entries] == ["c1", "c2", "c3"]
    assert R.result_files(storage) == [storage / B.MACHINE_ID / "0003_c3_20261127_080003.json"]
    assert set(R.load_results(storage).profiles) == {"device"}
    assert R.resolve_run_path("0002", storage) == entries[1].path


def test_entries_sort_by_number_not_by_name(tmp_path):
    """0010 after 0009, and a file that is not NNNN_*.json is no entry."""
    storage = tmp_path / "h"
    for i in (9, 10):
        B.write(storage / B.MACHINE_ID / f"{i:04d}_c_2026.json", B.profile_doc("device"))
    B.write(storage / B.MACHINE_ID / "notes.json", {"x": 1})
    assert [e.id for e in R.list_entries(storage)] == ["0009", "0010"]
    assert R.result_files(storage)[0].name.startswith("0010_")


def test_host_storage_is_the_layout_the_suite_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(contract.socket, "gethostname", lambda: "node-a")
    assert contract.host_storage("file://results/history/device/") == "file://results/history/device/node-a"
    root = tmp_path / "history" / "device"
    B.write(root / "node-a" / B.MACHINE_ID / "0001_c_2026.json", B.profile_doc("device"))
    assert R.host_folders(root) == [f"node-a/{B.MACHINE_ID}"]
    assert R.entry_host(root / "node-a" / B.MACHINE_ID / "0001_c_2026.json", root) == f"node-a/{B.MACHINE_ID}"


def test_unstable_results_kept_and_flagged(tmp_path):
    doc = B.profile_doc("edge-idle")
    doc["benchmarks"][0]["stats"] = B.stats(0.01, rounds=3)
    doc["benchmarks"][1]["stats"] = B.stats(0.004, rounds=9, cv=0.5)
    rs = R.load_results(B.write(tmp_path / "e.json", doc))
    flagged = [m for m in rs.measurements if m.unstable]
    assert [m.name for m in flagged] == [doc["benchmarks"][0]["name"], doc["benchmarks"][1]["name"]]
    w = rs.warnings()
    assert len(w) == 2 and "3 rounds < 5" in w[0] and "CV" in w[1] and "rerun" in w[1]
    assert rs.frame().unstable.sum() == 2


def test_unenforced_limit_named_with_its_field(tmp_path):
    doc = B.profile_doc("device", enforced={"cpu_quota": False, "reason": "no cgroup v2"})
    rs = R.load_results(B.write(tmp_path / "d.json", doc))
    assert any("profile.enforced.cpu_quota: false (no cgroup v2)" in w and "limit not enforced" in w
               for w in rs.warnings())


def test_unenforced_limit_as_the_suite_records_it(tmp_path):
    """emulation.apply writes {limit: {requested, enforced, reason, ...}} and threads.<var>."""
    enforced = {"affinity": {"requested": True, "enforced": True, "value": [0]},
                "cpu_quota": {"requested": False, "enforced": False, "reason": "not requested by the profile"},
                "memory_limit": {"requested": True, "enforced": False, "reason": "no memory controller"},
                "threads": {"OMP_NUM_THREADS": {"requested": 1, "value": "1", "enforced": True},
                            "tensorflow": {"requested": True, "enforced": None, "reason": "pending"}}}
    run = R.load_run(B.write(tmp_path / "d.json", B.profile_doc("device", enforced=enforced)))
    assert run.unenforced == ("machine_info.continuum.profile.enforced.memory_limit.enforced: false "
                              "(no memory controller)",)
    assert run.invalid == ()


def _dead_load(doc):
    doc["machine_info"]["continuum"]["load"] = {
        "workers": 2, "state": "stopped", "valid": False,
        "died": [{"index": 1, "pid": 4242, "returncode": -9, "stderr_tail": ""}]}


def test_a_run_whose_load_died_is_refused_naming_the_field(tmp_path):
    path = B.write(tmp_path / "edge-loaded.json", B.edit(B.profile_doc("edge-loaded"), _dead_load))
    with pytest.raises(M.InvalidRunError, match=r"edge-loaded\.json: not a valid run: "
                                                r"machine_info\.continuum\.load\.valid: false \(died: worker 1 "
                                                r"pid 4242 exit -9"):
        R.load_results(path)
    rs = R.load_results(path, allow_invalid=True)
    assert any(w.startswith("edge-loaded: INVALID machine_info.continuum.load.valid: false") for w in rs.warnings())


def test_the_one_result_of_an_operation_refuses_two_matches(tmp_path):
    """The suite writes two encryption results (hybrid and pure RSA): "the" encryption names the scheme."""
    rs = R.load_results(B.write(tmp_path / "d.json", B.profile_doc("device")))
    assert len(rs.select("encryption", "device")) == 2
    with pytest.raises(M.ResultsError, match=r"2 'encryption' results match.*tell them apart by .*scheme"):
        rs.one("encryption", "device")
    assert rs.one("encryption", "device", scheme=contract.HYBRID_SCHEME).name == "test_encrypt_dataset_hybrid"


# ---- errors name the file and the field ---------------------------------------------------
def test_malformed_json_names_the_file(tmp_path):
    p = tmp_path / "device.json"
    text = json.dumps(B.profile_doc("device"))
    p.write_text(text[: len(text) // 2])  # truncated
    with pytest.raises(M.ResultsError, match=r"device\.json: malformed or truncated JSON"):
        R.load_results(p)
    p.write_text("")
    with pytest.raises(M.ResultsError, match="device.json"):
        R.load_results(p)


def test_not_a_benchmark_file(tmp_path):
    with pytest.raises(M.ResultsError, match="no 'benchmarks' list"):
        R.load_results(B.write(tmp_path / "x.json", {"hello": 1}))
    with pytest.raises(M.ResultsError, match="no such file"):
        R.load_results(tmp_path / "missing.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(M.ResultsError, match="no pytest-benchmark JSON"):
        R.load_results(tmp_path / "empty")


@pytest.mark.parametrize("mutate,field", [
    (lambda d: d["machine_info"].pop("continuum"), "machine_info.continuum"),
    (lambda d: d["machine_info"]["continuum"]["profile"].pop("name"), "machine_info.continuum.profile.name"),
    (lambda d: d["machine_info"]["continuum"]["profile"].update(name="phone"), "profile.name is 'phone'"),
    (lambda d: d.pop("machine_info"), "machine_info"),
])
def test_profile_errors(tmp_path, mutate, field):
    p = B.write(tmp_path / "d.json", B.edit(B.profile_doc("device"), mutate))
    with pytest.raises(M.ResultsError, match=f"d.json.*{field}"):
        R.load_results(p)


def test_profile_as_plain_string_tolerated(tmp_path):
    doc = B.edit(B.profile_doc("device"), lambda d: d["machine_info"]["continuum"].update(profile="device"))
    assert set(R.load_results(B.write(tmp_path / "d.json", doc)).profiles) == {"device"}


def _bench_index(doc, op):
    return next(i for i, b in enumerate(doc["benchmarks"]) if b["extra_info"]["operation"] == op)


@pytest.mark.parametrize("op", sorted(set(contract.REQUIRED_FIELDS) - {"bn_recalibration"}))
def test_required_extra_info_per_operation(tmp_path, op):
    profile = "device" if op in ("encryption", "finetune", "inference", "serialization") else "edge-idle"
    doc = B.profile_doc(profile)
    for field in contract.REQUIRED_FIELDS[op]:
        bad = B.edit(doc, lambda d: d["benchmarks"][_bench_index(d, op)]["extra_info"].pop(field))
        p = B.write(tmp_path / f"{op}-{field}.json", bad)
        with pytest.raises(M.ResultsError, match=rf"{op}-{field}\.json: benchmark .*'{field}'.* missing"):
            R.load_results(p)


def test_bad_operation_and_pruning_factor(tmp_path):
    doc = B.profile_doc("device")
    bad = B.edit(doc, lambda d: d["benchmarks"][0]["extra_info"].update(operation="train"))
    with pytest.raises(M.ResultsError, match="extra_info.operation.*'train'"):
        R.load_results(B.write(tmp_path / "a.json", bad))
    bad = B.edit(doc, lambda d: d["benchmarks"][1]["extra_info"].update(pruning_factor=70))
    with pytest.raises(M.ResultsError, match=r"a\.json.*pruning_factor must be a fraction"):
        R.load_results(B.write(tmp_path / "a.json", bad))
    bad = B.edit(doc, lambda d: d["benchmarks"][1]["stats"].pop("mean"))
    with pytest.raises(M.ResultsError, match="stats.mean"):
        R.load_results(B.write(tmp_path / "a.json", bad))


def test_no_pruning_factors_is_an_error(tmp_path):
    def strip(d):
        d["benchmarks"] = [b for b in d["benchmarks"] if b["extra_info"]["operation"] == "inference"]
        for b in d["benchmarks"]:
            b["extra_info"]["pruning_factor"] = None
    with pytest.raises(M.ResultsError, match="pruning_factor"):
        R.load_results(B.write(tmp_path / "a.json", B.edit(B.profile_doc("device"), strip)))


def test_the_storage_imports_no_numpy():
    """The storage and the model may be read before a profile sets OMP/BLAS threads: numpy
    imported then would ignore them (the profile's check refuses to run)."""
    import subprocess
    import sys

    code = "import sys, reports.storage; bad = [m for m in ('numpy', 'pandas') if m in sys.modules]; assert not bad, bad"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_a_pruned_only_model_is_flagged(tmp_path):
    """A -k selection that skips fine-tuning measures the pruned model: the record says so, the run set warns."""
    def pruned_only(doc):
        for b in doc["benchmarks"]:
            if b["extra_info"]["operation"] == "inference":
                b["extra_info"]["model_state"] = "pruned" if b["extra_info"]["pruning_factor"] else "full"

    doc = B.profile_doc("device")
    pruned = sum(b["extra_info"]["operation"] == "inference" and b["extra_info"]["pruning_factor"] > 0
                 for b in doc["benchmarks"])  # pf 70 % filter and magnitude, float and quantized
    rs = R.load_results(B.write(tmp_path / "d.json", B.edit(doc, pruned_only)))
    notes = [w for w in rs.warnings() if "only pruned" in w]
    assert len(notes) == 1 and notes[0].startswith(f"device: {pruned} inference/serialization result(s)")
    assert "model_state" in rs.frame().columns
    bad = B.edit(B.profile_doc("device"), lambda d: d["benchmarks"][0]["extra_info"].update(model_state="tuned"))
    with pytest.raises(M.ResultsError, match=r"extra_info\.model_state is 'tuned'"):
        R.load_results(B.write(tmp_path / "e.json", bad))


def test_a_second_file_of_a_profile_in_a_results_folder_is_refused_naming_both(tmp_path):
    """A copy beside results/device.json is not silently left out: two runs of one profile are
    refused, naming both files."""
    results = B.write_results_dir(tmp_path / "results")
    B.write(results / "device-copy.json", B.profile_doc("device"))
    with pytest.raises(M.ResultsError) as e:
        R.load_results(results)
    assert str(results / "device.json") in str(e.value) and str(results / "device-copy.json") in str(e.value)
    loose = tmp_path / "loose"
    B.write(loose / "a.json", B.profile_doc("device"))
    assert R.result_files(loose) == [loose / "a.json"]


def test_a_file_named_for_one_profile_holding_another_is_refused(tmp_path):
    results = tmp_path / "results"
    B.write(results / "edge-idle.json", B.profile_doc("device"))
    with pytest.raises(M.ResultsError, match=r"edge-idle\.json: named for profile 'edge-idle' but holds a run of "
                                           r"profile 'device'"):
        R.load_results(results)


def test_a_folder_named_like_a_results_file_is_named(tmp_path):
    results = B.write_results_dir(tmp_path / "results")
    (results / "device.json").unlink()
    (results / "device.json").mkdir()
    with pytest.raises(M.ResultsError, match=r"device\.json: a folder or special file"):
        R.load_results(results)


# ---- impossible values and unreadable files are refused at the store, naming file and field ----

@pytest.mark.parametrize("field, value", [("median", -0.5), ("min", -1e-3), ("mean", 1e308), ("stddev", -1.0)])
def test_impossible_times_are_refused_naming_file_benchmark_and_field(tmp_path, field, value):
    doc = B.profile_doc("device")
    doc["benchmarks"][0]["stats"][field] = value
    path = B.write(tmp_path / "device.json", doc)
    with pytest.raises(M.ResultsError) as e:
        R.load_run(path)
    msg = str(e.value)
    assert str(path) in msg and doc["benchmarks"][0]["name"] in msg and f"stats.{field}" in msg


def test_a_negative_round_time_is_refused(tmp_path):
    doc = B.profile_doc("device")
    doc["benchmarks"][1]["stats"]["data"][2] = -0.01
    with pytest.raises(M.ResultsError, match=r"stats\.data\[2\]"):
        R.load_run(B.write(tmp_path / "device.json", doc))


def test_zero_rounds_without_round_data_are_refused(tmp_path):
    doc = B.profile_doc("device")
    doc["benchmarks"][0]["stats"].update(rounds=0, data=[])
    with pytest.raises(M.ResultsError, match=r"stats\.rounds' must be >= 1, got 0"):
        R.load_run(B.write(tmp_path / "device.json", doc))


def test_a_non_utf8_byte_names_the_file(tmp_path):
    path = tmp_path / "device.json"
    path.write_bytes(json.dumps(B.profile_doc("device")).encode().replace(b'"device"', b'"dev\xffice"', 1))
    with pytest.raises(M.ResultsError, match=rf"{path}: not UTF-8 text \(byte 0xff"):
        R.load_run(path)


def test_dev_null_is_not_a_results_file():
    with pytest.raises(M.ResultsError, match=r"/dev/null: not a regular file"):
        R.load_run("/dev/null")


def test_deeply_nested_json_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "device.json"
    path.write_text("[" * 200_000)
    with pytest.raises(M.ResultsError, match=rf"{path}: JSON nested too deeply"):
        R.load_run(path)


def test_a_file_over_the_size_cap_is_refused_unread(tmp_path, monkeypatch):
    path = B.write(tmp_path / "device.json", B.profile_doc("device"))
    monkeypatch.setattr(R, "MAX_RESULTS_BYTES", path.stat().st_size - 1)
    with pytest.raises(M.ResultsError, match=rf"{path}: \d+ bytes, over the"):
        R.load_run(path)


def test_a_bad_history_entry_is_skipped_with_its_message_when_asked(tmp_path):
    paths = D.save_history(tmp_path / "h", [D.honest_run(s) for s in range(3)])
    paths[1].write_text(paths[1].read_text()[:200])  # truncated
    with pytest.raises(M.ResultsError, match="malformed or truncated"):
        R.list_entries(tmp_path / "h")
    skipped = []
    entries = R.list_entries(tmp_path / "h", skipped=skipped)
    assert [e.path for e in entries] == [paths[0], paths[2]]
    assert len(skipped) == 1 and str(paths[1]) in skipped[0]
