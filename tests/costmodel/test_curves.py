"""Crossovers (closed form) and best ranges of costmodel.curves, checked on the curves."""
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from costmodel import curves, paper
from costmodel.pipelines import PIPELINES, Affine, cost_coefficients


@pytest.fixture(scope="module")
def scenarios():
    return paper.study_scenarios()


def test_crossover_q_closed_form():
    assert_allclose(curves.crossover_q(Affine(100, 1), Affine(0, 2)), 100.0)
    assert curves.crossover_q(Affine(0, 1), Affine(5, 1)) is None  # parallel
    assert curves.crossover_q(Affine(0, 2), Affine(0.5, 1)) is None  # crosses at 0.5 < 1


def test_crossovers_are_where_the_curves_cross(scenarios):
    table = curves.crossovers(scenarios)
    assert set(table.scenario) == {"idle", "loaded"}
    assert set(table.metric) == {"latency", "energy", "data"}
    assert len(table) == 2 * 3 * 10  # every pair of five pipelines
    crossing = table[table.q.notna()]
    assert len(crossing) > 0
    for r in crossing.itertuples():
        ca = cost_coefficients(r.a, r.metric, scenarios[r.scenario][r.a])
        cb = cost_coefficients(r.b, r.metric, scenarios[r.scenario][r.b])
        assert_allclose(ca(r.q), cb(r.q), rtol=1e-9)
        below, above = max(1.0, r.q * 0.5), r.q * 2
        assert (ca(below) < cb(below)) == (r.cheaper_below == r.a)
        assert (ca(above) < cb(above)) == (r.cheaper_above == r.a)
        assert r.q_int == math.floor(r.q) + 1


def test_best_ranges_match_brute_force(scenarios):
    qs = np.unique(np.round(np.logspace(0, 4, 400)))
    for name, scen in scenarios.items():
        for metric in ("latency", "energy", "data"):
            coef = {p: cost_coefficients(p, metric, x) for p, x in scen.items()}
            ranges = curves.best_ranges(coef)
            assert ranges[0]["q_from"] == 1.0 and math.isinf(ranges[-1]["q_to"])
            for q in qs:
                best = min(coef, key=lambda p: coef[p](q))
                r = next(r for r in ranges if r["q_from"] <= q < r["q_to"])
                assert_allclose(coef[r["pipeline"]](q), coef[best](q), rtol=1e-12)


def test_curve_points(scenarios):
    pts = curves.curve_points(scenarios, [1, 10, 100])
    assert len(pts) == 2 * 5 * 3
    assert list(pts.columns) == ["scenario", "pipeline", "q", "latency_s", "energy_j", "data_bytes"]
    assert set(pts.pipeline) == set(PIPELINES)
    for _, g in pts.groupby(["scenario", "pipeline"]):
        for col in ("latency_s", "energy_j", "data_bytes"):
            assert np.all(np.diff(g[col].to_numpy()) >= 0)


def test_ranking_and_validation():
    coef = {"a": Affine(10, 1), "b": Affine(0, 2)}
    assert [p for p, _ in curves.ranking(coef, 5)] == ["b", "a"]
    assert [p for p, _ in curves.ranking(coef, 20)] == ["a", "b"]
    with pytest.raises(ValueError, match="q must be"):
        curves.ranking(coef, 0)
    with pytest.raises(ValueError, match="at least one"):
        curves.best_ranges({})
