"""gate: judged against the between-run noise of several baseline runs, not one run's rounds.

A/A (the same results; honest runs whose sessions differ) gives no alarm, inference made
20 % slower does, too few rounds or baseline runs gives no verdict, other profiles and
presets are refused or passed over.
"""
import json

import numpy as np
import pytest

from reports import compare as C
from reports import gate as G
from reports.cli import main, run_gate
from reports.storage import list_entries, parse_run, profile_storage

from . import benchjson as B
from . import conftest_data as D

PROFILE = "edge-idle"


def _history(tmp_path, docs, machine_id=D.MACHINE_ID):
    storage = tmp_path / "results" / "history"
    D.save_history(storage / PROFILE, docs, machine_id=machine_id)
    return storage


def _aa(storage, **kw):
    """The A/A check on the saved runs of ``storage``, loaded as the command line loads them."""
    root = profile_storage(storage, PROFILE)
    return G.aa_check(list_entries(root, profile=PROFILE), PROFILE, where=root, **kw)


def _current(tmp_path, doc, name="current.json"):
    return str(B.write(tmp_path / name, doc))


def _rows(out, verdict):
    return [line for line in out.lines if verdict in line]


def test_same_results_against_themselves_no_alarm(tmp_path):
    doc = D.honest_run(1)
    storage = _history(tmp_path, [doc, doc, doc])
    out = run_gate(PROFILE, str(storage), _current(tmp_path, doc))
    assert out.exit_code == 0, out.error
    assert out.lines[-1].startswith("OK") and not _rows(out, "regression")


@pytest.mark.parametrize("seed", range(10))
def test_honest_sessions_that_differ_give_no_alarm(tmp_path, seed):
    """Five baseline sessions and a sixth, each shifted by its own 8 % (SD): no alarm.

    The pairwise test the gate used to run alarms on most of these (checked below), which
    is what 5 of 5 A/A runs on the CI VM did."""
    docs = [D.honest_run(1000 * seed + i, between_sd=0.08) for i in range(6)]
    storage = _history(tmp_path, docs[:5])
    out = run_gate(PROFILE, str(storage), _current(tmp_path, docs[5]))
    assert out.exit_code == 0, "\n".join(out.lines)


def test_pairwise_test_alarms_where_the_gate_does_not(tmp_path):
    docs = [D.honest_run(50 + i, between_sd=0.08) for i in range(6)]
    pairwise = [C.compare_runs(parse_run(docs[4], "a"), parse_run(d, "b")).failed for d in docs[:4] + docs[5:]]
    assert sum(pairwise) >= 3  # the old gate's rule: one baseline run, rounds against rounds
    storage = _history(tmp_path, docs[:5])
    assert run_gate(PROFILE, str(storage), _current(tmp_path, docs[5])).exit_code == 0


def test_inference_20_percent_slower_alarms(tmp_path):
    storage = _history(tmp_path, [D.honest_run(10 + i, between_sd=0.01) for i in range(5)])
    slow = D.honest_run(20, between_sd=0.01, slowdown={"inference": 1.2})
    out = run_gate(PROFILE, str(storage), _current(tmp_path, slow), format="json")
    assert out.exit_code == 1
    doc = json.loads("\n".join(out.lines))
    flagged = {r["name"] for r in doc["rows"] if r["verdict"] == "regression"}
    inference = {r["name"] for r in doc["rows"] if r["operation"] == "inference"}
    assert flagged == inference and doc["failed"] is True
    assert all(r["limit"] == pytest.approx(1.10) for r in doc["rows"])  # quiet host: the factor decides


def test_limit_follows_the_noise_and_hides_smaller_slowdowns(tmp_path):
    """On a noisy baseline the same 20 % slowdown is within the noise: the limit says so."""
    storage = _history(tmp_path, [D.honest_run(30 + i, between_sd=0.15) for i in range(5)])
    slow = D.honest_run(40, slowdown={"inference": 1.2})
    out = run_gate(PROFILE, str(storage), _current(tmp_path, slow), format="json")
    doc = json.loads("\n".join(out.lines))
    limits = [r["limit"] for r in doc["rows"]]
    assert min(limits) > 1.3 and out.exit_code == 0
    text = run_gate(PROFILE, str(storage), _current(tmp_path, slow))
    assert any("between-run noise" in line for line in text.lines)


def test_faster_is_marked_but_passes(tmp_path):
    storage = _history(tmp_path, [D.honest_run(60 + i, between_sd=0.01) for i in range(3)])
    fast = D.honest_run(64, slowdown={"inference": 0.7})
    out = run_gate(PROFILE, str(storage), _current(tmp_path, fast))
    assert out.exit_code == 0 and _rows(out, "improvement")


