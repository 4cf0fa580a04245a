"""Figures of the study with matplotlib (Agg, no pyplot state): Q-curves, accuracy and model size versus pf.

Every figure function takes plain arrays and returns a ``matplotlib.figure.Figure``;
:func:`save_figure` writes it as PNG and SVG. One colour per pipeline
(:data:`PIPELINE_COLORS`) in every figure; Q on a log axis; crossovers marked with
a black ring and their Q. Units in the axis labels: latency [s], device energy [J]
(with the 3.7 Wh budget line), data exchanged [MB] (1 MB = 1e6 byte), model size
[MB], top-1 accuracy [%], pruning factor [%].

Side by side: :func:`q_curves_side_by_side` draws the measured curves and the
study's (``continuum-bench paper``) on two panels sharing the y axis.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure  # Figure objects, no pyplot: rendered by the Agg / SVG canvases

from costmodel.pipelines import DEVICE_ENERGY_BUDGET, PIPELINES, check_metric

#: One colour per pipeline, the same in every figure (colour-blind safe, Okabe-Ito).
PIPELINE_COLORS = {
    "E-Inf full": "#0072B2",
    "D-Inf full": "#E69F00",
    "E-FT,E-Inf": "#009E73",
    "E-FT,D-Inf": "#CC79A7",
    "D-FT,D-Inf": "#D55E00",
}
#: Baselines dashed, pruned pipelines solid.
PIPELINE_LINESTYLES = {"E-Inf full": "--", "D-Inf full": "--"}
#: One colour per pruning method in the accuracy / size figures.
METHOD_COLORS = {"magnitude": "#0072B2", "filter": "#D55E00", "study": "#555555"}

BYTES_PER_MB = 1e6
#: metric -> (axis label, scale applied to the values before plotting)
METRIC_AXES = {
    "latency": ("latency of the pipeline [s]", 1.0),
    "energy": ("device energy [J]", 1.0),
    "data": ("data exchanged [MB]", 1.0 / BYTES_PER_MB),
}
FIGURE_FORMATS = ("png", "svg")
DPI = 110
#: Smallest text [pt]: at DPI a figure 11 in wide shown 1,100 px wide (the page at 1,280 px) draws it at 11 px.
MIN_FONT_PT = 8
#: Fixed margins (constrained layout costs seconds per figure on a busy 2-core host).
MARGINS = dict(left=0.09, right=0.98, bottom=0.13, top=0.86, wspace=0.06)


@dataclass(frozen=True)
class Crossover:
    """Pipelines ``a`` and ``b`` cost the same at ``q`` [requests]."""

    a: str
    b: str
    q: float


@dataclass(frozen=True)
class QCurves:
    """Costs of each pipeline on a grid of Q: ``values[pipeline][i]`` at ``q[i]``."""

    q: np.ndarray
    values: Mapping[str, np.ndarray]
    crossovers: Sequence[Crossover] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        q = np.asarray(self.q, dtype=float)
        if q.ndim != 1 or q.size < 2 or np.any(q < 1):
            raise ValueError(f"q must be a 1-D grid of at least 2 values >= 1, got {self.q!r}")
        for name, v in self.values.items():
            if name not in PIPELINE_COLORS:
                raise ValueError(f"unknown pipeline {name!r}; allowed: {list(PIPELINE_COLORS)}")
            if np.shape(v) != q.shape:
                raise ValueError(f"values[{name!r}] has shape {np.shape(v)}, q has {q.shape}")


def _value_at(q: np.ndarray, values: np.ndarray, q0: float) -> float:
    """Cost at q0 by linear interpolation in Q (the costs are affine in Q)."""
    return float(np.interp(q0, q, values))


def _q_label(q: float) -> str:
    return f"Q={q:,.0f}" if q >= 10 else f"Q={q:.2g}"


def draw_q_curves(ax, curves: QCurves, metric: str, *, title: str | None = None,
                  budget_j: float | None = None, legend: bool = True) -> None:
    """Draw one pipeline curve per colour on ``ax``, Q and the cost on log axes.

    Every crossover gets a ring; those where the cheapest pipeline changes (on the
    lower envelope) also get their Q written beside it.
    """
    check_metric(metric)
    ylabel, scale = METRIC_AXES[metric]
    q = np.asarray(curves.q, dtype=float)
    for name in PIPELINES:
        if name not in curves.values:
            continue
        ax.plot(q, np.asarray(curves.values[name], dtype=float) * scale, label=name,
                color=PIPELINE_COLORS[name], linestyle=PIPELINE_LINESTYLES.get(name, "-"), linewidth=1.8)
    ringed = False
    for c in curves.crossovers:
        if c.q is None or not (q[0] <= c.q <= q[-1]) or c.a not in curves.values:
            continue
        y = _value_at(q, np.asarray(curves.values[c.a], dtype=float), c.q)
        lowest = min(_value_at(q, np.asarray(v, dtype=float), c.q) for v in curves.values.values())
        ax.plot([c.q], [y * scale], marker="o", markersize=7, markerfacecolor="none", markeredgecolor="black",
                linestyle="none", zorder=5)
        ringed = True
        if y <= lowest * (1 + 1e-9):
            ax.annotate(_q_label(c.q), (c.q, y * scale), textcoords="offset points", xytext=(5, -12),
                        fontsize=MIN_FONT_PT, fontweight="bold")
    if budget_j is not None and metric == "energy":
        ax.axhline(budget_j, color="black", linestyle=":", linewidth=1.2,
                   label=f"battery budget {budget_j / 3600:.1f} Wh")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Q, inference requests per model [-]")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    if ringed:
        ax.plot([], [], marker="o", markerfacecolor="none", markeredgecolor="black", linestyle="none",
                label="crossover (Q written: the cheapest pipeline changes)")
    if legend:
        ax.legend(fontsize=MIN_FONT_PT, loc="best")


def q_curve_figure(curves: QCurves, metric: str, *, title: str | None = None,
                   budget_j: float | None = None) -> Figure:
    """One panel: ``metric`` versus Q for every pipeline in ``curves``."""
    if metric == "energy" and budget_j is None:
        budget_j = DEVICE_ENERGY_BUDGET
    fig = Figure(figsize=(6.4, 4.4), dpi=DPI)
    draw_q_curves(fig.add_subplot(), curves, metric, title=title, budget_j=budget_j)
    fig.subplots_adjust(**MARGINS)
    return fig


def q_curves_side_by_side(measured: QCurves | None, paper: QCurves | None, metric: str, *,
                          title: str, budget_j: float | None = None) -> Figure:
    """Measured curves (left) and the study's (right) on panels sharing the y axis."""
    panels = [(c, t) for c, t in ((measured, "measured"), (paper, "study (paper mode)")) if c is not None]
    if not panels:
        raise ValueError("q_curves_side_by_side needs measured or paper curves, got neither")
    if metric == "energy" and budget_j is None:
        budget_j = DEVICE_ENERGY_BUDGET
    # one width for one panel or two: every Q-curve figure is shown at the same scale (and text size)
    fig = Figure(figsize=(5.2 * 2 + 0.6, 4.4), dpi=DPI)
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for ax, (curves, which) in zip(axes, panels):
        draw_q_curves(ax, curves, metric, title=which, budget_j=budget_j, legend=False)
    for ax in axes[1:]:
        ax.set_ylabel("")
    fig.suptitle(title, fontsize=11)
    if len(panels) == 2:
        _figure_legend(fig, axes, loc="lower center", ncol=4)
        fig.subplots_adjust(**{**MARGINS, "bottom": 0.24})
    else:  # the legend beside the one panel
        _figure_legend(fig, axes, loc="center left", bbox_to_anchor=(0.6, 0.5), ncol=1)
        fig.subplots_adjust(**{**MARGINS, "right": 0.57})
    return fig


