"""From results to the cost model's inputs and Table I (reports.measured)."""
import math

import pytest
from numpy.testing import assert_allclose

from costmodel.pipelines import PIPELINES
from reports import measured as M
from reports.model import ResultsError
from reports.storage import load_results

from . import benchjson as B


@pytest.fixture
def results_dir(tmp_path):
    return B.write_results_dir(tmp_path / "results")


def test_scenario_from_results(results_dir):
    rs = load_results(results_dir)
    scen = M.scenario_from_results(rs, "loaded", 0.7, uplink_bps=1e8, downlink_bps=2e8,
                                    pruning_method="filter")
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
    scen = M.scenario_from_results(rs, "idle", uplink_bps=1e8, downlink_bps=2e8, model_download=choice,
                                    pruning_method="filter")
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
                                           r"\(profile, pf, method, runtime, format, quantization, scheme\): .*"
                                           r"\('device', 0\.7, 'filter', None, 'tflite', 'none', None\)"):
        M.scenario_from_results(rs, "idle", 0.5, uplink_bps=1e8, downlink_bps=2e8, pruning_method="filter")
    with pytest.raises(ValueError, match="scenario must be one of"):
        M.scenario_from_results(rs, "busy", uplink_bps=1e8, downlink_bps=2e8)


def test_default_method_is_magnitude_like_the_study(results_dir):
    rs = load_results(results_dir)
    eft = M.scenario_from_results(rs, "loaded", 0.7, uplink_bps=1e8, downlink_bps=2e8)["E-FT,E-Inf"]
    assert_allclose([eft.prune_s, eft.finetune_edge_s, eft.inference_edge_s],
                    [1.5 / 2, 60.0 * B.MAGNITUDE_SLOWER, 0.030 * B.MAGNITUDE_SLOWER], rtol=1e-9)


def test_table1_from_results(tmp_path):
    rs = load_results(B.write_results_dir(tmp_path))
    t1 = M.table1(rs)
    assert list(t1.columns) == list(M.TABLE1_COLUMNS)
    # the full model's row first, then per pruning factor magnitude (the study's) and filter beside it
    assert list(zip(t1.pruning_factor_pct, t1.pruning_method)) == [(0, ""), (70, "magnitude"), (70, "filter")]
    full, mag, fil = (t1.iloc[i] for i in range(3))
    assert_allclose(full.top1_no_ft_pct, 100 * B.TOP1_FULL)
    assert math.isnan(full.top1_bn_pct) and math.isnan(full.top1_ft_pct) and math.isnan(full.ft_min_device)
    assert_allclose(full.inf_s_device, 0.050, rtol=1e-9)
    for row, method in ((mag, "magnitude"), (fil, "filter")):
        assert_allclose([row.top1_no_ft_pct, row.top1_bn_pct, row.top1_ft_pct], [100 * v for v in B.TOP1[method]])
    assert_allclose([fil.ft_min_edge_idle, fil.ft_min_edge_loaded, fil.ft_min_device], [20 / 60, 60 / 60, 40 / 60],
                    rtol=1e-9)
    assert_allclose(mag.ft_min_device, 40.0 * B.MAGNITUDE_SLOWER / 60, rtol=1e-9)
    assert_allclose([fil.inf_s_edge_idle, fil.inf_s_edge_loaded, fil.inf_s_device], [0.004, 0.030, 0.020], rtol=1e-9)
    assert_allclose(mag.inf_s_edge_loaded, 0.030 * B.MAGNITUDE_SLOWER, rtol=1e-9)
    # --pruning-method filter puts filter first
    assert list(M.table1(rs, pruning_method="filter").pruning_method) == ["", "filter", "magnitude"]


def test_table1_accuracy_without_bn_records_comes_from_finetune(tmp_path):
    """Results of an older suite (no bn_recalibration records): top-1 from the fine-tuning."""
    def old(doc):
        doc["benchmarks"] = [b for b in doc["benchmarks"] if b["extra_info"]["operation"] != "bn_recalibration"]
        for b in doc["benchmarks"]:
            if b["extra_info"]["operation"] == "finetune":
                b["extra_info"].pop("top1_after_bn")
                b["extra_info"]["top1_before_ft"] = 0.5

    rs = load_results(B.write(tmp_path / "device.json", B.edit(B.profile_doc("device"), old)))
    mag = M.table1(rs).iloc[1]
    assert mag.pruning_method == "magnitude" and mag.top1_no_ft_pct == 50 and math.isnan(mag.top1_bn_pct)
    assert_allclose(mag.top1_ft_pct, 100 * B.TOP1["magnitude"][2])


