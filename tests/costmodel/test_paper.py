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


def test_known_crossovers(report):
    """Latency crossovers from the study's figures (paper radio preset)."""
    c = report["crossovers"].set_index(["scenario", "metric", "a", "b"]).q
    assert c["idle", "latency", "E-Inf full", "E-FT,E-Inf"] == pytest.approx(689.6, abs=0.5)
    assert c["loaded", "latency", "D-Inf full", "D-FT,D-Inf"] == pytest.approx(198.3, abs=0.5)
    assert c["idle", "energy", "D-Inf full", "D-FT,D-Inf"] == pytest.approx(198.0, abs=0.5)


def test_scenario_validation():
    with pytest.raises(ValueError, match="scenario must be one of"):
        paper.study_scenario("busy")
