"""Loading and validating pytest-benchmark JSON (hand-made 5.3-format fixtures)."""
import json

import pytest
from numpy.testing import assert_allclose

from costmodel import results as R
from costmodel.pipelines import PIPELINES

from . import benchjson as B


@pytest.fixture
def results_dir(tmp_path):
    return B.write_results_dir(tmp_path / "results")


def test_load_results_dir(results_dir):
    rs = R.load_results(results_dir)
    assert set(rs.profiles) == set(R.PROFILES)
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
    with pytest.raises(R.ResultsError, match="'device' found in both"):
        R.load_results(results_dir / "device.json", tmp_path / "other.json")


def test_history_storage(tmp_path):
    storage = tmp_path / ".benchmarks" / "device"
    for i in (1, 2, 3):
        doc = B.profile_doc("device")
        doc["commit_info"]["id"] = f"c{i}"
        B.write(storage / B.MACHINE_ID / f"000{i}_c{i}_20261127_08000{i}.json", doc)
    hist = R.load_history(storage)
    assert [name[:4] for name, _ in hist] == ["0001", "0002", "0003"]
    assert R.result_files(storage) == [storage / B.MACHINE_ID / "0003_c3_20261127_080003.json"]
    assert set(R.load_results(storage).profiles) == {"device"}


def test_unstable_results_kept_and_flagged(tmp_path):
    doc = B.profile_doc("edge-idle")
    doc["benchmarks"][0]["stats"] = B.stats(0.01, rounds=3)
    doc["benchmarks"][1]["stats"] = B.stats(0.004, rounds=9, cv=0.5)
    rs = R.load_file(B.write(tmp_path / "e.json", doc))
    flagged = [m for m in rs.measurements if m.unstable]
    assert [m.name for m in flagged] == [doc["benchmarks"][0]["name"], doc["benchmarks"][1]["name"]]
    w = rs.warnings()
    assert len(w) == 2 and "3 rounds < 5" in w[0] and "CV" in w[1] and "rerun" in w[1]
    assert rs.frame().unstable.sum() == 2


def test_unenforced_profile_noted(tmp_path):
    doc = B.profile_doc("device", enforced={"cpu_quota": False, "reason": "no cgroup v2"})
    rs = R.load_file(B.write(tmp_path / "d.json", doc))
    assert any("not fully enforced" in w and "no cgroup v2" in w for w in rs.warnings())