def _figure_legend(fig: Figure, axes, *, ncol: int, **where) -> None:
    """One legend for the panels (union of their labels, in drawing order), placed by ``where``."""
    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    if handles:
        fig.legend(handles, labels, ncol=min(ncol, len(labels)), fontsize=MIN_FONT_PT + 1, frameon=False, **where)


@dataclass(frozen=True)
class PfSeries:
    """One line versus pruning factor: ``pf`` fractions in [0, 1), ``values`` in the series unit."""

    label: str
    method: str  # magnitude, filter or study
    pf: Sequence[float]
    values: Sequence[float]
    dashed: bool = False

    def __post_init__(self) -> None:
        if self.method not in METHOD_COLORS:
            raise ValueError(f"method must be one of {list(METHOD_COLORS)}, got {self.method!r}")
        if len(self.pf) != len(self.values):
            raise ValueError(f"series {self.label!r}: {len(self.pf)} pruning factors but {len(self.values)} values")


def _draw_pf(ax, series: Iterable[PfSeries], ylabel: str, scale: float, title: str | None) -> None:
    any_drawn = False
    for s in series:
        pf = np.asarray(s.pf, dtype=float) * 100
        order = np.argsort(pf)
        ax.plot(pf[order], np.asarray(s.values, dtype=float)[order] * scale, label=s.label,
                color=METHOD_COLORS[s.method], linestyle="--" if s.dashed else "-", marker="o", markersize=4)
        any_drawn = True
    ax.set_xlabel("pruning factor [%]")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    if any_drawn:
        ax.legend(fontsize=MIN_FONT_PT, loc="best", handlelength=3.5)  # long enough to show the dashes
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)


