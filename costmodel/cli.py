"""The cost model's command line: ``python -m costmodel {paper,advise}`` on the study's figures.

Parsing is separate from the work: :func:`paper_result` and :func:`advice_result` take plain
values and return a result dict (rendered by :mod:`costmodel.render`), raising ValueError
naming the option they cannot honour; only :func:`main` prints. Advice from measured results
(``--results``) reads benchmark JSON and is ``continuum-bench advise --results``, which
builds on these functions.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys

from . import radio
from .paper import SCENARIOS
from .pipelines import METRIC_UNITS, METRICS, scenario_coefficients, validate_q
from .render import FORMATS, printable, render

PROG = "python -m costmodel"
#: TR 38.901 Table 7.4.1-1: the UMi street-canyon path loss holds for 10 m <= d_2D <= 5 km.
UMI_DISTANCE_RANGE_M = (10.0, 5000.0)
#: A metric's unit as a column-name suffix (render.UNIT_SUFFIXES shows it in the header).
METRIC_COLUMN_UNITS = {"latency": "s", "energy": "j", "data": "bytes"}
#: Most requests per model a question may ask about: beyond it the figures' rounding, not the
#: model, decides (and a 300-digit Q is a typing slip).
MAX_Q = 10**9
EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


# ---- checks shared with continuum-bench -----------------------------------------------------

def whole_q(text) -> int:
    """Q, a number of requests: a whole number >= 1 ("100", "1e3"); ValueError naming the value."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value < 1 or not value.is_integer():
        raise ValueError(f"--q must be a whole number of requests >= 1, got {text!r}")
    if value > MAX_Q:
        raise ValueError(f"--q must be at most {MAX_Q:,} requests, got {text!r}")
    return int(value)


def one_q(values, several: str = "") -> int:
    """The one Q of ``--q`` (a value or a list of one); ValueError naming --q when there are several."""
    values = list(values) if isinstance(values, (list, tuple)) else [values]
    if len(values) != 1:
        raise ValueError(f"--q takes one number of requests{several}, got {' '.join(map(str, values))}")
    return whole_q(values[0])


def check_format(fmt: str, formats=FORMATS) -> None:
    if fmt not in formats:
        raise ValueError(f"--format must be one of {tuple(formats)}, got {fmt!r}")


def radio_link(radio_preset: str, distance: float | None, allow_distance: bool = False):
    """The link of a preset at ``distance`` [m], and the note when the distance is outside the UMi
    model's validity (refused unless ``allow_distance``). ValueError naming --distance otherwise."""
    note = None
    if distance is not None:
        lo, hi = UMI_DISTANCE_RANGE_M
        if not math.isfinite(distance) or distance <= 0:
            raise ValueError(f"--distance must be a positive number of metres, got {distance!r}")
        if not lo <= distance <= hi:
            msg = (f"--distance {distance:g} m is outside the UMi street-canyon path loss model's validity "
                   f"(TR 38.901 Table 7.4.1-1: {lo:g} m to {hi / 1000:g} km)")
            if not allow_distance:
                raise ValueError(msg + "; pass --allow-distance-outside-model to extrapolate anyway")
            note = "EXTRAPOLATED: " + msg
    link = radio.get_link(radio_preset, distance=distance)
    up, down = float(radio.uplink_rate(link)), float(radio.downlink_rate(link))
    if not (up > 0 and down > 0):
        raise ValueError(f"--distance {link.distance:g} m: the link carries no data there (uplink {up:g} bit/s, "
                         f"downlink {down:g} bit/s)")
    return link, note


def radio_summary(link, preset: str) -> dict:
    return {"preset": preset, **dataclasses.asdict(link), "uplink_bps": float(radio.uplink_rate(link)),
            "downlink_bps": float(radio.downlink_rate(link))}


# ---- paper ----------------------------------------------------------------------------------