# ---- errors name the file and the field ---------------------------------------------------
def test_malformed_json_names_the_file(tmp_path):
    p = tmp_path / "device.json"
    text = json.dumps(B.profile_doc("device"))
    p.write_text(text[: len(text) // 2])  # truncated
    with pytest.raises(R.ResultsError, match=r"device\.json: malformed or truncated JSON"):
        R.load_file(p)
    p.write_text("")
    with pytest.raises(R.ResultsError, match="device.json"):
        R.load_file(p)


def test_not_a_benchmark_file(tmp_path):
    with pytest.raises(R.ResultsError, match="no 'benchmarks' list"):
        R.load_file(B.write(tmp_path / "x.json", {"hello": 1}))
    with pytest.raises(R.ResultsError, match="no such file"):
        R.load_results(tmp_path / "missing.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(R.ResultsError, match="no pytest-benchmark JSON"):
        R.load_results(tmp_path / "empty")


@pytest.mark.parametrize("mutate,field", [
    (lambda d: d["machine_info"].pop("continuum"), "machine_info.continuum"),
    (lambda d: d["machine_info"]["continuum"]["profile"].pop("name"), "machine_info.continuum.profile.name"),
    (lambda d: d["machine_info"]["continuum"]["profile"].update(name="phone"), "profile.name is 'phone'"),
    (lambda d: d.pop("machine_info"), "machine_info"),
])
def test_profile_errors(tmp_path, mutate, field):
    p = B.write(tmp_path / "d.json", B.edit(B.profile_doc("device"), mutate))
    with pytest.raises(R.ResultsError, match=f"d.json.*{field}"):
        R.load_file(p)


def test_profile_as_plain_string_tolerated(tmp_path):
    doc = B.edit(B.profile_doc("device"), lambda d: d["machine_info"]["continuum"].update(profile="device"))
    assert set(R.load_file(B.write(tmp_path / "d.json", doc)).profiles) == {"device"}


def _bench_index(doc, op):
    return next(i for i, b in enumerate(doc["benchmarks"]) if b["extra_info"]["operation"] == op)


@pytest.mark.parametrize("op", sorted(R.REQUIRED_FIELDS))
def test_required_extra_info_per_operation(tmp_path, op):
    profile = "device" if op in ("encryption", "finetune", "inference", "serialization") else "edge-idle"
    doc = B.profile_doc(profile)
    for field in R.REQUIRED_FIELDS[op]:
        bad = B.edit(doc, lambda d: d["benchmarks"][_bench_index(d, op)]["extra_info"].pop(field))
        p = B.write(tmp_path / f"{op}-{field}.json", bad)
        with pytest.raises(R.ResultsError, match=rf"{op}-{field}\.json: benchmark .*'{field}'.* missing"):
            R.load_file(p)


def test_bad_operation_and_pruning_factor(tmp_path):
    doc = B.profile_doc("device")
    bad = B.edit(doc, lambda d: d["benchmarks"][0]["extra_info"].update(operation="train"))
    with pytest.raises(R.ResultsError, match="extra_info.operation.*'train'"):
        R.load_file(B.write(tmp_path / "a.json", bad))
    bad = B.edit(doc, lambda d: d["benchmarks"][1]["extra_info"].update(pruning_factor=70))
    with pytest.raises(R.ResultsError, match=r"a\.json.*pruning_factor must be a fraction"):
        R.load_file(B.write(tmp_path / "a.json", bad))
    bad = B.edit(doc, lambda d: d["benchmarks"][1]["stats"].pop("mean"))
    with pytest.raises(R.ResultsError, match="stats.mean"):
        R.load_file(B.write(tmp_path / "a.json", bad))


def test_no_pruning_factors_is_an_error(tmp_path):
    def strip(d):
        d["benchmarks"] = [b for b in d["benchmarks"] if b["extra_info"]["operation"] == "inference"]
        for b in d["benchmarks"]:
            b["extra_info"]["pruning_factor"] = None
    with pytest.raises(R.ResultsError, match="pruning_factor"):
        R.load_file(B.write(tmp_path / "a.json", B.edit(B.profile_doc("device"), strip)))


# ---- from results to pipeline inputs -----------------------------------------------------
def test_scenario_from_results(results_dir):
    rs = R.load_results(results_dir)
    scen = R.scenario_from_results(rs, "loaded", 0.7, uplink_bps=1e8, downlink_bps=2e8)
    assert set(scen) == set(PIPELINES)
    full, eft = scen["E-Inf full"], scen["E-FT,E-Inf"]
    assert_allclose(full.inference_edge_s, 0.080, rtol=1e-9)
    assert full.model_bytes == 15_600_000  # tflite gzip for inference only
    assert eft.model_bytes == 4_700_000
    assert scen["D-FT,D-Inf"].model_bytes == 4_900_000  # keras gzip when fine-tuning on device
    assert_allclose([eft.prune_s, eft.finetune_edge_s, eft.decrypt_s, eft.encrypt_s],
                    [1.5, 60.0, 0.6, 0.3], rtol=1e-9)
    assert eft.dataset_bytes == 412_193_000
    assert (eft.sample_bytes, eft.result_bytes) == (300e3, 2e3)


def test_model_download_choice_overridable(results_dir):
    rs = R.load_results(results_dir)
    choice = R.ModelDownload(inference_format="keras", finetune_format="tflite", compressed=False)
    scen = R.scenario_from_results(rs, "idle", uplink_bps=1e8, downlink_bps=2e8, model_download=choice)
    assert scen["D-Inf full"].model_bytes == 17_200_000
    assert scen["D-FT,D-Inf"].model_bytes == 5_100_000


def test_sizes_from_results(results_dir, tmp_path):
    rs = R.load_results(results_dir)
    with pytest.raises(R.ResultsError, match="'sample_bytes' missing"):
        R.scenario_from_results(rs, "idle", uplink_bps=1e8, downlink_bps=2e8, sizes="results")
    doc = B.profile_doc("edge-idle")
    for b in doc["benchmarks"]:
        if b["extra_info"]["operation"] == "inference":
            b["extra_info"].update(sample_bytes=150_528, result_bytes=4_000)
    B.write(results_dir / "edge-idle.json", doc)
    rs = R.load_results(results_dir)
    x = R.scenario_from_results(rs, "idle", uplink_bps=1e8, downlink_bps=2e8, sizes="results")["E-Inf full"]
    assert (x.sample_bytes, x.result_bytes) == (150_528, 4_000)
    with pytest.raises(ValueError, match="sizes must be one of"):
        R.scenario_from_results(rs, "idle", uplink_bps=1e8, downlink_bps=2e8, sizes="guess")


def test_missing_measurement_says_what_exists(results_dir):
    rs = R.load_results(results_dir)
    with pytest.raises(R.ResultsError, match="no 'prune' result.*magnitude|available"):
        R.scenario_from_results(rs, "idle", 0.5, uplink_bps=1e8, downlink_bps=2e8)
    with pytest.raises(ValueError, match="scenario must be one of"):
        R.scenario_from_results(rs, "busy", uplink_bps=1e8, downlink_bps=2e8)