def accuracy_figure(measured: Sequence[PfSeries], paper: Sequence[PfSeries] = ()) -> Figure:
    """Top-1 accuracy [%] versus pruning factor: solid with fine-tuning, dashed without.

    Series values are fractions in [0, 1]; the study's series (if any) on a second panel.
    """
    return _pf_figure(measured, paper, "top-1 accuracy [%]", 100.0, "Accuracy versus pruning factor")


def model_size_figure(measured: Sequence[PfSeries], paper: Sequence[PfSeries] = ()) -> Figure:
    """Model size on disk [MB] versus pruning factor; values in bytes (dashed: gzip)."""
    return _pf_figure(measured, paper, "model size [MB]", 1.0 / BYTES_PER_MB, "Model size versus pruning factor")


def _pf_figure(measured, paper, ylabel, scale, title) -> Figure:
    panels = [(measured, "measured")] + ([(paper, "study (paper mode)")] if paper else [])
    fig = Figure(figsize=(5.2 * len(panels) + 0.6, 4.0), dpi=DPI)
    axes = fig.subplots(1, len(panels), sharex=True, sharey=True, squeeze=False)[0]
    for ax, (series, which) in zip(axes, panels):
        _draw_pf(ax, series, ylabel, scale, which)
    for ax in axes[1:]:
        ax.set_ylabel("")
    fig.suptitle(title, fontsize=11)
    fig.subplots_adjust(**MARGINS)
    return fig


#: One colour per quantization in the accuracy-cost figure (Okabe-Ito), one marker per pruning method.
QUANTIZATION_COLORS = {"none": "#000000", "dynamic": "#56B4E9", "int8": "#D55E00", "int8-qat": "#009E73"}
VARIANT_MARKERS = {"full": "*", "magnitude": "o", "filter": "s"}


@dataclass(frozen=True)
class VariantPoint:
    """One model variant: its pruning (``method``: full, magnitude, filter; ``pf`` a fraction), its
    quantization, top-1 [fraction], per-request inference [s] and model size [byte] (NaN: not measured)."""

    pf: float
    method: str
    quantization: str
    top1: float
    latency_s: float
    size_bytes: float

    def __post_init__(self) -> None:
        if self.method not in VARIANT_MARKERS:
            raise ValueError(f"method must be one of {list(VARIANT_MARKERS)}, got {self.method!r}")
        if self.quantization not in QUANTIZATION_COLORS:
            raise ValueError(f"quantization must be one of {list(QUANTIZATION_COLORS)}, got {self.quantization!r}")

    @property
    def label(self) -> str:
        head = "full" if self.method == "full" else f"pf={self.pf * 100:g}-{self.method}"
        return head if self.quantization == "none" else f"{head}-{self.quantization}"