def paper_result(*, q=None, radio_preset: str = "paper", distance: float | None = None,
                 allow_distance: bool = False, published_swap: bool = False, format: str = "text") -> dict:
    """The study's own figures through the model (:func:`costmodel.paper.paper_report`)."""
    from .paper import paper_report

    check_format(format)
    qs = None if q is None else [whole_q(v) for v in q]
    link, note = radio_link(radio_preset, distance, allow_distance)
    out = paper_report(None if qs is None else validate_q(qs).ravel(), link,
                       published_swap=published_swap, radio_preset=radio_preset)
    crossings = out["crossovers"]
    # the answer first (which pipeline is cheapest for which Q), the inputs it rests on last
    ordered = {"best_ranges": out.pop("best_ranges"),
               "crossovers": crossings[crossings["q"].notna()].reset_index(drop=True)}
    out.pop("crossovers")
    radio_block = radio_summary(link, radio_preset)
    out.pop("radio", None)
    ordered.update(out)
    ordered["radio"] = radio_block
    return {"warning": note, **ordered} if note else ordered


# ---- advise ---------------------------------------------------------------------------------

def check_pruning_factor(pruning_factor: float) -> None:
    if isinstance(pruning_factor, bool) or not 0 < pruning_factor < 1:
        raise ValueError(f"--pruning-factor must be a fraction in (0, 1), 0.7 for 70 %, got {pruning_factor!r}")


def study_inputs(scenario: str, link, pruning_factor: float = 0.7) -> tuple[dict, str]:
    """({pipeline: PipelineInputs}, where they come from) from the study's figures; ValueError at a
    pruning factor the study did not publish."""
    from .paper import PAPER_PRUNING_FACTOR_PCT, study_scenario

    check_pruning_factor(pruning_factor)
    if abs(pruning_factor * 100 - PAPER_PRUNING_FACTOR_PCT) > 1e-9:
        raise ValueError(
            f"--pruning-factor {pruning_factor:g}: the study gives the pruned pipelines' inputs only at "
            f"{PAPER_PRUNING_FACTOR_PCT / 100:g} (Table I has fine-tuning and inference times at 0.5, 0.6, "
            "0.7, 0.8 and 0.85, but the pruning and encryption times and the pruned model's size come from "
            f"Table II, published for {PAPER_PRUNING_FACTOR_PCT} % only); measure the others and pass --results")
    return study_scenario(scenario, link), f"the study's figures (pruning factor {pruning_factor:g})"


def advice_rows(inputs: dict, q: int) -> tuple[list[dict], list[dict]]:
    """(best per metric with the runner-up and how much more it costs, every pipeline's cost and
    rank per metric) for ``q`` requests."""
    from .curves import ranking

    advice, ranks = [], {name: {"pipeline": name} for name in inputs}
    for metric in METRICS:
        ranked = ranking(scenario_coefficients(inputs, metric), q)
        (best, v0), (second, v1) = ranked[0], ranked[1]
        advice.append({"metric": metric, "best": best, "cost": v0, "unit": METRIC_UNITS[metric],
                       "runner_up": second, "runner_up_cost": v1,
                       "runner_up_over_best_pct": 100 * (v1 - v0) / v0 if v0 > 0 else math.inf})
        column = f"{metric}_{METRIC_COLUMN_UNITS[metric]}"
        for i, (p, v) in enumerate(ranked):
            ranks[p].update({column: v, f"{metric}_rank": i + 1})
    return advice, sorted(ranks.values(), key=lambda r: r[f"{METRICS[0]}_rank"])


def inputs_frame(inputs: dict):
    """The inputs each pipeline's cost rests on [s, byte, bit/s], one row per pipeline."""
    import pandas as pd

    rows = []
    for name, x in inputs.items():
        d = dataclasses.asdict(x)
        d.pop("powers", None)
        rows.append({"pipeline": name, **d})
    return pd.DataFrame(rows)


def advice_result(q: int, scenario: str, link, note: str | None, radio_preset: str, inputs: dict,
                  source: str) -> dict:
    """Best pipeline by latency, energy and data for ``q`` requests, with the margin to the runner-up,
    the full ranking and the inputs the answer rests on."""
    import pandas as pd

    advice, ranks = advice_rows(inputs, q)
    out = {"advice": pd.DataFrame(advice), "q": q, "scenario": scenario, "source": source}
    if note:
        out["warning"] = note
    out.update({"ranking": pd.DataFrame(ranks), "inputs": inputs_frame(inputs),
                "radio": radio_summary(link, radio_preset)})
    return out


