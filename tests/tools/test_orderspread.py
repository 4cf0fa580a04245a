"""tools.orderspread: the ratio of medians and the spread it reports, from written JSON."""
import pytest

from tests.reports import benchjson as B
from tools.orderspread import main, ratio_of_medians, spread


def _session(path, full, pruned):
    medians = {"test_inference[full-litert]": full, "test_inference[pf=70-filter-litert]": pruned}

    def set_medians(doc):
        for b in doc["benchmarks"]:
            if b["name"] in medians:
                b["stats"]["median"] = medians[b["name"]]
    return B.write(path, B.edit(B.profile_doc("device"), set_medians))


def test_ratio_of_medians_and_a_missing_case_named(tmp_path):
    path = _session(tmp_path / "s.json", 2e-4, 5e-5)
    assert ratio_of_medians(path, "pf=70-filter-litert", "full-litert") == pytest.approx(0.25)
    with pytest.raises(ValueError, match="pf=85-filter-litert"):
        ratio_of_medians(path, "pf=85-filter-litert", "full-litert")


def test_spread():
    s = spread([1.0, 1.1, 1.2])
    assert s["max_over_min_minus_1"] == pytest.approx(0.2)
    assert s["cv"] == pytest.approx(0.1 / 1.1)
    with pytest.raises(ValueError, match="at least two"):
        spread([1.0])


def test_main_judges_written_sessions(tmp_path, capsys):
    for i, (a, b) in enumerate([(0.25, 0.25), (0.26, 0.30)], start=1):
        _session(tmp_path / f"interleaved-{i}.json", 1.0, a)
        _session(tmp_path / f"sequential-{i}.json", 1.0, b)
    assert main(["--sessions", "2", "--out", str(tmp_path), "--from-json"]) == 0
    out = capsys.readouterr().out
    assert "interleaved" in out and "spread max/min-1 4.0 %" in out
    assert "sequential" in out and "spread max/min-1 20.0 %" in out


def test_a_session_that_is_not_a_results_file_is_an_error_naming_it(tmp_path, capsys):
    _session(tmp_path / "interleaved-1.json", 1.0, 0.25)
    (tmp_path / "interleaved-2.json").write_text('{"benchmarks": [')
    assert main(["--sessions", "2", "--out", str(tmp_path), "--from-json"]) == 2
    assert f"{tmp_path / 'interleaved-2.json'}: malformed or truncated JSON" in capsys.readouterr().err
