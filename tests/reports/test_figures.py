"""figures: every figure file produced, non-empty, one colour per pipeline everywhere."""
import numpy as np
import pytest
from matplotlib.colors import to_hex

from reports import figures as F
from costmodel.curves import crossovers, curve_points
from costmodel.paper import study_scenarios
from costmodel.pipelines import PIPELINES

Q = np.array([1.0, 10.0, 100.0, 1000.0, 10000.0])


def _curves():
    values = {p: (i + 1) * 10 + (5 - i) * Q for i, p in enumerate(PIPELINES)}
    return F.QCurves(Q, values, (F.Crossover("E-Inf full", "D-Inf full", 2.5),))


def _check_files(paths):
    assert [p.suffix for p in paths] == [".png", ".svg"]
    for p in paths:
        assert p.stat().st_size > 2000
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and b"<svg" in paths[1].read_bytes()[:500]


def test_colours_cover_the_five_pipelines():
    assert set(F.PIPELINE_COLORS) == set(PIPELINES)
    assert len(set(F.PIPELINE_COLORS.values())) == 5


@pytest.mark.parametrize("metric", ["latency", "energy", "data"])
def test_q_curve_figure(tmp_path, metric):
    fig = F.q_curve_figure(_curves(), metric, title=metric)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and "[" in ax.get_ylabel() and "Q" in ax.get_xlabel()
    for line in ax.get_lines():
        if line.get_label() in F.PIPELINE_COLORS:
            assert to_hex(line.get_color()) == to_hex(F.PIPELINE_COLORS[line.get_label()])
    if metric == "energy":
        assert any("3.7 Wh" in t.get_text() for t in ax.get_legend().get_texts())
    _check_files(F.save_figure(fig, tmp_path / metric))


def test_side_by_side_from_costmodel_frames(tmp_path):
    scen = study_scenarios()
    frames = (curve_points(scen, Q), crossovers(scen))
    figs = F.q_figures(frames, frames)
    assert list(figs) == [stem for stem, *_ in F.Q_FIGURES]
    assert all(len(fig.axes) == 2 for fig in figs.values())
    _check_files(F.save_figure(figs["latency_idle"], tmp_path / "latency_idle"))


def test_accuracy_and_size_figures(tmp_path):
    pf = [0.0, 0.5, 0.7, 0.85]
    acc = [F.PfSeries("magnitude, no FT", "magnitude", pf, [0.8, 0.7, 0.65, 0.6], dashed=True),
           F.PfSeries("filter, with FT", "filter", pf, [0.85, 0.84, 0.8, 0.75])]
    study = [F.PfSeries("study", "study", [0.5, 0.7], [0.87, 0.85])]
    fig = F.accuracy_figure(acc, study)
    assert fig.axes[0].get_ylabel() == "top-1 accuracy [%]" and fig.axes[0].get_xlabel() == "pruning factor [%]"
    _check_files(F.save_figure(fig, tmp_path / "accuracy"))
    size = [F.PfSeries("filter, file", "filter", pf, [16.9e6, 8e6, 5e6, 2.5e6])]
    _check_files(F.save_figure(F.model_size_figure(size), tmp_path / "size"))


def test_history_figure(tmp_path):
    fig = F.history_figure(["0001_abc", "0002_def"], [0.01, 0.011], "test_inference[x]")
    _check_files(F.save_figure(fig, tmp_path / "hist"))


@pytest.mark.parametrize("make, match", [
    (lambda: F.QCurves(np.array([0.0, 1.0]), {}), "q must be"),
    (lambda: F.QCurves(Q, {"E-Inf": Q}), "unknown pipeline"),
    (lambda: F.QCurves(Q, {"E-Inf full": Q[:2]}), "shape"),
    (lambda: F.q_curve_figure(_curves(), "power"), "metric must be"),
    (lambda: F.PfSeries("x", "random", [0.5], [1.0]), "method must be"),
    (lambda: F.q_curves_side_by_side(None, None, "latency", title="t"), "neither"),
])
def test_validation(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_pareto_front_keeps_the_points_nothing_beats_on_both_counts():
    cost = [1.0, 2.0, 2.0, 3.0, 4.0, float("nan"), 0.5]
    top1 = [0.70, 0.80, 0.75, 0.78, 0.90, 0.99, 0.60]
    # 0.5/0.60, 1/0.70, 2/0.80, 4/0.90; (2, 0.75) and (3, 0.78) are beaten by (2, 0.80); NaN left out
    assert F.pareto_front(cost, top1) == [6, 0, 1, 4]
    assert F.pareto_front([], []) == []


def test_quantization_figure_draws_every_variant_and_rings_the_front(tmp_path):
    points = [F.VariantPoint(0.0, "full", "none", 0.88, 0.050, 15.6e6),
              F.VariantPoint(0.0, "full", "int8", 0.85, 0.022, 4.0e6),
              F.VariantPoint(0.7, "filter", "int8-qat", 0.69, 0.009, 1.2e6),
              F.VariantPoint(0.7, "magnitude", "dynamic", 0.80, 0.030, 1.3e6)]
    fig = F.quantization_figure(points, latency_label="device")
    left, right = fig.axes[:2]
    texts = {t.get_text() for t in left.texts}
    assert texts == {"full", "full-int8", "pf=70-filter-int8-qat"}  # the magnitude model: slower and less accurate
    assert {t.get_text() for t in right.texts} == {"full", "full-int8", "pf=70-filter-int8-qat",
                                                    "pf=70-magnitude-dynamic"}
    assert "device" in left.get_xlabel() and "[MB]" in right.get_xlabel()
    _check_files(F.save_figure(fig, tmp_path / "quantization"))
    with pytest.raises(ValueError, match="quantization must be one of"):
        F.VariantPoint(0.7, "filter", "int4", 0.7, 0.01, 1e6)
