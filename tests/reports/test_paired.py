"""The paired gate's verdicts (reports/paired.py) on synthetic blocks.

A/A under strong drift gives no alarm, a +5 % shift does, too few quads or too much
noise gives no verdict (exit 2), never a pass (the interval itself: tests/reports/test_stats.py).
"""
import math

import numpy as np
import pytest

from harness.contract import QUAD_ORDERS
from reports import paired as P
from reports.cli import main

CONFIG = P.PairedConfig()


def drifting_quads(n, ratio, *, noise=0.01, seed=0, per_call_s=1e-3):
    """Quads ABBA/BAAB on a host whose speed drifts by +-20 % (a ramp, a step and a wave) while
    B is ``ratio`` times A; each block with lognormal noise of SD ``noise``."""
    rng = np.random.default_rng(seed)
    quads = []
    k = 0
    for q in range(n):
        times = {"A": [], "B": []}
        for side in QUAD_ORDERS[q % 2]:
            drift = 1 + 0.2 * k / (4 * n) + (0.15 if k > 2 * n else 0) + 0.05 * math.sin(k / 7)
            base = per_call_s * drift * (ratio if side == "B" else 1.0)
            times[side].append(base * math.exp(rng.normal(0, noise)))
            k += 1
        quads.append((tuple(times["A"]), tuple(times["B"])))
    return quads


@pytest.mark.parametrize("seed", range(20))
def test_a_a_under_drift_no_alarm(seed):
    v = P.judge_case("full-keras", "inference", drifting_quads(30, 1.0, seed=seed), CONFIG)
    assert v.verdict == "ok", v
    assert v.half_width < 0.02


@pytest.mark.parametrize("seed", range(20))
def test_five_percent_slower_is_a_regression(seed):
    v = P.judge_case("full-keras", "inference", drifting_quads(30, 1.05, seed=seed), CONFIG)
    assert v.verdict == "regression" and v.mark == "+", v
    assert v.lo > CONFIG.factor and v.ratio == pytest.approx(1.05, abs=0.01)
    assert P.outcome([v]) == "regression"


def test_improvement_and_not_significant():
    assert P.judge_case("x", "inference", drifting_quads(30, 0.9), CONFIG).verdict == "improvement"
    near = P.judge_case("x", "inference", drifting_quads(30, CONFIG.factor, noise=0.003), CONFIG)
    assert near.verdict == "not significant" and near.mark == "~"
    assert P.outcome([near]) == "ok"


def test_too_few_quads_is_no_verdict_with_the_remedy():
    v = P.judge_case("full-litert", "inference", drifting_quads(CONFIG.min_pairs - 1, 1.0), CONFIG)
    assert v.verdict == "not enough blocks" and v.mark == "?"
    assert "--pairs" in v.remedy and f"min_pairs={CONFIG.min_pairs}" in v.remedy
    assert P.outcome([v]) == "no verdict"


def test_too_much_noise_is_no_verdict_never_a_pass():
    v = P.judge_case("full-litert", "inference", drifting_quads(12, 1.0, noise=0.15), CONFIG)
    assert v.verdict == "no verdict" and v.half_width > CONFIG.factor - 1
    needed = int(v.remedy.split("--pairs ")[1].split()[0])
    assert needed > 12
    assert P.outcome([P.judge_case("a", "inference", drifting_quads(30, 1.0), CONFIG), v]) == "no verdict"


def test_every_verdict_prints_its_smallest_visible_change():
    verdicts = [P.judge_case(c, "inference", drifting_quads(30, r, seed=i), CONFIG)
                for i, (c, r) in enumerate([("full-keras", 1.0), ("full-litert", 1.05)])]
    lines = P.format_verdicts(verdicts)
    for v in verdicts:
        (row,) = [line for line in lines if v.name in line]
        assert f"+/-{v.half_width:.1%}" in row and v.verdict in row
    assert lines[-1].startswith("REGRESSION")


def test_cli_fewer_quads_than_the_minimum_exits_2_with_the_remedy(capsys):
    assert main(["gate", "--profile", "device", "--against", "HEAD", "--pairs", "3"]) == 2
    err = capsys.readouterr().err
    assert "pairs must be an integer >= min_pairs" in err and "raise --pairs" in err


def test_cli_against_refuses_history_options(capsys):
    assert main(["gate", "--profile", "device", "--against", "HEAD", "--storage", "x"]) == 2
    assert "takes no --current, --aa or --storage" in capsys.readouterr().err


def test_an_unknown_clock_is_named():
    with pytest.raises(ValueError, match=r"paired clock must be one of \('wall', 'cpu'\), got 'tsc'"):
        P.PairedConfig(clock="tsc")


