"""The gate, compare and the storage on counted runs (tox -e counts): the count rule of reports.countrule."""

import pytest

from reports import gate as G
from reports.cli import main
from reports.compare import compare_runs
from reports.countrule import CountRule, judge_count
from reports.model import COUNTS_PROFILE, ResultsError
from reports.storage import list_entries, load_run

from . import benchjson as B
from . import conftest_data as D

INF = "test_count_inference[full-litert]"
RSA = "test_count_encrypt_pure_rsa"
SER = "test_count_serialize_tflite[full-tflite]"


def _counts(**change):
    """INSTRUCTIONS with the named cases multiplied: _counts(inf=1.01)."""
    keys = {"inf": INF, "rsa": RSA, "ser": SER}
    return {name: value * next((f for k, f in change.items() if keys[k] == name), 1.0)
            for name, value in B.INSTRUCTIONS.items()}


def _history(tmp_path, docs):
    storage = tmp_path / "history"
    D.save_history(storage / COUNTS_PROFILE / "vm", docs)
    return storage


def _gate(tmp_path, storage, doc, *extra):
    current = B.write(tmp_path / "current.json", doc)
    return main(["gate", "--profile", "counts", "--storage", str(storage), "--current", str(current), *extra])


# ---- the rule -------------------------------------------------------------------------------

@pytest.mark.parametrize(("current", "mark"), [(1_010_000, " "), (1_010_001, "+"), (1_020_000, "+"),
                                               (990_000, " "), (989_999, "-"), (1_000_000, " ")])
def test_the_rule_at_one_percent_either_way(current, mark):
    verdict = judge_count("inference", [1_000_000], current, CountRule(threshold=0.01))
    assert verdict.mark == mark and verdict.ratio == pytest.approx(current / 1_000_000)


def test_the_default_threshold_catches_a_one_percent_change_and_not_identical_run_noise():
    rule = CountRule()  # 0.5 %: identical runs here agree to 0.06 % (docs/counts.md)
    assert judge_count("inference", [1_000_000, 1_000_600], 1_010_000, rule).mark == "+"
    assert judge_count("inference", [1_000_000, 1_000_600], 1_000_300, rule).mark == " "


def test_the_baseline_is_the_median_and_thresholds_go_per_operation():
    assert judge_count("inference", [1_000_000, 1_000_001, 1_000_003], 1_015_000, CountRule()).ratio == \
        pytest.approx(1_015_000 / 1_000_001)
    rule = CountRule(threshold=0.01, thresholds={"decryption": 0.05})
    assert judge_count("decryption", [100.0], 103.0, rule).mark == " "
    assert judge_count("encryption", [100.0], 103.0, rule).mark == "+"


def test_a_baseline_spread_over_half_the_threshold_gives_no_verdict_instead_of_an_alarm():
    verdict = judge_count("inference", [1_000_000, 1_003_000], 1_050_000, CountRule(threshold=0.005))
    assert verdict.mark == "?" and "not deterministic enough" in verdict.reason
    assert judge_count("inference", [1_000_000, 1_002_400], 1_050_000, CountRule(threshold=0.005)).mark == "+"


def test_too_few_baseline_runs_or_no_current_count_give_no_verdict():
    assert judge_count("inference", [100.0], 200.0, CountRule(min_baseline_runs=2)).mark == "?"
    assert judge_count("inference", [], 200.0, CountRule()).mark == "?"
    assert judge_count("inference", [100.0], None, CountRule()).mark == "?"


@pytest.mark.parametrize(("kwargs", "message"), [({"threshold": 0}, "threshold must be a number in"),
                                                 ({"threshold": 1.0}, "threshold must"),
                                                 ({"thresholds": {"inference": -0.01}}, "thresholds.inference"),
                                                 ({"min_baseline_runs": 0}, "min_baseline_runs")])
def test_bad_rules_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CountRule(**kwargs)


# ---- the storage -------------------------------------------------------------------------------

