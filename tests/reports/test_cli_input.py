"""continuum-bench on bad input, as a user meets it: one `error:` line naming the file, field or
flag, exit 2 (3: no verdict, 130: Ctrl-C), no traceback, nothing overwritten or left half-written."""
import json
import os

import pytest

from reports import cli, report as report_module

from . import benchjson as B
from . import conftest_data as D


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return B.write_results_dir(tmp_path_factory.mktemp("cli") / "results")


def _main(capsys, argv):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


# ---- report: where it writes, and writing whole ---------------------------------------------

def test_report_ends_with_the_answer_and_the_page(results, tmp_path, capsys):
    code, out, err = _main(capsys, ["report", str(results), "--out", str(tmp_path), "--run", "r"])
    lines = out.splitlines()
    assert code == 0 and lines[-1] == f"page: {tmp_path / 'r' / 'index.html'}"
    start = next(i for i, line in enumerate(lines) if line.startswith("answer (warm inference"))
    answer = lines[start + 1:-1]
    assert [a.split(":")[0].strip() for a in answer[:4]] == ["latency, edge idle", "latency, edge loaded",
                                                            "device energy", "data exchanged"]
    assert " ms at Q = " in answer[0] or " s at Q = " in answer[0]
    assert "report: reading the results" in err  # progress on stderr, the answer alone on stdout


def test_report_refuses_a_reused_run_and_leaves_the_first_untouched(results, tmp_path, capsys):
    assert _main(capsys, ["report", str(results), "--out", str(tmp_path), "--run", "r"])[0] == 0
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "r").rglob("*")}
    code, out, err = _main(capsys, ["report", str(results), "--out", str(tmp_path), "--run", "r"])
    assert code == 2 and out == "" and err.startswith(f"error: report: --run r: {tmp_path / 'r'} already exists")
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "r").rglob("*")} == before


@pytest.mark.parametrize("run", ["../../x", "/abs", "a/b", "..", ".hidden"])
def test_report_refuses_a_run_name_that_is_a_path(results, tmp_path, capsys, run):
    code, out, err = _main(capsys, ["report", str(results), "--out", str(tmp_path / "out"), "--run", run])
    assert code == 2 and f"--run {run!r}: a report folder name" in err
    assert not any(tmp_path.rglob("index.html"))