def pareto_front(cost: Sequence[float], top1: Sequence[float]) -> list[int]:
    """Indices of the points no other point beats on both counts (a lower or equal cost and a higher or
    equal top-1, one of them strictly), cheapest first; points with a NaN are left out."""
    pts = [(float(c), float(t), i) for i, (c, t) in enumerate(zip(cost, top1))
           if not (math.isnan(float(c)) or math.isnan(float(t)))]
    front, best = [], -math.inf
    for c, t, i in sorted(pts, key=lambda p: (p[0], -p[1])):
        if t > best:
            front.append(i)
            best = t
    return front


def _draw_variants(ax, points: Sequence[VariantPoint], attr: str, scale: float, xlabel: str) -> None:
    xs = [getattr(p, attr) * scale for p in points]
    ys = [p.top1 * 100 for p in points]
    for p, x, y in zip(points, xs, ys):
        if not (math.isnan(x) or math.isnan(y)):
            ax.plot([x], [y], linestyle="none", marker=VARIANT_MARKERS[p.method],
                    markersize=10 if p.method == "full" else 6, color=QUANTIZATION_COLORS[p.quantization])
    front = pareto_front(xs, ys)
    if front:
        fx, fy = [xs[i] for i in front], [ys[i] for i in front]
        ax.plot(fx, fy, color="black", linewidth=1.0, linestyle="--", drawstyle="steps-post", zorder=1)
        ax.plot(fx, fy, linestyle="none", marker="o", markersize=13, markerfacecolor="none",
                markeredgecolor="black", zorder=4)
        for n, i in enumerate(front):  # labels alternate above and below: neighbours on a front sit close
            ax.annotate(points[i].label, (xs[i], ys[i]), textcoords="offset points",
                        xytext=(-4, 9) if n % 2 else (-4, -15), ha="right" if n == len(front) - 1 else "left",
                        fontsize=MIN_FONT_PT)
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.margins(x=0.12, y=0.08)
    ax.set_xlabel(xlabel)
    ax.grid(True, which="major", alpha=0.3)


def quantization_figure(points: Sequence[VariantPoint], *, latency_label: str) -> Figure:
    """Top-1 [%] against per-request inference [ms] (left) and model size [MB] (right) for every model
    variant (colour: quantization, marker: pruning method), the Pareto front of each panel ringed and
    joined (no other variant is both cheaper and more accurate)."""
    if not points:
        raise ValueError("quantization_figure needs at least one model variant, got none")
    fig = Figure(figsize=(5.2 * 2 + 0.6, 4.6), dpi=DPI)
    left, right = fig.subplots(1, 2, sharey=True)
    _draw_variants(left, points, "latency_s", 1e3, f"inference per request, {latency_label} [ms]")
    _draw_variants(right, points, "size_bytes", 1.0 / BYTES_PER_MB, "model size, .tflite gzip [MB]")
    left.set_ylabel("top-1 accuracy [%]")
    fig.suptitle("Accuracy against latency and size: every model variant", fontsize=11)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], linestyle="none", marker="s", color=c, label=q)
               for q, c in QUANTIZATION_COLORS.items() if any(p.quantization == q for p in points)]
    handles += [Line2D([], [], linestyle="none", marker=m, color="#777777", label=name)
                for name, m in VARIANT_MARKERS.items() if any(p.method == name for p in points)]
    handles.append(Line2D([], [], color="black", linestyle="--", marker="o", markerfacecolor="none",
                          label="Pareto front"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=MIN_FONT_PT + 1, frameon=False)
    fig.subplots_adjust(**{**MARGINS, "bottom": 0.24})
    return fig


def history_figure(labels: Sequence[str], medians_s: Sequence[float], benchmark: str, *,
                   title: str | None = None) -> Figure:
    """One benchmark's median round time [ms] across saved runs (oldest first)."""
    if len(labels) != len(medians_s):
        raise ValueError(f"{len(labels)} labels but {len(medians_s)} medians")
    if not labels:
        raise ValueError(f"no saved run holds benchmark {benchmark!r}")
    fig = Figure(figsize=(max(5.0, 0.45 * len(labels) + 2.5), 3.8), dpi=DPI)
    fig.subplots_adjust(left=0.14, right=0.97, bottom=0.32, top=0.9)
    ax = fig.add_subplot()
    x = np.arange(len(labels))
    ax.plot(x, np.asarray(medians_s, dtype=float) * 1e3, marker="o", color="#0072B2")
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=MIN_FONT_PT)
    ax.set_xlabel("saved run [id_commit]")
    ax.set_ylabel("median round time [ms]")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.set_title(title or benchmark, fontsize=9)
    return fig


