"""From results to the cost model's inputs and Table I (reports.measured)."""
import math

import pytest
from numpy.testing import assert_allclose

from costmodel.pipelines import PIPELINES
from reports import measured as M
from reports.model import ResultsError, int8_feature_notes
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


# ---- quantization ---------------------------------------------------------------------------

@pytest.mark.parametrize("scenario,edge", [("idle", "edge-idle"), ("loaded", "edge-loaded")])
@pytest.mark.parametrize("quant", ["dynamic", "int8"])
def test_a_quantized_scenario_takes_the_quantized_models_size_inference_and_the_edges_conversion(
        results_dir, scenario, edge, quant):
    rs = load_results(results_dir)
    scen = M.scenario_from_results(rs, scenario, 0.7, uplink_bps=1e8, downlink_bps=2e8, pruning_method="filter",
                                    quantization=quant)
    speed, size, _ = B.QUANT[quant]
    full, eft, dft = scen["D-Inf full"], scen["E-FT,D-Inf"], scen["D-FT,D-Inf"]
    assert_allclose([full.inference_edge_s, full.inference_device_s],
                    [B.TIMES[edge]["inf0"] * speed, B.TIMES["device"]["inf0"] * speed], rtol=1e-9)
    assert_allclose([eft.inference_edge_s, eft.inference_device_s],
                    [B.TIMES[edge]["inf70"] * speed, B.TIMES["device"]["inf70"] * speed], rtol=1e-9)
    assert full.model_bytes == int(B.SIZES[(0.0, "tflite")][1] * size)
    assert eft.model_bytes == int(B.SIZES[(0.7, "tflite")][1] * size)
    assert_allclose([full.quantize_s, eft.quantize_s], [B.QUANTIZE_S[edge][quant]] * 2, rtol=1e-9)
    assert_allclose(eft.finetune_edge_s, B.TIMES[edge]["finetune"], rtol=1e-9)  # float fine-tuning
    # the device fine-tunes the float model: D-FT,D-Inf is the float scenario's
    float_scen = M.scenario_from_results(rs, scenario, 0.7, uplink_bps=1e8, downlink_bps=2e8, pruning_method="filter")
    assert dft == float_scen["D-FT,D-Inf"] and dft.quantize_s == 0


def test_int8_qat_fine_tunes_quantization_aware_and_the_full_model_is_post_training_int8(results_dir):
    rs = load_results(results_dir)
    scen = M.scenario_from_results(rs, "idle", 0.7, uplink_bps=1e8, downlink_bps=2e8, pruning_method="magnitude",
                                    quantization="int8-qat")
    eft = scen["E-FT,E-Inf"]
    assert_allclose(eft.finetune_edge_s, B.TIMES["edge-idle"]["finetune"] * B.MAGNITUDE_SLOWER * B.QAT_SLOWER,
                    rtol=1e-9)
    assert_allclose(eft.quantize_s, B.QUANTIZE_S["edge-idle"]["int8"], rtol=1e-9)  # no int8-qat conversion record
    int8 = M.scenario_from_results(rs, "idle", 0.7, uplink_bps=1e8, downlink_bps=2e8, quantization="int8")
    assert scen["E-Inf full"] == int8["E-Inf full"]


def test_old_results_without_quantization_read_as_float_and_a_quantized_scenario_names_the_missing_cases(tmp_path):
    for p in B.TIMES:
        B.write(tmp_path / f"{p}.json", B.profile_doc(p, quantized=False))
    old = load_results(tmp_path)
    assert {m.quantization for m in old.measurements} == {"none"}
    new = load_results(B.write_results_dir(tmp_path / "new"))
    kw = dict(uplink_bps=1e8, downlink_bps=2e8, pruning_method="filter")
    assert M.scenario_from_results(old, "idle", **kw) == M.scenario_from_results(new, "idle", **kw)
    with pytest.raises(ResultsError, match=r"--quantization int8: the results lack 6 case\(s\) the idle-edge scenario "
                                           r"needs: test_inference\[full-int8\] on device, test_inference\[full-int8\] "
                                           r"on edge-idle, .*test_quantize\[pf=70-filter-int8\] on edge-idle "
                                           r"\(quantized records held: none\)"):
        M.scenario_from_results(old, "idle", quantization="int8", **kw)
    with pytest.raises(ValueError, match=r"--quantization must be one of .*got 'int4'"):
        M.scenario_from_results(new, "idle", quantization="int4", **kw)
    with pytest.raises(ValueError, match="--runtime keras goes with --quantization none"):
        M.scenario_from_results(new, "idle", quantization="int8", runtime="keras", **kw)


