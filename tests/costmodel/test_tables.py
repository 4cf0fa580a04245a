"""Tables I and II of costmodel.tables."""
import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from costmodel import paper, tables
from costmodel.pipelines import TERMS
from costmodel.results import load_results

from . import benchjson


def test_table2_total_is_sum_of_parts_and_shares_sum_to_100():
    t2 = tables.table2(paper.study_scenarios())
    parts = t2[[f"{t}_s" for t in TERMS]].fillna(0).sum(axis=1)
    assert_allclose(t2.total_q1_s, parts, rtol=1e-12)
    assert_allclose(t2[[f"{t}_pct" for t in TERMS]].fillna(0).sum(axis=1), 100.0)
    assert list(t2.pipeline[:5]) == ["E-Inf full", "D-Inf full", "E-FT,E-Inf", "E-FT,D-Inf", "D-FT,D-Inf"]


def test_table1_from_results(tmp_path):
    rs = load_results(benchjson.write_results_dir(tmp_path))
    t1 = tables.table1(rs)
    assert list(t1.columns) == list(tables.TABLE1_COLUMNS)
    row = t1[t1.pruning_factor_pct == 70].iloc[0]
    assert_allclose([row.top1_no_ft_pct, row.top1_ft_pct], [70, 85])
    assert_allclose(row.ft_min_edge_idle, 20.0 / 60, rtol=1e-9)
    assert_allclose(row.ft_min_device, 40.0 / 60, rtol=1e-9)
    assert_allclose(row.inf_s_edge_loaded, 0.030, rtol=1e-9)
    full = t1[t1.pruning_factor_pct == 0].iloc[0]
    assert math.isnan(full.top1_ft_pct) and math.isnan(full.ft_min_device)
    assert_allclose(full.inf_s_device, 0.050, rtol=1e-9)


def test_markdown_and_csv(tmp_path):
    df = pd.DataFrame({"pipeline": ["E-FT,E-Inf", "a|b"], "x_s": [1.23456, np.nan], "q": [1.0, math.inf]})
    lines = tables.markdown_lines(df, ".3g")
    assert lines[0] == "| pipeline | x_s | q |"
    assert lines[1] == "|---|---:|---:|"
    assert lines[2] == "| E-FT,E-Inf | 1.23 | 1 |"
    assert lines[3] == "| a\\|b |  | inf |"
    md, csv = tables.write_table(df, tmp_path / "out", "t")
    assert md.read_text().startswith("| pipeline")
    assert pd.read_csv(csv).shape == (2, 3)
