"""From results to the cost model's inputs and Table I (reports.measured)."""
import math

import pytest
from numpy.testing import assert_allclose

from costmodel.pipelines import PIPELINES
from reports import measured as M
from reports.store import ResultsError, load_results

from . import benchjson as B


@pytest.fixture
def results_dir(tmp_path):
    return B.write_results_dir(tmp_path / "results")


def test_scenario_from_results(results_dir):
    rs = load_results(results_dir)
    scen = M.scenario_from_results(rs, "loaded", 0.7, uplink_bps=1e8, downlink_bps=2e8)
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
    rs = load_results(results_dir)
    choice = M.ModelDownload(inference_format="keras", finetune_format="tflite", compressed=False)
    scen = M.scenario_from_results(rs, "idle", uplink_bps=1e8, downlink_bps=2e8, model_download=choice)
    assert scen["D-Inf full"].model_bytes == 17_200_000
    assert scen["D-FT,D-Inf"].model_bytes == 5_100_000


def test_sizes_from_results(results_dir, tmp_path):
    rs = load_results(results_dir)
    with pytest.raises(ResultsError, match="'sample_bytes' missing"):
        M.scenario_from_results(rs, "idle", uplink_bps=1e8, downlink_bps=2e8, sizes="results")
    doc = B.profile_doc("edge-idle")
    for b in doc["benchmarks"]:
        if b["extra_info"]["operation"] == "inference":
            b["extra_info"].update(sample_bytes=150_528, result_bytes=4_000)
    B.write(results_dir / "edge-idle.json", doc)
    rs = load_results(results_dir)
    x = M.scenario_from_results(rs, "idle", uplink_bps=1e8, downlink_bps=2e8, sizes="results")["E-Inf full"]
    assert (x.sample_bytes, x.result_bytes) == (150_528, 4_000)
    with pytest.raises(ValueError, match="sizes must be one of"):
        M.scenario_from_results(rs, "idle", uplink_bps=1e8, downlink_bps=2e8, sizes="guess")


def test_missing_measurement_says_what_exists(results_dir):
    rs = load_results(results_dir)
    with pytest.raises(ResultsError, match=r"no 'serialization' result with \{'profile': None, 'pruning_factor': 0\.5, "
                                           r"'model_format': 'tflite', 'pruning_method': 'filter'\}; available "
                                           r"\(profile, pf, method, runtime, format, scheme\): .*"
                                           r"\('device', 0\.7, 'filter', None, 'tflite', None\)"):
        M.scenario_from_results(rs, "idle", 0.5, uplink_bps=1e8, downlink_bps=2e8)
    with pytest.raises(ValueError, match="scenario must be one of"):
        M.scenario_from_results(rs, "busy", uplink_bps=1e8, downlink_bps=2e8)


def test_table1_from_results(tmp_path):
    rs = load_results(B.write_results_dir(tmp_path))
    t1 = M.table1(rs)
    assert list(t1.columns) == list(M.TABLE1_COLUMNS)
    row = t1[t1.pruning_factor_pct == 70].iloc[0]
    assert_allclose([row.top1_no_ft_pct, row.top1_ft_pct], [70, 85])
    assert_allclose(row.ft_min_edge_idle, 20.0 / 60, rtol=1e-9)
    assert_allclose(row.ft_min_device, 40.0 / 60, rtol=1e-9)
    assert_allclose(row.inf_s_edge_loaded, 0.030, rtol=1e-9)
    full = t1[t1.pruning_factor_pct == 0].iloc[0]
    assert math.isnan(full.top1_ft_pct) and math.isnan(full.ft_min_device)
    assert_allclose(full.inf_s_device, 0.050, rtol=1e-9)


def test_encryption_time_is_the_hybrid_schemes_whatever_the_order(results_dir):
    """Pure RSA first or last in the file: the model takes the hybrid encryption (0.30 s), not pure RSA."""
    doc = B.profile_doc("device")
    doc["benchmarks"].reverse()
    B.write(results_dir / "device.json", doc)
    scen = M.scenario_from_results(load_results(results_dir), "idle", uplink_bps=1e8, downlink_bps=2e8)
    assert_allclose(scen["E-FT,E-Inf"].encrypt_s, 0.30, rtol=1e-9)
    pure = M.scenario_from_results(load_results(results_dir), "idle", uplink_bps=1e8, downlink_bps=2e8,
                                   scheme="rsa-oaep-blocks")
    assert_allclose(pure["E-FT,E-Inf"].encrypt_s, 0.30 * 40, rtol=1e-9)