def save_figure(fig: Figure, out_base: Path | str, formats: Sequence[str] = FIGURE_FORMATS,
                rendered: Mapping[str, bytes] | None = None) -> list[Path]:
    """Write ``fig`` as ``out_base.png`` / ``out_base.svg``; returns the paths written.

    rendered: bytes already produced by :func:`figure_bytes` per format (not rendered again).
    """
    bad = [f for f in formats if f not in FIGURE_FORMATS]
    if bad:
        raise ValueError(f"figure formats must be among {list(FIGURE_FORMATS)}, got {bad}")
    out_base = Path(out_base)
    out_base.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = out_base.parent / f"{out_base.name}.{fmt}"
        path.write_bytes(rendered[fmt] if rendered and fmt in rendered else figure_bytes(fig, fmt))
        paths.append(path)
    return paths


def min_text_px(fig: Figure) -> float:
    """The smallest visible text of ``fig`` [px] in its PNG (font size [pt] * DPI / 72); 0 without text."""
    from matplotlib.text import Text

    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes) * DPI / 72 if sizes else 0.0


def figure_bytes(fig: Figure, fmt: str = "png") -> bytes:
    """The figure encoded in memory (for inlining into HTML)."""
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"fmt must be one of {list(FIGURE_FORMATS)}, got {fmt!r}")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=DPI)
    return buf.getvalue()


# ----------------------------------------------------------------- from costmodel frames

#: (file stem, metric, scenario, title) of the four Q-curve figures.
Q_FIGURES = (
    ("latency_idle", "latency", "idle", "Latency versus Q, edge idle"),
    ("latency_loaded", "latency", "loaded", "Latency versus Q, edge loaded"),
    ("data", "data", "idle", "Data exchanged versus Q"),
    ("energy", "energy", "idle", "Device energy versus Q"),
)


def qcurves_from_frames(points, crossovers, scenario: str, metric: str) -> QCurves | None:
    """QCurves of one scenario and metric from ``curves.curve_points`` / ``curves.crossovers`` frames."""
    from costmodel.curves import POINT_COLUMNS

    sub = points[points["scenario"] == scenario]
    if sub.empty:
        return None
    column = POINT_COLUMNS[metric]
    q = np.sort(sub["q"].unique()).astype(float)
    values = {}
    for name, g in sub.groupby("pipeline", sort=False):
        g = g.sort_values("q")
        values[name] = g[column].to_numpy(dtype=float)
    marks = []
    if crossovers is not None and len(crossovers):
        cx = crossovers[(crossovers["scenario"] == scenario) & (crossovers["metric"] == metric)]
        for row in cx.itertuples():
            if row.q is not None and not (isinstance(row.q, float) and math.isnan(row.q)):
                marks.append(Crossover(row.a, row.b, float(row.q)))
    return QCurves(q, values, tuple(marks))


def q_figures(measured: tuple | None, paper: tuple | None) -> dict[str, Figure]:
    """The four Q-curve figures, measured beside the study's.

    measured, paper: ``(points, crossovers)`` frames from ``costmodel.curves`` (either may be None).
    Returns ``{file stem: Figure}`` in the order of :data:`Q_FIGURES`.
    """
    figs = {}
    for stem, metric, scenario, title in Q_FIGURES:
        m = qcurves_from_frames(*measured, scenario, metric) if measured else None
        p = qcurves_from_frames(*paper, scenario, metric) if paper else None
        if m is None and p is None:
            continue
        figs[stem] = q_curves_side_by_side(m, p, metric, title=title)
    return figs
