"""compare: A/A gives no alarm, a 20 % slowdown does, too few rounds gives no verdict."""
import json

import pytest

from reports import cli
from reports import compare as C
from reports.cli import main
from reports.storage import parse_run

from . import benchjson as B
from . import conftest_data as D


def _run(doc, name="run"):
    return parse_run(doc, name)


def _rows(comparison, operation):
    return [r for r in comparison.rows if r.operation == operation]


# ---- A/A ----------------------------------------------------------------------------------

def test_same_results_against_themselves_no_alarm():
    doc = D.honest_run(1)
    cmp = C.compare_runs(_run(doc, "a"), _run(doc, "b"))
    assert not cmp.failed
    assert {r.mark for r in cmp.rows} == {C.MARK_SAME}
    assert all(r.ratio == 1.0 and r.p_value == 1.0 for r in cmp.rows)


@pytest.mark.parametrize("seed", range(5))
def test_two_honest_runs_no_alarm(seed):
    a, b = D.honest_run(100 + seed), D.honest_run(200 + seed)
    cmp = C.compare_runs(_run(a), _run(b))
    assert not cmp.failed, C.format_text(cmp)
    assert all(r.mark in (C.MARK_SAME, C.MARK_NOT_SIGNIFICANT) for r in cmp.rows)


# ---- slowdowns ------------------------------------------------------------------------------

def test_inference_20_percent_slower_alarms():
    doc = D.honest_run(3)
    cmp = C.compare_runs(_run(doc), _run(D.scaled(doc, "inference", 1.2)))
    assert cmp.failed and cmp.outcome == "regression"
    inf = _rows(cmp, "inference")
    assert inf and all(r.mark == C.MARK_SLOWER and r.verdict == "regression" for r in inf)
    assert all(r.ratio == pytest.approx(1.2) and r.p_value < 0.05 for r in inf)
    assert all(r.mark == C.MARK_SAME for r in _rows(cmp, "serialization"))
    text = "\n".join(C.format_text(cmp))
    assert "FAILED" in text and "+ " in text


def test_faster_is_marked_but_passes():
    doc = D.honest_run(4)
    cmp = C.compare_runs(_run(doc), _run(D.scaled(doc, "inference", 0.7)))
    assert not cmp.failed
    assert all(r.mark == C.MARK_FASTER for r in _rows(cmp, "inference"))


def test_slowdown_within_factor_passes_but_per_operation_factor_catches_it():
    doc = D.honest_run(5, cv=0.01)
    slow = D.scaled(doc, "inference", 1.07)
    assert not C.compare_runs(_run(doc), _run(slow)).failed
    strict = C.GateConfig(factors={"inference": 1.05})
    assert C.compare_runs(_run(doc), _run(slow), strict).failed


def test_beyond_factor_but_not_significant_is_tilde():
    a = D.honest_run(6, rounds=6, cv=0.6)
    b = D.honest_run(7, rounds=6, cv=0.6, slowdown={"inference": 1.15})
    cmp = C.compare_runs(_run(a), _run(b), C.GateConfig(alpha=1e-6))
    assert not cmp.failed
    assert C.MARK_NOT_SIGNIFICANT in {r.mark for r in cmp.rows}


# ---- no verdict ----------------------------------------------------------------------------

def test_too_few_rounds_gives_no_verdict():
    doc = D.with_rounds(D.honest_run(8), 4)
    cmp = C.compare_runs(_run(doc), _run(D.scaled(doc, "inference", 2.0)))
    assert not cmp.failed
    assert {r.verdict for r in cmp.rows} == {"not enough data"}
    assert all(r.mark == C.MARK_NO_DATA and r.ratio is not None for r in cmp.rows)


def test_no_raw_data_gives_no_verdict():
    doc = D.honest_run(9)
    for b in doc["benchmarks"]:
        del b["stats"]["data"]
    cmp = C.compare_runs(_run(doc), _run(D.scaled(D.honest_run(9), "inference", 2.0)))
    assert {r.verdict for r in cmp.rows} == {"not enough data"}


def test_mismatched_profiles_refused_unless_allowed():
    a, b = D.honest_run(10, profile="edge-idle"), D.honest_run(11, profile="edge-loaded")
    with pytest.raises(C.MismatchError, match="profile 'edge-idle' in A vs 'edge-loaded' in B"):
        C.compare_runs(_run(a), _run(b))
    cmp = C.compare_runs(_run(a), _run(b), allow_mismatch=True)
    assert not cmp.failed and {r.verdict for r in cmp.rows} == {"no verdict"}
    assert all(r.ratio is not None for r in cmp.rows)


def test_mismatched_presets_refused():
    with pytest.raises(C.MismatchError, match="preset"):
        C.compare_runs(_run(D.honest_run(1, preset="tiny")), _run(D.honest_run(1, preset="quick")))


def test_benchmarks_in_one_run_only_are_listed():
    a = D.honest_run(12)
    b = B.edit(a, lambda d: d["benchmarks"].pop(0))
    cmp = C.compare_runs(_run(a), _run(b))
    assert [r.verdict for r in cmp.rows].count("only in A") == 1


# ---- configuration ---------------------------------------------------------------------------

@pytest.mark.parametrize("kw, match", [({"factor": 0.9}, "factor must be a number > 1"),
                                       ({"alpha": 1.5}, "alpha must be in"),
                                       ({"min_rounds": 1}, "min_rounds"),
                                       ({"factors": {"inference": 1.0}}, "factors.inference"),
                                       ({"min_baseline_runs": 1}, "one run cannot show"),
                                       ({"baseline_runs": 2}, "baseline_runs must be an integer >= min_baseline_runs")])
def test_gate_config_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        C.GateConfig(**kw)


# ---- the command -------------------------------------------------------------------------