def test_a_counted_run_is_of_the_counts_profile_and_lists_in_its_history(tmp_path):
    storage = _history(tmp_path, [B.counts_doc(), B.counts_doc()])
    entries = list_entries(storage, profile=COUNTS_PROFILE)
    assert [e.profile for e in entries] == ["counts", "counts"] and entries[0].run.counted
    assert entries[0].run.by_key[f"benchmarks/test_counts.py::{INF}"].instructions == B.INSTRUCTIONS[INF]


def test_the_store_refuses_a_counted_run_without_counts_and_a_bad_count(tmp_path):
    doc = B.counts_doc()
    del doc["benchmarks"][1]["extra_info"]["instructions"]
    with pytest.raises(ResultsError, match=f"counted run.*{RSA}.*no extra_info.instructions"):
        load_run(B.write(tmp_path / "a.json", doc))
    doc = B.edit(B.counts_doc(), lambda d: d["benchmarks"][0]["extra_info"].update(instructions="many"))
    with pytest.raises(ResultsError, match=r"test_count_inference.*extra_info.instructions' must be a number > 0"):
        load_run(B.write(tmp_path / "b.json", doc))
    doc = B.edit(B.counts_doc(), lambda d: d["machine_info"].update(counts="callgrind"))
    with pytest.raises(ResultsError, match="machine_info.counts' must be"):
        load_run(B.write(tmp_path / "c.json", doc))


def test_a_timed_run_is_still_validated_as_before(tmp_path):
    doc = B.edit(B.profile_doc("device"), lambda d: d["machine_info"].pop("continuum"))
    with pytest.raises(ResultsError, match="machine_info.continuum' missing"):
        load_run(B.write(tmp_path / "a.json", doc))


# ---- the gate ---------------------------------------------------------------------------------

def test_the_gate_judges_counted_cases_on_counts_and_says_so(tmp_path, capsys):
    storage = _history(tmp_path, [B.counts_doc(_counts(inf=1 + k * 1e-4)) for k in range(3)])
    assert _gate(tmp_path, storage, B.counts_doc(_counts(inf=1.01))) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if INF in line)
    assert row.startswith("+") and "instructions" in row and "regression" in row and "3,989," in row
    assert "within threshold" in next(line for line in out.splitlines() if RSA in line)
    assert "FAILED: 1 slowdown" in out


def test_unchanged_counts_pass_even_with_times_twice_as_long(tmp_path, capsys):
    storage = _history(tmp_path, [B.counts_doc(), B.counts_doc()])
    slow = B.counts_doc()
    for b in slow["benchmarks"]:
        b["stats"] = B.stats(b["stats"]["mean"] * 2, rounds=1)
    assert _gate(tmp_path, storage, slow) == 0
    assert "OK" in capsys.readouterr().out


