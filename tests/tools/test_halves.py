"""tools.halves: a case's median over half its rounds against another half, from a saved JSON."""

import pytest

from tests.reports import benchjson as B
from tools.halves import case_spreads, main, spreads


def test_spreads_of_known_rounds():
    # odd rounds 1.0, 1.2, 1.4 (median 1.2), even 1.1, 1.1, 1.1 (1.1); first half 1.0, 1.1, 1.2 (1.1), all 1.1
    halves, first = case_spreads([1.0, 1.1, 1.2, 1.1, 1.4, 1.1])
    assert halves == pytest.approx(1.2 / 1.1 - 1)
    assert first == pytest.approx(0.0)


def test_bad_rounds_are_refused():
    with pytest.raises(ValueError, match="at least 4"):
        case_spreads([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="> 0"):
        case_spreads([1.0, 0.0, 1.0, 1.0])


def _write(path, rounds):
    """A device run whose named cases hold these saved rounds; every other case none."""
    def set_rounds(doc):
        for b in doc["benchmarks"]:
            b["stats"]["data"] = rounds.get(b["name"], [])
    return B.write(path, B.edit(B.profile_doc("device"), set_rounds))


def test_reads_the_operations_cases_with_saved_rounds(tmp_path, capsys):
    path = _write(tmp_path / "r.json", {
        "test_inference[full-keras]": [1.0, 1.0, 1.0, 1.0],
        "test_inference[pf=70-filter-litert]": [1.0, 2.0, 1.0, 2.0],
        "test_inference[full-litert]": [1.0, 2.0],  # too few: left out
        "test_finetune[pf=70-filter]": [1.0, 2.0, 3.0, 4.0],  # another operation
    })
    got = spreads(path, "inference")
    assert set(got) == {"test_inference[full-keras]", "test_inference[pf=70-filter-litert]"}
    assert got["test_inference[pf=70-filter-litert]"][0] == pytest.approx(0.5)
    assert main([str(path)]) == 0
    assert "2 cases; odd vs even rounds: median 25.0 %, largest 50.0 %" in capsys.readouterr().out


def test_a_file_without_saved_rounds_names_the_file(tmp_path, capsys):
    path = _write(tmp_path / "r.json", {})
    assert main([str(path)]) == 2
    assert f"{path}: no test_inference case" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("[1, 2")
    assert main([str(tmp_path / "bad.json")]) == 2
    assert f"{tmp_path / 'bad.json'}: malformed or truncated JSON" in capsys.readouterr().err
