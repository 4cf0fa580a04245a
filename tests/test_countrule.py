"""benchmarks.countrule: the gate's rule for counted cases (instructions per call vs the baseline runs)."""
import json

import pytest

from benchmarks import countrule
from benchmarks.countrule import CountRule, judge_case, judge_run, load_count_rule


def _doc(**counts):
    """A pytest-benchmark JSON document whose cases carry extra_info.instructions (None: a timed case)."""
    return {"benchmarks": [
        {"name": name, "fullname": f"benchmarks/test_counts.py::{name}",
         "extra_info": {"operation": name.split("_")[0]} | ({} if value is None else {"instructions": value})}
        for name, value in counts.items()
    ]}


@pytest.mark.parametrize(
    ("current", "mark"),
    [(1_010_000, " "), (1_010_001, "+"), (1_020_000, "+"), (990_000, " "), (989_999, "-"), (1_000_000, " ")],
)
def test_one_percent_either_way(current, mark):
    verdict = judge_case("c", "inference", [1_000_000], current, CountRule(threshold=0.01))
    assert verdict.mark == mark
    assert verdict.ratio == pytest.approx(current / 1_000_000)


def test_the_baseline_is_the_median_of_its_runs():
    verdict = judge_case("c", "inference", [1_000_000, 1_000_001, 1_000_003], 1_015_000, CountRule())
    assert verdict.ratio == pytest.approx(1_015_000 / 1_000_001) and verdict.mark == "+"


def test_a_threshold_per_operation():
    rule = CountRule(threshold=0.01, thresholds={"decryption": 0.05})
    assert judge_case("c", "decryption", [100.0], 103.0, rule).mark == " "
    assert judge_case("c", "encryption", [100.0], 103.0, rule).mark == "+"


def test_a_baseline_that_spreads_gives_no_verdict_instead_of_an_alarm():
    verdict = judge_case("c", "inference", [1_000_000, 1_006_000], 1_050_000, CountRule())
    assert verdict.mark == "?" and "not deterministic enough" in verdict.reason
    assert verdict.baseline_spread == pytest.approx(0.006)


def test_too_few_baseline_runs_or_no_current_count_give_no_verdict():
    assert judge_case("c", "inference", [100.0], 200.0, CountRule(min_baseline_runs=2)).mark == "?"
    assert judge_case("c", "inference", [], 200.0, CountRule()).mark == "?"
    assert judge_case("c", "inference", [100.0], None, CountRule()).mark == "?"


def test_judge_run_matches_cases_and_ignores_timed_ones():
    baselines = [_doc(inference_a=1000.0, encryption_b=5000.0, inference_timed=None),
                 _doc(inference_a=1000.0, encryption_b=5000.0)]
    verdicts = {v.name.split("::")[1]: v for v in judge_run(baselines, _doc(inference_a=1011.0, encryption_b=5000.0), CountRule())}
    assert set(verdicts) == {"inference_a", "encryption_b"}
    assert verdicts["inference_a"].mark == "+" and verdicts["inference_a"].operation == "inference"
    assert verdicts["encryption_b"].mark == " "


def test_a_bad_count_names_the_case():
    with pytest.raises(ValueError, match="inference_a.*must be a number > 0"):
        countrule.counts_of(_doc(inference_a="many"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"threshold": 0}, "threshold must be a number in"), ({"threshold": 1.0}, "threshold must"),
     ({"thresholds": {"inference": -0.01}}, "thresholds.inference"), ({"min_baseline_runs": 0}, "min_baseline_runs")],
)
def test_bad_rules_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CountRule(**kwargs)


def test_config_from_pyproject(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.continuum-bench.counts]\nthreshold = 0.02\n[tool.continuum-bench.counts.thresholds]\ninference = 0.005\n")
    rule = load_count_rule(path)
    assert rule.threshold_for("encryption") == 0.02 and rule.threshold_for("inference") == 0.005
    path.write_text("[tool.continuum-bench.counts]\nthreshhold = 0.02\n")
    with pytest.raises(ValueError, match="unknown key.*threshhold"):
        load_count_rule(path)
    path.write_text("[tool.continuum-bench.counts]\nthreshold = 2\n")
    with pytest.raises(ValueError, match=f"{path}.*threshold must"):
        load_count_rule(path)
    with pytest.raises(ValueError, match="not found"):
        load_count_rule(tmp_path / "missing.toml")


def test_the_repository_config_is_valid():
    rule = load_count_rule(countrule.__file__.rsplit("/benchmarks/", 1)[0] + "/pyproject.toml")
    assert rule.threshold == countrule.DEFAULT_THRESHOLD


def test_cli_exit_codes(tmp_path, capsys):
    base, slow, same = (tmp_path / f"{n}.json" for n in ("base", "slow", "same"))
    base.write_text(json.dumps(_doc(inference_a=1000.0)))
    slow.write_text(json.dumps(_doc(inference_a=1020.0)))
    same.write_text(json.dumps(_doc(inference_a=1000.0)))
    assert countrule.main([str(base), "--current", str(same)]) == 0
    assert countrule.main([str(base), "--current", str(slow)]) == 1
    assert "+2.000% instructions per call" in capsys.readouterr().out
    assert countrule.main([str(tmp_path / "missing.json"), "--current", str(slow)]) == 2