def test_variant_top1_from_the_liteRT_records_and_the_qat_fine_tuning(results_dir):
    rs = load_results(results_dir)
    for q, (_, _, lost) in B.QUANT.items():
        assert M.variant_top1(rs, 0.7, "filter", q) == pytest.approx(B.TOP1["filter"][2] - lost)
    assert M.variant_top1(rs, 0.0, None, "int8") == pytest.approx(B.TOP1_FULL - B.QUANT["int8"][2])
    assert M.variant_top1(rs, 0.7, "magnitude") == pytest.approx(B.TOP1["magnitude"][2])
    assert math.isnan(M.variant_top1(rs, 0.0, None, "int8-qat"))


def test_every_measured_variant_is_an_option_and_dft_only_in_float(results_dir):
    rs = load_results(results_dir)
    options, left_out = M.measured_options(rs, "idle", uplink_bps=1e8, downlink_bps=2e8)
    assert left_out == []
    got = {(o.pipeline, o.model, o.quantization) for o in options}
    full = {(p, "full", q) for p in ("E-Inf full", "D-Inf full") for q in ("none", "dynamic", "int8")}
    pruned = {(p, f"pf=70-{m}", q) for p in ("E-FT,E-Inf", "E-FT,D-Inf") for m in B.TOP1 for q in B.QUANT}
    pruned |= {(p, f"pf=70-{m}", "none") for p in ("E-FT,E-Inf", "E-FT,D-Inf", "D-FT,D-Inf") for m in B.TOP1}
    assert got == full | pruned


def test_a_variant_missing_a_record_is_left_out_with_the_reason(tmp_path):
    results = B.write_results_dir(tmp_path)
    doc = B.profile_doc("edge-idle")
    doc["benchmarks"] = [b for b in doc["benchmarks"] if b["name"] != "test_quantize[pf=70-magnitude-dynamic]"]
    B.write(results / "edge-idle.json", doc)
    options, left_out = M.measured_options(load_results(results), "idle", uplink_bps=1e8, downlink_bps=2e8)
    assert left_out == ["1 quantized variant(s) left out of the idle-edge ranking, no timed conversion "
                        "('quantize' case) on edge-idle: pf=70-magnitude-dynamic"]
    assert not any(o.model == "pf=70-magnitude" and o.quantization == "dynamic" for o in options)


def test_table1_quantization_rows_per_variant(results_dir):
    t = M.table1_quantization(load_results(results_dir))
    row = t[(t.pruning_factor_pct == 70) & (t.pruning_method == "filter") & (t.quantization == "int8")].iloc[0]
    assert row.model_bytes_gzip == int(B.SIZES[(0.7, "tflite")][1] * B.QUANT["int8"][1])
    assert row.top1_pct == pytest.approx(100 * (B.TOP1["filter"][2] - B.QUANT["int8"][2]))
    assert_allclose([row.inf_s_edge_idle, row.inf_s_device], [B.TIMES["edge-idle"]["inf70"] * B.QUANT["int8"][0],
                                                             B.TIMES["device"]["inf70"] * B.QUANT["int8"][0]])
    assert_allclose([row.quantize_s_edge_idle, row.quantize_s_edge_loaded],
                    [B.QUANTIZE_S["edge-idle"]["int8"], B.QUANTIZE_S["edge-loaded"]["int8"]])
    assert len(t) == 3 + 2 * 4 and list(t.quantization[:3]) == ["none", "dynamic", "int8"]
    float_row = t[(t.pruning_factor_pct == 0) & (t.quantization == "none")].iloc[0]
    assert float_row.model_bytes_gzip == B.SIZES[(0.0, "tflite")][1] and math.isnan(float_row.quantize_s_edge_idle)


def test_table1_quantization_is_empty_for_float_results(tmp_path):
    for p in B.TIMES:
        B.write(tmp_path / f"{p}.json", B.profile_doc(p, quantized=False))
    assert M.table1_quantization(load_results(tmp_path)).empty


def test_different_int8_features_are_said_naming_the_profiles_and_flags(tmp_path):
    results = B.write_results_dir(tmp_path)
    assert int8_feature_notes(load_results(results).runs) == []
    doc = B.profile_doc("edge-idle")
    doc["machine_info"]["continuum"]["isa_features"].update(avx512_vnni=True, amx_int8=None)
    doc["machine_info"]["continuum"]["litert_kernel_path"] = "builtin"
    B.write(results / "edge-idle.json", doc)
    notes = int8_feature_notes(load_results(results).runs)
    assert len(notes) == 2
    assert "differ in int8 features" in notes[0] and "edge-idle: avx512_vnni yes" in notes[0]
    assert "device: avx512_vnni no" in notes[0] and "amx_int8" not in notes[0]  # unknown: not compared
    assert "edge-idle: builtin" in notes[1] and "device: xnnpack" in notes[1]