def test_a_wide_interval_above_the_factor_is_no_verdict_not_a_regression():
    v = P.judge_case("full-keras", "inference", drifting_quads(12, 1.10, noise=0.15, seed=2), CONFIG)
    assert v.lo > CONFIG.factor and v.half_width > CONFIG.factor - 1
    assert v.verdict == "no verdict" and P.outcome([v]) == "no verdict"


def test_an_estimate_beyond_the_factor_is_no_regression_while_the_interval_reaches_below_it():
    """The verdict is on the whole interval: quads whose Hodges-Lehmann estimate lies beyond the factor
    but whose interval's lower end does not are 'not significant', never a regression."""
    n = 30
    logs = [math.log(1.021) + 0.02 * (i / (n - 1) - 0.5) for i in range(n)]  # evenly spread around +2.1 %
    quads = []
    for q, d in enumerate(logs):
        t = 1e-3 * (1 + 0.1 * q / n)  # a drifting host: the same for both sides of a quad
        quads.append(((t, t), (t * math.exp(d), t * math.exp(d))))
    walsh = [(logs[i] + logs[j]) / 2 for i in range(n) for j in range(i, n)]
    assert math.exp(float(np.median(walsh))) > CONFIG.factor  # the estimate, computed here: beyond the factor
    v = P.judge_case("full-keras", "inference", quads, CONFIG)
    assert v.ratio == pytest.approx(math.exp(float(np.median(walsh))))
    assert v.lo < CONFIG.factor < v.ratio and v.half_width < CONFIG.factor - 1  # narrow, straddling the factor
    assert v.verdict == "not significant" and v.mark == "~"
    assert P.outcome([v]) == "ok"


def process_quads(j, k, ratio, *, process_sd, seed, noise=0.01):
    """``j`` pairs of processes of ``k`` drifting quads each, pair ``i``'s B differing from its A by a
    lognormal factor of SD ``process_sd`` for the pair's whole life; returns (quads, each quad's pair)."""
    rng = np.random.default_rng(seed)
    quads, process = [], []
    for i in range(j):
        quads += drifting_quads(k, ratio * math.exp(rng.normal(0, process_sd)), noise=noise, seed=seed * 1000 + i)
        process += [i] * k
    return quads, process


def test_a_a_with_per_process_differences_is_no_alarm_where_quads_as_units_alarm():
    """Pairs of processes differing by SD 2.5 % (Keras A/A on this host): 10 pairs judged over the pairs
    alarm in at most the interval's one-sided 2.5 %; one pair's 60 quads taken as independent units (the
    gate before) alarm whenever that pair's difference exceeds the factor, about one run in six."""
    runs, alarms, alarms_one_pair = 200, 0, 0
    for seed in range(runs):
        quads, process = process_quads(10, 6, 1.0, process_sd=0.025, seed=seed)
        alarms += P.judge_case("full-keras", "inference", quads, CONFIG, process).verdict == "regression"
        one_pair, _ = process_quads(1, 60, 1.0, process_sd=0.025, seed=seed)
        alarms_one_pair += P.judge_case("full-keras", "inference", one_pair, CONFIG).verdict == "regression"
    assert alarms / runs <= 0.03
    assert alarms_one_pair / runs > 0.08


def test_five_percent_is_caught_over_pairs_that_differ_a_little():
    caught = []
    for seed in range(50):
        quads, process = process_quads(10, 6, 1.05, process_sd=0.005, seed=seed)
        caught.append(P.judge_case("full-litert", "inference", quads, CONFIG, process).verdict == "regression")
    assert sum(caught) >= 48


def test_pairs_that_disagree_give_no_verdict_and_the_remedy_names_more_pairs():
    quads, process = process_quads(10, 6, 1.0, process_sd=0.06, seed=3)
    v = P.judge_case("full-keras", "inference", quads, CONFIG, process)
    assert v.verdict == "no verdict" and v.processes == 10 and v.process_sd > 0.03
    needed = int(v.remedy.split("--processes ")[1].split()[0])
    assert needed > 10 and f"--pairs {needed * 6}" in v.remedy
    row = next(line for line in P.format_verdicts([v]) if "full-keras" in line)
    assert "60 in 10" in row and f"{v.process_sd:.1%}" in row


def test_one_pair_of_processes_is_not_enough():
    quads = drifting_quads(30, 1.0)
    v = P.judge_case("full-keras", "inference", quads, CONFIG, [0] * 30)
    assert v.verdict == "not enough blocks" and "--processes" in v.remedy
    with pytest.raises(ValueError, match="paired processes must be an integer from 2 to pairs"):
        P.PairedConfig(processes=1)
    with pytest.raises(ValueError, match=r"paired processes .* got 61"):
        P.PairedConfig(pairs=60, processes=61)