def test_cold_and_warm_pick_their_fields(results_dir):
    rs = load_results(results_dir)
    kw = dict(uplink_bps=1e8, downlink_bps=2e8)
    warm = M.scenario_from_results(rs, "loaded", 0.7, **kw)
    cold = M.scenario_from_results(rs, "loaded", 0.7, inference="cold", **kw)
    edge, device = sum(B.COLD["edge-loaded"]), sum(B.COLD["device"])  # init_s + first_call_s
    assert_allclose([warm["E-Inf full"].inference_edge_s, warm["D-Inf full"].inference_device_s,
                     warm["E-FT,E-Inf"].inference_edge_s], [0.080, 0.050, 0.030 * B.MAGNITUDE_SLOWER], rtol=1e-9)
    assert_allclose([cold["E-Inf full"].inference_edge_s, cold["D-Inf full"].inference_device_s,
                     cold["E-FT,E-Inf"].inference_edge_s, cold["D-FT,D-Inf"].inference_device_s],
                    [edge, device, edge, device], rtol=1e-9)
    # nothing but the inference times changes
    assert cold["E-FT,E-Inf"].replace(inference_edge_s=0, inference_device_s=0) == \
        warm["E-FT,E-Inf"].replace(inference_edge_s=0, inference_device_s=0)
    # the median under warm when asked
    m = rs.one("inference", "device", 0.0, runtime="litert")
    assert M.inference_s(m, "warm", "median") == m.median_s
    with pytest.raises(ValueError, match="inference must be one of"):
        M.scenario_from_results(rs, "loaded", 0.7, inference="lukewarm", **kw)


@pytest.mark.parametrize("field", M.COLD_FIELDS)
@pytest.mark.parametrize("value", [None, "fast", -0.1])
def test_cold_without_its_fields_names_benchmark_and_field(results_dir, field, value):
    def strip(doc):
        for b in doc["benchmarks"]:
            if b["name"] == "test_inference[full-litert]":
                if value is None:
                    del b["extra_info"][field]
                else:
                    b["extra_info"][field] = value

    B.write(results_dir / "edge-idle.json", B.edit(B.profile_doc("edge-idle"), strip))
    rs = load_results(results_dir)
    with pytest.raises(ResultsError, match=rf"edge-idle\.json: benchmark 'test_inference\[full-litert\]' \(edge-idle\): "
                                           rf"extra_info field '{field}' "):
        M.scenario_from_results(rs, "idle", 0.7, uplink_bps=1e8, downlink_bps=2e8, inference="cold")
    # warm does not need them
    M.scenario_from_results(rs, "idle", 0.7, uplink_bps=1e8, downlink_bps=2e8)


def test_inference_comparison_and_which_assumption_the_study_resembles(results_dir):
    from costmodel.paper import study_scenarios

    rs = load_results(results_dir)
    cmp = M.inference_comparison(rs)
    assert list(zip(cmp.model, cmp.profile))[:3] == [("full", "edge-idle"), ("full", "edge-loaded"), ("full", "device")]
    s = study_scenarios()
    row = cmp[(cmp.model == "pf 70 % magnitude") & (cmp.profile == "edge-loaded")].iloc[0]
    assert row.study_s == s["loaded"]["E-FT,E-Inf"].inference_edge_s == 2.135
    assert_allclose([row.warm_s, row.cold_s], [0.030 * B.MAGNITUDE_SLOWER, sum(B.COLD["edge-loaded"])], rtol=1e-9)
    assert_allclose(row.study_over_cold, 2.135 / 1.6, rtol=1e-9)
    closer, means = M.closer_assumption(cmp)
    # the study's 0.09-5 s are seconds; the fixture's warm times milliseconds, its cold ones near a second
    assert closer == "cold" and means["warm"] > 10 and 0.5 < means["cold"] < 5