def test_too_few_rounds_gives_no_verdict(tmp_path):
    storage = _history(tmp_path, [D.honest_run(70 + i) for i in range(3)])
    short = D.with_rounds(D.honest_run(74, slowdown={"inference": 2.0}), 3)
    out = run_gate(PROFILE, str(storage), _current(tmp_path, short))
    assert out.exit_code == 3  # nothing judged: no verdict
    cases = len(short["benchmarks"])  # every gate case of the profile, none judged
    assert out.lines[-1].startswith("NO VERDICT") and sum(line.startswith("?") for line in out.lines) == cases


def test_too_few_baseline_runs_is_no_verdict(tmp_path):
    storage = _history(tmp_path, [D.honest_run(80), D.honest_run(81)])
    out = run_gate(PROFILE, str(storage), _current(tmp_path, D.honest_run(82)))
    assert out.exit_code == 3
    assert "2 saved run(s)" in out.error and "needs 3" in out.error and "tox -e gate-baseline" in out.error
    assert run_gate(PROFILE, str(storage), _current(tmp_path, D.honest_run(82)),
                      min_baseline_runs=2).exit_code == 0


def test_newest_runs_form_the_baseline(tmp_path):
    old = [D.scaled(D.honest_run(90 + i), "inference", 3.0) for i in range(3)]  # an old, slow era
    storage = _history(tmp_path, old + [D.honest_run(93 + i) for i in range(3)])
    out = run_gate(PROFILE, str(storage), _current(tmp_path, D.honest_run(97)), baseline_runs=3)
    assert out.exit_code == 0 and "0004_0123abc, 0005_0123abc, 0006_0123abc" in out.lines[1]
    # with all six the old era is in the baseline: the noise is huge and nothing can be judged as slower
    wide = run_gate(PROFILE, str(storage), _current(tmp_path, D.honest_run(97)), baseline_runs=6, format="json")
    rows = json.loads("\n".join(wide.lines))["rows"]
    assert min(r["limit"] for r in rows if r["operation"] == "inference") > 2.0


def test_runs_of_another_preset_are_passed_over(tmp_path):
    docs = [D.honest_run(100 + i) for i in range(3)] + [D.honest_run(103, preset="quick")]
    storage = _history(tmp_path, docs)
    out = run_gate(PROFILE, str(storage), _current(tmp_path, D.honest_run(104)))
    assert out.exit_code == 0 and any(line.startswith("passed over: 1 newer run(s) (0004_0123abc: preset quick)")
                                      for line in out.lines)
    quick = run_gate(PROFILE, str(storage), _current(tmp_path, D.honest_run(105, preset="quick")))
    assert quick.exit_code == 3 and "preset 'quick'" in quick.error and "3 newer run(s) not counted: preset tiny" in quick.error


def test_gate_without_baseline_exits_3_no_verdict(tmp_path):
    current = _current(tmp_path, D.honest_run(110))
    out = run_gate(PROFILE, str(tmp_path / "nothing"), current)
    assert out.exit_code == 3 and "no baseline" in out.error
    (tmp_path / "empty" / PROFILE).mkdir(parents=True)
    out = run_gate(PROFILE, str(tmp_path / "empty"), current)
    assert out.exit_code == 3 and "no baseline" in out.error


def test_gate_refuses_other_profile(tmp_path):
    storage = _history(tmp_path, [D.honest_run(120 + i) for i in range(3)])
    out = run_gate(PROFILE, str(storage), _current(tmp_path, D.honest_run(125, profile="device")))
    assert out.exit_code == 2 and "'device', not 'edge-idle'" in out.error


def test_gate_skips_current_when_saved_in_storage(tmp_path):
    storage = tmp_path / "h"
    paths = D.save_history(storage, [D.honest_run(130 + i) for i in range(4)])
    out = run_gate(PROFILE, str(storage), str(paths[-1]))
    assert out.exit_code == 0 and "0001_0123abc, 0002_0123abc, 0003_0123abc" in out.lines[1]
    out = run_gate(PROFILE, str(storage), str(paths[-1]), baseline_runs=3, min_baseline_runs=3)
    assert "0004" not in out.lines[1]


def test_cli_gate_and_the_suites_hostname_layout(tmp_path):
    storage = _history(tmp_path, [D.honest_run(140 + i, between_sd=0.01) for i in range(3)],
                       machine_id=f"ci-host/{D.MACHINE_ID}")
    same = _current(tmp_path, D.honest_run(145, between_sd=0.01))
    slow = _current(tmp_path, D.honest_run(146, slowdown={"inference": 1.3}), "slow.json")
    assert main(["gate", "--profile", PROFILE, "--storage", str(storage), "--current", same]) == 0
    assert main(["gate", "--profile", PROFILE, "--storage", str(storage), "--current", slow]) == 1
    assert main(["gate", "--profile", PROFILE, "--storage", str(storage), "--current", slow,
                 "--min-baseline-runs", "4"]) == 3
    out = run_gate(PROFILE, str(storage), slow)
    assert f"ci-host/{D.MACHINE_ID}" in out.lines[0]


