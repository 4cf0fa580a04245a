"""Paper mode: the study's figures through the model, against Table II."""
from importlib import resources

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from costmodel import paper, radio


@pytest.fixture(scope="module")
def table2_published():
    """The study's Table II as published (costmodel/data/table2.csv)."""
    return paper.study_table2()


@pytest.fixture(scope="module")
def report():
    return paper.paper_report(q=[1, 10, 100, 1000])


def test_data_files_name_their_source():
    for name in ("table1.csv", "table2.csv"):
        first = resources.files("costmodel").joinpath("data", name).read_text().splitlines()[0]
        assert first.startswith("# Source:")
    assert resources.files("costmodel").joinpath("data", "README.md").is_file()


def test_published_data_loaded(table2_published):
    assert len(table2_published) == 10
    assert len(paper.study_table1()) == 5


def test_rebuilt_totals_close_to_published(report):
    cmp = report["table2_comparison"]
    assert len(cmp) == 10
    # the published rows are rounded; their parts differ from their totals by up to ~3 s
    assert (cmp.parts_minus_published_s.abs() <= 3.0).all()
    assert (cmp.rebuilt_minus_published_s.abs() <= 3.0).all()
    assert (cmp.rebuilt_rel_diff.abs() <= 0.01).all()
    assert_allclose(cmp.rebuilt_per_request_s, cmp.published_per_request_s, atol=0.01)


def test_rebuilt_sum_of_published_parts(table2_published):
    """The study's parts, summed, against its totals (the known ~2.2 s gap on one row)."""
    parts = table2_published.filter(regex="_s$").drop(columns=["total_q1_s", "per_request_q_gt_1_s"])
    gap = parts.sum(axis=1, skipna=True) - table2_published.total_q1_s
    assert gap.abs().max() == pytest.approx(2.223, abs=1e-6)


def test_rebuilt_contributions_match_published_parts(report, table2_published):
    t2 = report["table2"]
    row = t2[(t2.scenario == "loaded") & (t2.pipeline == "E-FT,D-Inf")].iloc[0]
    assert_allclose(row.dataset_exchange_s, 23.75, rtol=1e-3)
    assert_allclose(row.model_exchange_s, 0.195, rtol=1e-3)
    assert_allclose(row.finetuning_s, 19.54 * 60)
    assert_allclose(row.pruning_s, 0.75)


def test_report_keys(report):
    assert {"radio", "table2", "crossovers", "points", "transfer_errors"} <= set(report)
    assert report["radio"]["uplink_bps"] == pytest.approx(radio.STUDY_UPLINK_BPS, rel=1e-4)
    assert report["radio"]["downlink_bps"] == pytest.approx(radio.STUDY_DOWNLINK_BPS, rel=1e-4)
    assert len(report["points"]) == 2 * 5 * 4


#: The study's device powers [W] (spec: P_E, P_rx, P_inf = P_ft).
STUDY_CIRCUIT_W, STUDY_RX_W, STUDY_CPU_W = 5.34, 0.1, 2.8


def _part(table2, scenario: str, pipeline: str, column: str) -> float:
    return float(table2[(table2.scenario == scenario) & (table2.pipeline == pipeline)][column].iloc[0])


def test_known_crossovers(report, table2_published):
    """Crossovers derived by hand from the study's tables: where the fixed cost one pipeline adds is paid
    back by what it saves per request, Q = (extra fixed cost) / (saving per request). The control
    messages (64 B, microseconds) and what both pipelines share per request cancel or are negligible."""
    t1 = paper.study_table1().set_index("pruning_factor_pct").loc[70]
    t2 = table2_published
    dataset_s = _part(t2, "pf70-idle", "E-FT,E-Inf", "dataset_exchange_s")
    full_model_s = _part(t2, "full-idle", "D-Inf", "model_exchange_s")
    pf70_model_s = _part(t2, "pf70-idle", "D-FT,D-Inf", "model_exchange_s")
    device_inf_full_s = _part(t2, "full-idle", "D-Inf", "inference_s")
    ft_device_s = t1.ft_min_device * 60

    # idle latency: E-FT,E-Inf prunes, encrypts, uploads the dataset and fine-tunes once, then infers faster
    fixed = (_part(t2, "pf70-idle", "E-FT,E-Inf", "pruning_s") + _part(t2, "pf70-idle", "E-FT,E-Inf", "encryption_s")
             + dataset_s + t1.ft_min_edge_idle * 60)
    idle_latency = fixed / (_part(t2, "full-idle", "E-Inf", "inference_s") - t1.inf_s_edge_idle)
    # loaded latency: D-FT,D-Inf prunes, fetches a smaller model and fine-tunes on the device
    fixed = _part(t2, "pf70-loaded", "D-FT,D-Inf", "pruning_s") + pf70_model_s + ft_device_s - full_model_s
    loaded_latency = fixed / (device_inf_full_s - t1.inf_s_device)
    # idle energy: the same pair; receiving costs P_rx + P_E, fine-tuning and inference P_ft = P_inf
    fixed = (STUDY_RX_W + STUDY_CIRCUIT_W) * (pf70_model_s - full_model_s) + STUDY_CPU_W * ft_device_s
    idle_energy = fixed / (STUDY_CPU_W * (device_inf_full_s - t1.inf_s_device))

    c = report["crossovers"].set_index(["scenario", "metric", "a", "b"]).q
    # the model's link rates reproduce the published transfer times to 1e-4 (test_report_keys)
    assert c["idle", "latency", "E-Inf full", "E-FT,E-Inf"] == pytest.approx(idle_latency, rel=1e-4)
    assert c["loaded", "latency", "D-Inf full", "D-FT,D-Inf"] == pytest.approx(loaded_latency, rel=1e-4)
    assert c["idle", "energy", "D-Inf full", "D-FT,D-Inf"] == pytest.approx(idle_energy, rel=1e-4)


def test_scenario_validation():
    with pytest.raises(ValueError, match="scenario must be one of"):
        paper.study_scenario("busy")