def test_run_compare_files_and_json(tmp_path):
    doc = D.honest_run(13)
    a = B.write(tmp_path / "a.json", doc)
    b = B.write(tmp_path / "b.json", D.scaled(doc, "inference", 1.2))
    out = cli.run_compare(str(a), str(b), format="json")
    assert out.exit_code == 1
    parsed = json.loads("\n".join(out.lines))
    assert parsed["failed"] and any(r["mark"] == "+" for r in parsed["rows"])


def test_history_ids_with_storage(tmp_path):
    doc = D.honest_run(14)
    D.save_history(tmp_path / "hist", [doc, doc])
    out = cli.run_compare("0001", "0002", storage=str(tmp_path / "hist"))
    assert out.exit_code == 0, out.error
    missing = cli.run_compare("0001", "0009", storage=str(tmp_path / "hist"))
    assert missing.exit_code == 2 and "history entry 0009 not found" in missing.error
    no_storage = cli.run_compare("0001", "0002")
    assert no_storage.exit_code == 2 and "--storage" in no_storage.error


@pytest.mark.parametrize("content, match", [("{not json", "malformed or truncated JSON"),
                                            ('{"benchmarks": []}', "holds no benchmarks"),
                                            ('{"x": 1}', "not a pytest-benchmark")])
def test_bad_files_are_clear_errors(tmp_path, content, match):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    good = B.write(tmp_path / "good.json", D.honest_run(1))
    out = cli.run_compare(str(good), str(bad))
    assert out.exit_code == 2 and match in out.error and "bad.json" in out.error


def test_cli_compare_exit_codes(tmp_path, capsys):
    doc = D.honest_run(15)
    a = B.write(tmp_path / "a.json", doc)
    b = B.write(tmp_path / "b.json", D.scaled(doc, "inference", 1.2))
    other = B.write(tmp_path / "o.json", D.honest_run(16, profile="edge-loaded"))
    assert main(["compare", str(a), str(a)]) == 0
    assert main(["compare", str(a), str(b)]) == 1
    assert main(["compare", str(a), str(other)]) == 2
    assert "--allow-mismatch" in capsys.readouterr().err
    assert main(["compare", str(a), str(other), "--allow-mismatch"]) == 3  # nothing judged: no verdict
    assert "no verdict" in capsys.readouterr().out


def test_nothing_judged_is_no_verdict_and_exits_3(tmp_path):
    doc = D.with_rounds(D.honest_run(17), 3)
    a, b = B.write(tmp_path / "a.json", doc), B.write(tmp_path / "b.json", D.honest_run(18))
    out = cli.run_compare(str(a), str(b))
    assert out.exit_code == 3 and out.lines[-1].startswith("no verdict: no benchmark had 5 raw rounds")
    assert not any(line.startswith("OK") for line in out.lines)


def test_same_run_gets_a_note(tmp_path):
    doc = D.honest_run(19)
    a = B.write(tmp_path / "a.json", doc)
    copy = B.write(tmp_path / "copy.json", doc)
    other = B.write(tmp_path / "b.json", B.edit(doc, lambda d: d.update(datetime="2026-11-28T09:00:00+00:00")))
    assert any(line.startswith("note: A and B are the same file") for line in cli.run_compare(str(a), str(a)).lines)
    assert any(line.startswith("note: A and B are the same session (datetime 2026-11-27T08:10")
               for line in cli.run_compare(str(a), str(copy)).lines)
    assert not any(line.startswith("note:") for line in cli.run_compare(str(a), str(other)).lines)


def test_invalid_load_refused_unless_allowed_and_unenforced_flagged(tmp_path):
    def dead(d):
        d["machine_info"]["continuum"]["load"] = {"workers": 2, "valid": False, "state": "stopped",
                                                  "died": [{"index": 1, "pid": 5, "returncode": -9}]}

    doc = D.honest_run(20)
    a = B.write(tmp_path / "a.json", doc)
    b = B.write(tmp_path / "b.json", B.edit(doc, dead))
    out = cli.run_compare(str(a), str(b))
    assert out.exit_code == 2 and "b.json: not a valid run: machine_info.continuum.load.valid: false" in out.error
    shown = cli.run_compare(str(a), str(b), allow_invalid=True)
    assert "WARNING B: INVALID machine_info.continuum.load.valid: false (died: worker 1 pid 5 exit -9" in shown.lines[2]
    loose = B.edit(doc, lambda d: d["machine_info"]["continuum"]["profile"].update(
        enforced={"cpu_quota": {"requested": True, "enforced": False, "reason": "no cgroup"}}))
    c = B.write(tmp_path / "c.json", loose)
    flagged = cli.run_compare(str(a), str(c))
    assert flagged.exit_code == 0 and any(
        "WARNING B: limit not enforced, machine_info.continuum.profile.enforced.cpu_quota.enforced: false (no cgroup)"
        in line for line in flagged.lines)


def test_compare_says_when_the_two_cpus_differ_in_int8_features(tmp_path):
    from reports.compare import compare_runs, format_text
    from reports.storage import load_run

    a = B.profile_doc("edge-idle")
    b = B.edit(a, lambda d: d["machine_info"]["continuum"]["isa_features"].update(avx512_vnni=True))
    runs = [load_run(B.write(tmp_path / f"{n}.json", d)) for n, d in (("a", a), ("b", b))]
    notes = [line for line in format_text(compare_runs(*runs)) if "int8 features" in line]
    assert notes == ["note: these runs' CPUs differ in int8 features (A: avx512_vnni no; B: avx512_vnni yes): their "
                     "int8 times differ for that reason too, not only by the profile's limits and load"]
    assert not any("int8 features" in line for line in format_text(compare_runs(runs[0], runs[0])))