def test_report_out_naming_a_file_is_named(results, tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    code, _, err = _main(capsys, ["report", str(results), "--out", str(tmp_path / "f"), "--run", "r"])
    assert code == 2 and err.strip() == f"error: report: --out {tmp_path / 'f'}: a file, not a folder"
    code, _, err = _main(capsys, ["report", str(results), "--out", str(tmp_path / "f" / "sub"), "--run", "r"])
    assert code == 2 and f"--out {tmp_path / 'f' / 'sub'}: cannot create the folder (Not a directory)" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder")
def test_report_out_that_cannot_be_written_is_named(results, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, err = _main(capsys, ["report", str(results), "--out", str(locked), "--run", "r"])
    assert code == 2 and f"--out {locked}: cannot write there" in err


def test_ctrl_c_while_writing_leaves_nothing_and_exits_130(results, tmp_path, capsys, monkeypatch):
    real = report_module.write_table

    def interrupted(df, outdir, stem, *a, **kw):
        if stem == "table2":
            raise KeyboardInterrupt
        return real(df, outdir, stem, *a, **kw)

    monkeypatch.setattr(report_module, "write_table", interrupted)
    code, out, err = _main(capsys, ["report", str(results), "--out", str(tmp_path), "--run", "r"])
    assert code == 130 and err.splitlines()[-1] == "error: report: interrupted; nothing partial left"
    assert list(tmp_path.iterdir()) == []  # neither the report nor its temporary folder


def test_report_pruning_factor_the_results_lack_is_refused(results, tmp_path, capsys):
    code, _, err = _main(capsys, ["report", str(results), "--out", str(tmp_path), "--pruning-factor", "0.55"])
    assert code == 2 and "--pruning-factor 0.55: the results hold magnitude fine-tuning at 0.7" in err
    assert list(tmp_path.iterdir()) == []


# ---- the store's refusals reach the user with the file, benchmark and field ----------------

@pytest.mark.parametrize("field, value", [("median", -0.002), ("min", -1.0), ("mean", 1e308)])
def test_report_and_compare_refuse_impossible_times(results, tmp_path, capsys, field, value):
    doc = B.profile_doc("device")
    doc["benchmarks"][0]["stats"][field] = value
    bad = B.write(tmp_path / "in" / "device.json", doc)
    code, _, err = _main(capsys, ["report", str(bad), "--out", str(tmp_path / "out")])
    assert code == 2 and str(bad) in err and doc["benchmarks"][0]["name"] in err and f"stats.{field}" in err
    code, _, err = _main(capsys, ["compare", str(results / "device.json"), str(bad)])
    assert code == 2 and f"stats.{field}" in err


def test_a_results_folder_with_a_second_file_of_a_profile_is_refused(results, tmp_path, capsys):
    folder = tmp_path / "res"
    for f in results.iterdir():
        (folder / f.name).parent.mkdir(exist_ok=True)
        (folder / f.name).write_bytes(f.read_bytes())
    (folder / "device-copy.json").write_bytes((folder / "device.json").read_bytes())
    code, _, err = _main(capsys, ["advise", "--q", "10", "--results", str(folder)])
    assert code == 2 and "device-copy.json" in err and str(folder / "device.json") in err


def test_nested_and_binary_files_are_named(tmp_path, capsys):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000)
    code, _, err = _main(capsys, ["compare", str(deep), str(deep)])
    assert code == 2 and err.strip() == f"error: {deep}: JSON nested too deeply to be a pytest-benchmark document"
    code, _, err = _main(capsys, ["compare", "/dev/null", "/dev/null"])
    assert code == 2 and "/dev/null: not a regular file" in err


# ---- what a results file can make the readers print -----------------------------------------

def _named(doc, name):
    doc["benchmarks"][0]["name"] = name
    doc["benchmarks"][0]["fullname"] = name  # a fullname is what compare's tables show
    return doc


def test_control_characters_in_names_are_escaped_on_the_terminal(tmp_path, capsys):
    a = B.write(tmp_path / "a.json", _named(D.honest_run(1), "test_x[\x1b[2J\x1b]0;owned\x07]"))
    b = B.write(tmp_path / "b.json", _named(D.honest_run(2), "test_x[\x1b[2J\x1b]0;owned\x07]"))
    code, out, err = _main(capsys, ["compare", str(a), str(b)])
    assert code in (0, 1, 3) and "\x1b" not in out + err and "\x07" not in out
    assert "test_x[\\x1b[2J\\x1b]0;owned\\x07]" in out


def test_csv_and_markdown_neutralise_names(tmp_path, capsys):
    a = B.write(tmp_path / "a.json", _named(D.honest_run(1), "=HYPERLINK(1)|<b>x\ny"))
    b = B.write(tmp_path / "b.json", _named(D.honest_run(2), "=HYPERLINK(1)|<b>x\ny"))
    _, out, _ = _main(capsys, ["compare", str(a), str(b), "--format", "csv"])
    assert "\n\"'=HYPERLINK(1)|<b>x\ny\"," in out and "\n=HYPERLINK" not in out
    _, out, _ = _main(capsys, ["compare", str(a), str(b), "--format", "markdown"])
    assert "=HYPERLINK(1)\\|&lt;b&gt;x y" in out and "<b>" not in out


# ---- flags named in their own refusals ------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["advise", "--q", "1e300"], "--q must be at most 1,000,000,000 requests, got '1e300'"),
    (["compare", "a.json", "b.json", "--factor", "0"], "--factor 0.0: "),
    (["gate", "--profile", "device", "--against", "HEAD", "--pairs", "-1"], "--pairs -1: "),
])
def test_a_refused_value_names_the_flag(capsys, argv, message):
    code, out, err = _main(capsys, argv)
    assert code == 2 and out == "" and message in err and "pyproject.toml" not in err


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.startswith("continuum-bench ")


def test_advise_idle_ignores_an_invalid_run_it_does_not_use(results, tmp_path):
    folder = tmp_path / "res"
    folder.mkdir()
    for f in results.iterdir():
        doc = json.loads(f.read_text())
        if f.stem == "edge-loaded":
            doc["machine_info"]["continuum"]["load"] = {"workers": 2, "valid": False, "state": "stopped",
                                                        "died": [{"index": 1, "pid": 5, "returncode": -9}]}
        B.write(folder / f.name, doc)
    assert cli.run_advise(q=10, scenario="idle", results=[str(folder)]).exit_code == 0
    loaded = cli.run_advise(q=10, scenario="loaded", results=[str(folder)])
    assert loaded.exit_code == 2 and "edge-loaded.json: not a valid run" in loaded.error


def test_history_plot_into_a_folder(tmp_path):
    D.save_history(tmp_path / "h", [D.honest_run(s) for s in range(2)])
    (tmp_path / "plots").mkdir()
    name = D.honest_run(0)["benchmarks"][0]["name"]
    out = cli.run_history(str(tmp_path / "h"), benchmark=name, plot=str(tmp_path / "plots"))
    assert out.exit_code == 0, out.error
    assert [p.suffix for p in (tmp_path / "plots").iterdir()] == [".png"]
    assert not (tmp_path / "plots.png").exists()


def test_paper_and_advise_fit_100_columns_answer_first(capsys):
    for argv, first in ((["paper", "--q", "1", "10", "100", "1000"], "== best_ranges =="),
                        (["advise", "--q", "1000"], "== advice ==")):
        code, out, _ = _main(capsys, argv)
        lines = out.splitlines()
        assert code == 0 and lines[0] == first and max(map(len, lines)) <= 100
        assert "NaN" not in out and "e+0" not in out