def test_slower_p_is_one_sided():
    rng = np.random.default_rng(0)
    base = 1.0 + 0.02 * rng.standard_normal(60)
    assert G.slower_p(base * 1.1, base) < 1e-6 and G.slower_p(base * 0.9, base) > 0.99
    assert G.slower_p(np.ones(5), np.ones(5)) == 1.0


def test_aa_check_counts_false_alarms_over_saved_runs(tmp_path, capsys):
    honest = [D.honest_run(150 + i, between_sd=0.05) for i in range(5)]
    storage = _history(tmp_path, honest)
    check = _aa(storage)
    assert (check.sessions, check.baseline_size, check.trials) == (5, 3, 20)  # 5 runs x C(4, 3)
    assert check.alarms == 0
    odd = _history(tmp_path / "odd", honest[:4] + [D.scaled(honest[4], "inference", 2.0)])
    check = _aa(odd)
    assert check.alarms >= 4 and all("test_inference" in name for name in check.flagged)
    assert main(["gate", "--profile", PROFILE, "--storage", str(storage), "--aa"]) == 0
    assert "false alarms: 0 of 20" in capsys.readouterr().out


def test_aa_check_needs_one_run_more_than_a_baseline(tmp_path, capsys):
    storage = _history(tmp_path, [D.honest_run(160 + i) for i in range(3)])
    assert main(["gate", "--profile", PROFILE, "--storage", str(storage), "--aa"]) == 3
    assert "needs 4" in capsys.readouterr().err
    assert main(["gate", "--profile", PROFILE, "--storage", str(storage)]) == 2
    assert "--current is required" in capsys.readouterr().err


def test_aa_check_with_a_slowdown_measures_detection(tmp_path, capsys):
    storage = _history(tmp_path, [D.honest_run(170 + i, between_sd=0.02) for i in range(5)])
    caught = _aa(storage, slowdown=("inference", 1.5))
    assert caught.alarms == caught.trials == 20
    assert all("test_inference" in name for name in caught.flagged)
    assert _aa(storage, slowdown=("serialization", 1.0)).alarms == 0
    assert main(["gate", "--profile", PROFILE, "--storage", str(storage), "--aa", "--slowdown", "inference=1.5"]) == 0
    assert "the gate failed 20 of 20" in capsys.readouterr().out
    for bad in ("inference", "inference=x", "=1.2", "inference=-1"):
        assert main(["gate", "--profile", PROFILE, "--storage", str(storage), "--aa", "--slowdown", bad]) == 2
        assert "OPERATION=FACTOR" in capsys.readouterr().err
    assert main(["gate", "--profile", PROFILE, "--storage", str(storage), "--slowdown", "inference=2"]) == 2


def test_main_job_runs_with_other_cases_never_join_the_baseline(tmp_path):
    """The main job autosaves every case into the same storage: those runs are passed over."""
    gated = [D.honest_run(180 + i) for i in range(3)]
    main_job = B.profile_doc(PROFILE)  # the whole grid: prune, finetune, ... as well
    storage = _history(tmp_path, gated + [main_job])
    out = run_gate(PROFILE, str(storage), _current(tmp_path, D.honest_run(184)))
    assert out.exit_code == 0, out.error
    assert "0001_0123abc, 0002_0123abc, 0003_0123abc" in out.lines[1]
    assert any("0004_0123abc: other cases" in line for line in out.lines)


def test_baseline_runs_whose_load_died_are_passed_over_and_a_dead_current_refused(tmp_path):
    def dead(doc):
        doc["machine_info"]["continuum"]["load"] = {"workers": 2, "valid": False, "state": "stopped",
                                                    "died": [{"index": 0, "pid": 9, "returncode": -9}]}
        return doc

    docs = [D.honest_run(190 + i) for i in range(3)] + [dead(D.honest_run(193))]
    storage = _history(tmp_path, docs)
    out = run_gate(PROFILE, str(storage), _current(tmp_path, D.honest_run(194)))
    assert out.exit_code == 0 and any("0004_0123abc: not valid: machine_info.continuum.load.valid: false" in line
                                      for line in out.lines)
    refused = run_gate(PROFILE, str(storage), _current(tmp_path, dead(D.honest_run(195)), "dead.json"))
    assert refused.exit_code == 2 and "dead.json: not a valid run: machine_info.continuum.load.valid" in refused.error


def test_a_truncated_saved_run_is_left_out_with_a_warning_and_the_gate_counts_the_others(tmp_path):
    storage = _history(tmp_path, [D.honest_run(150 + i) for i in range(4)])
    bad = sorted((storage / PROFILE / D.MACHINE_ID).glob("0002_*.json"))[0]
    bad.write_text(bad.read_text()[:300])
    out = run_gate(PROFILE, str(storage), _current(tmp_path, D.honest_run(160)))
    assert out.exit_code == 0, out.error
    assert len(out.warnings) == 1 and str(bad) in out.warnings[0] and "malformed or truncated" in out.warnings[0]
    assert "baseline: 3 run(s)" in "\n".join(out.lines) and bad.name not in "\n".join(out.lines)