def test_gate_json_names_the_metric_of_each_row(tmp_path, capsys):
    storage = _history(tmp_path, [B.counts_doc()])
    assert _gate(tmp_path, storage, B.counts_doc(_counts(rsa=0.98)), "--format", "json") == 0
    import json

    rows = {r["name"].rsplit("::")[-1]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    assert {r["metric"] for r in rows.values()} == {"instructions"}
    assert rows[RSA]["verdict"] == "improvement" and rows[RSA]["ratio"] == pytest.approx(0.98)


def test_timed_rows_say_time(tmp_path, capsys):
    storage = tmp_path / "history"
    D.save_history(storage / "edge-idle", [B.profile_doc("edge-idle") for _ in range(3)])
    current = B.write(tmp_path / "current.json", B.profile_doc("edge-idle"))
    main(["gate", "--profile", "edge-idle", "--storage", str(storage), "--current", str(current)])
    rows = [line for line in capsys.readouterr().out.splitlines() if "test_inference[full-litert]" in line]
    assert rows and " time " in rows[0]


def test_an_injected_run_is_never_a_baseline(tmp_path, capsys):
    storage = _history(tmp_path, [B.counts_doc(), B.counts_doc(_counts(inf=1.02), injected={"inference": 0.02})])
    assert _gate(tmp_path, storage, B.counts_doc(_counts(inf=1.02), injected={"inference": 0.02})) == 1
    out = capsys.readouterr().out
    assert "0002" in out and "injected slowdown (machine_info.injected_slowdown: inference=0.02): never a baseline" in out
    assert "baseline: 1 run(s) 0001" in out


def test_only_injected_runs_give_no_baseline(tmp_path, capsys):
    storage = _history(tmp_path, [B.counts_doc(injected={"serialization": 0.01})])
    assert _gate(tmp_path, storage, B.counts_doc()) == 3
    assert "injected slowdown" in capsys.readouterr().err


def test_a_noisy_baseline_count_is_no_verdict_not_an_alarm(tmp_path, capsys):
    storage = _history(tmp_path, [B.counts_doc(_counts(ser=1.0)), B.counts_doc(_counts(ser=1.004))])
    assert _gate(tmp_path, storage, B.counts_doc(_counts(ser=1.03))) == 0
    out = capsys.readouterr().out
    assert "no verdict" in next(line for line in out.splitlines() if SER in line and line.startswith("?"))
    assert "not deterministic enough" in out


def test_aa_on_counts_each_run_against_the_others_and_a_scaled_count_is_caught(tmp_path, capsys):
    storage = _history(tmp_path, [B.counts_doc(_counts(inf=1 + k * 1e-4)) for k in range(5)])
    assert main(["gate", "--profile", "counts", "--storage", str(storage), "--aa"]) == 0
    out = capsys.readouterr().out
    assert "every 4 of the others (5 trials)" in out and "false alarms: 0 of 5" in out
    assert main(["gate", "--profile", "counts", "--storage", str(storage), "--aa", "--slowdown", "inference=1.01"]) == 0
    assert "the gate failed 5 of 5" in capsys.readouterr().out


# ---- compare ----------------------------------------------------------------------------------

def test_compare_of_two_counted_runs_shows_counts_beside_times_and_judges_counts(tmp_path, capsys):
    a = B.write(tmp_path / "a.json", B.counts_doc())
    b = B.write(tmp_path / "b.json", B.counts_doc(_counts(inf=1.02, rsa=1.001)))
    assert main(["compare", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "Ir A" in out and "median A" in out
    inf = next(line for line in out.splitlines() if INF in line)
    assert inf.startswith("+") and "3,949,690 Ir" in inf and "1.02000" in inf and "regression" in inf
    assert "no change" in next(line for line in out.splitlines() if RSA in line)
    comparison = compare_runs(load_run(a), load_run(b))
    assert {r.metric for r in comparison.rows} == {"instructions"} and len(comparison.judged) == 3


def test_the_run_tox_counts_just_saved_is_not_its_own_baseline(tmp_path, capsys):
    # tox -e counts writes results/counts.json and saves the same run into the history
    doc = B.counts_doc(_counts(inf=1.02), datetime="2026-12-02T02:00:00.000000+00:00")
    storage = _history(tmp_path, [B.counts_doc(), doc])
    assert _gate(tmp_path, storage, doc) == 1
    out = capsys.readouterr().out
    assert "baseline: 1 run(s) 0001" in out and "the same session" in out


def test_aa_leaves_injected_runs_out(tmp_path, capsys):
    docs = [B.counts_doc() for _ in range(3)] + [B.counts_doc(_counts(inf=1.02), injected={"inference": 0.02})]
    storage = _history(tmp_path, docs)
    assert main(["gate", "--profile", "counts", "--storage", str(storage), "--aa"]) == 0
    assert "3 saved runs" in capsys.readouterr().out


def test_the_report_loader_names_a_counted_run_instead_of_calling_it_profile_less(tmp_path):
    from reports.storage import load_results

    with pytest.raises(ResultsError, match="a counted run .*continuum-bench gate --profile counts"):
        load_results(B.write(tmp_path / "counts.json", B.counts_doc()))
