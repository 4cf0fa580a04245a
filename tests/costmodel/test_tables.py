"""Table II of costmodel.tables."""
from numpy.testing import assert_allclose

from costmodel import paper, tables
from costmodel.pipelines import TERMS


def test_table2_total_is_sum_of_parts_and_shares_sum_to_100():
    t2 = tables.table2(paper.study_scenarios())
    parts = t2[[f"{t}_s" for t in TERMS]].fillna(0).sum(axis=1)
    assert_allclose(t2.total_q1_s, parts, rtol=1e-12)
    assert_allclose(t2[[f"{t}_pct" for t in TERMS]].fillna(0).sum(axis=1), 100.0)
    assert list(t2.pipeline[:5]) == ["E-Inf full", "D-Inf full", "E-FT,E-Inf", "E-FT,D-Inf", "D-FT,D-Inf"]