def check_scenario(scenario: str) -> None:
    if scenario not in SCENARIOS:
        raise ValueError(f"--scenario must be one of {SCENARIOS}, got {scenario!r}")


# ---- parsing --------------------------------------------------------------------------------

def add_format(p, choices=FORMATS):
    p.add_argument("--format", choices=choices, default="text", help="output format (default: text)")


def add_radio(p):
    p.add_argument("--radio", dest="radio_preset", choices=sorted(radio.PRESETS), default="paper",
                   help="radio preset for the link rates (default: paper)")
    p.add_argument("--distance", type=float, default=None,
                   help="distance device-base station [m], 10 m to 5 km (default: the preset's: "
                        + ", ".join(f"{n} {radio.get_link(n).distance:g} m" for n in sorted(radio.PRESETS)) + ")")
    p.add_argument("--allow-distance-outside-model", dest="allow_distance", action="store_true",
                   help="extrapolate the UMi path loss beyond 10 m-5 km; the output says so (default: refuse)")


def add_pruning_factor(p):
    p.add_argument("--pruning-factor", type=float, default=0.7,
                   help="pruning factor of the pruned pipelines, a fraction (default: 0.7)")


def add_paper_parser(sub):
    p = sub.add_parser("paper", help="the study's own figures through the model")
    add_format(p)
    add_radio(p)
    p.add_argument("--q", nargs="+", default=None, help="also give curve points at these Q (default: none)")
    p.add_argument("--published-swap", action="store_true",
                   help="use the study's D-FT,D-Inf energy formula with P_inf/P_ft swapped (default: off)")
    return p


def add_advise_parser(sub):
    """``advise``'s own options (--q, --scenario); each command line adds the rest."""
    p = sub.add_parser("advise", help="best pipeline for Q requests, an edge load and a distance")
    p.add_argument("--q", required=True, nargs="+", action="extend",
                   help=f"number of requests per model, a whole number from 1 to {MAX_Q:,}; several only for "
                        "continuum-bench advise --rank (required)")
    p.add_argument("--scenario", choices=SCENARIOS, default="idle", help="edge load (default: idle)")
    return p


def _paper(a) -> dict:
    return paper_result(q=a.q, radio_preset=a.radio_preset, distance=a.distance, allow_distance=a.allow_distance,
                        published_swap=a.published_swap, format=a.format)


def _advise(a) -> dict:
    check_format(a.format)
    q = one_q(a.q)
    check_scenario(a.scenario)
    link, note = radio_link(a.radio_preset, a.distance, a.allow_distance)
    inputs, source = study_inputs(a.scenario, link, a.pruning_factor)
    return advice_result(q, a.scenario, link, note, a.radio_preset, inputs, source)


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="The study's cost model: paper (its own figures) and advise (the best pipeline), "
                               "on the study's figures; advice from measured results is continuum-bench advise "
                               "--results.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{paper,advise}")
    add_paper_parser(sub).set_defaults(_run=_paper)
    advise = add_advise_parser(sub)
    add_format(advise)
    add_radio(advise)
    add_pruning_factor(advise)
    advise.set_defaults(_run=_advise)
    return parser


def add_version(parser) -> None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("continuum-bench")
    except PackageNotFoundError:
        v = "unknown (not installed)"
    parser.add_argument("--version", action="version", version=f"%(prog)s {v}")


def emit(lines, error: str | None = None, warnings=()) -> None:
    """Print a command's lines (stdout) and its warnings and error (stderr), control characters escaped."""
    for w in warnings:
        print(printable(f"warning: {w}"), file=sys.stderr)
    if lines:
        sys.stdout.write("\n".join(printable(line) for line in lines) + "\n")
    if error:
        print(printable(f"error: {error}"), file=sys.stderr)


def main(argv=None) -> int:
    """Parse, compute, print; returns the exit status (0 done, 2 bad input, the error on stderr)."""
    parser = build_parser()
    add_version(parser)
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    try:
        lines = render(args._run(args), args.format)
    except ValueError as exc:
        emit((), str(exc))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        emit((), "interrupted")
        return EXIT_INTERRUPTED
    emit(lines)
    return EXIT_OK
