"""continuum-bench: run_* functions without argparse, main(), one entry point, no TensorFlow."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from costmodel.render import FORMATS
from reports import cli

from . import benchjson as B

ROOT = Path(__file__).resolve().parents[2]


def _json(outcome):
    assert outcome.exit_code == 0, outcome.error
    return json.loads("\n".join(outcome.lines))


def test_paper_json_contract(capsys):
    assert cli.main(["paper", "--format", "json", "--q", "1", "10", "1000"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"table2", "crossovers", "radio", "points"} <= set(doc)
    assert len(doc["table2"]) == 10
    assert {"scenario", "pipeline", "total_q1_s", "per_request_s"} <= set(doc["table2"][0])
    assert {r["scenario"] for r in doc["table2"]} == {"idle", "loaded"}
    assert {r["metric"] for r in doc["crossovers"]} == {"latency", "energy", "data"}
    assert doc["radio"]["uplink_bps"] > 1e8 and doc["radio"]["downlink_bps"] > doc["radio"]["uplink_bps"]
    assert len(doc["points"]) == 2 * 5 * 3


def test_paper_without_q_has_no_points():
    assert "points" not in _json(cli.run_paper(format="json"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_the_advice(fmt):
    lines = cli.run_advise(q=100, scenario="loaded", distance=150, format=fmt).lines
    text = "\n".join(lines)
    assert "E-FT,E-Inf" in text and "latency" in text and "uplink" in text
    if fmt == "json":
        assert json.loads(text)["advice"][0]["metric"] == "latency"
    if fmt == "text":  # the answer first, in fixed point, units in the headers, no line over 100 columns
        assert lines[0] == "== advice ==" and lines[2].startswith("latency ")
        assert "uplink [bit/s]" in text and "e+" not in text and max(map(len, lines)) <= 100


def test_advise_answers_and_says_what_it_used():
    out = _json(cli.run_advise(q=1000, scenario="idle", format="json"))
    adv = {r["metric"]: r for r in out["advice"]}
    assert adv["latency"]["best"] == "E-FT,E-Inf"  # beyond the Q ~ 690 crossover
    assert adv["energy"]["best"] == "E-Inf full"
    assert all(r["runner_up_cost"] >= r["cost"] for r in adv.values())
    lat = adv["latency"]
    assert lat["runner_up_over_best_pct"] == pytest.approx(100 * (lat["runner_up_cost"] / lat["cost"] - 1))
    assert out["source"].startswith("the study's figures (pruning factor 0.7)")
    inputs = {r["pipeline"]: r for r in out["inputs"]}
    assert inputs["E-FT,E-Inf"]["finetune_edge_s"] > 0 and inputs["E-Inf full"]["model_bytes"] == 16.9e6
    near = _json(cli.run_advise(q=10, scenario="idle", format="json"))
    assert {r["metric"]: r for r in near["advice"]}["latency"]["best"] == "E-Inf full"
    far = _json(cli.run_advise(q=10, scenario="idle", distance=1000, format="json"))
    assert far["radio"]["uplink_bps"] < out["radio"]["uplink_bps"]


@pytest.mark.parametrize("argv, option", [
    (["--pruning-factor", "0.5"], "--pruning-factor 0.5: the study gives"),
    (["--pruning-factor", "0.85"], "--pruning-factor 0.85: the study gives"),
    (["--pruning-factor", "7"], "--pruning-factor must be a fraction"),
    (["--pruning-factor", "-1"], "--pruning-factor must be a fraction"),
    (["--statistic", "median"], "--statistic chooses among measured results"),
    (["--uncompressed"], "--uncompressed chooses among measured results"),
    (["--runtime", "keras"], "--runtime chooses among measured results"),
    (["--q", "2.5"], "--q must be a whole number"),
    (["--q", "0"], "--q must be a whole number"),
    (["--distance", "1e9"], "--distance 1e+09 m is outside the UMi street-canyon"),
    (["--distance", "5"], "--distance 5 m is outside"),
])
def test_advise_refuses_what_it_cannot_do(capsys, argv, option):
    args = ["advise"] + (argv if "--q" in argv else ["--q", "100"] + argv)
    assert cli.main(args) == 2
    captured = capsys.readouterr()
    assert option in captured.err and captured.out == "" and "Traceback" not in captured.err


def test_advise_unknown_runtime_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["advise", "--q", "100", "--runtime", "bogus"])
    assert exc.value.code == 2 and "--runtime" in capsys.readouterr().err


def test_distance_outside_the_model_allowed_is_flagged():
    out = _json(cli.run_advise(q=100, distance=6000, allow_distance=True, format="json"))
    assert out["warning"].startswith("EXTRAPOLATED: --distance 6000 m is outside")
    far = cli.run_advise(q=100, distance=1e9, allow_distance=True)
    assert far.exit_code == 2 and far.error.startswith("--distance 1e+09 m: the link carries no data")
    assert "PipelineInputs" not in far.error


def test_advise_with_results(tmp_path):
    res = B.write_results_dir(tmp_path / "results")
    out = _json(cli.run_advise(q=100, scenario="loaded", results=[str(res)], format="json"))
    assert out["source"].startswith("measured (magnitude pruning, warm inference per request): device ")
    assert {r["pipeline"]: r for r in out["inputs"]}["E-FT,E-Inf"]["prune_s"] == pytest.approx(1.5 / 2)  # magnitude
    refused = cli.run_advise(q=100, results=[str(res)], pruning_factor=0.5)
    assert refused.exit_code == 2 and "--pruning-factor 0.5: the results hold magnitude fine-tuning at 0.7" in refused.error
    (res / "edge-loaded.json").unlink()
    missing = cli.run_advise(q=100, scenario="loaded", results=[str(res)])
    assert missing.exit_code == 2 and "needs the device and edge-loaded profiles" in missing.error


def test_advise_inference_cold_as_computed_by_hand(tmp_path):
    res = B.write_results_dir(tmp_path / "results")
    q = 100
    warm, cold = (_json(cli.run_advise(q=q, scenario="loaded", results=[str(res)], inference=a, format="json"))
                  for a in (None, "cold"))
    assert "cold inference per request" in cold["source"]
    up, down = cold["radio"]["uplink_bps"], cold["radio"]["downlink_bps"]
    per_request = 8 * 300e3 / up + 8 * 2e3 / down  # the study's sample up, result down
    init, first = B.COLD["edge-loaded"]
    lat = {r["pipeline"]: r["latency_s"] for r in cold["ranking"]}
    assert lat["E-Inf full"] == pytest.approx(q * (per_request + init + first), rel=1e-9)
    warm_lat = {r["pipeline"]: r["latency_s"] for r in warm["ranking"]}
    assert warm_lat["E-Inf full"] == pytest.approx(q * (per_request + 0.080), rel=1e-9)
    dev = sum(B.COLD["device"])
    assert lat["D-Inf full"] - warm_lat["D-Inf full"] == pytest.approx(q * (dev - 0.050), rel=1e-9)
    data = {r["pipeline"]: r["data_bytes"] for r in cold["ranking"]}
    assert data == {r["pipeline"]: r["data_bytes"] for r in warm["ranking"]}
    refused = cli.run_advise(q=q, inference="cold")
    assert refused.exit_code == 2 and refused.error.startswith("--inference chooses among measured results")
    bad = cli.run_advise(q=q, results=[str(res)], inference="hot")
    assert bad.exit_code == 2 and "--inference must be one of ('warm', 'cold'), got 'hot'" in bad.error


def test_advise_cold_without_first_call_names_the_benchmark(tmp_path):
    res = B.write_results_dir(tmp_path / "results")

    def strip(doc):
        for b in doc["benchmarks"]:
            b["extra_info"].pop("first_call_s", None)

    B.write(res / "device.json", B.edit(B.profile_doc("device"), strip))
    out = cli.run_advise(q=10, results=[str(res)], inference="cold")
    assert out.exit_code == 2
    assert "device.json: benchmark 'test_inference[full-litert]' (device): extra_info field 'first_call_s' missing" \
        in out.error
    assert cli.run_advise(q=10, results=[str(res)]).exit_code == 0  # warm does not need it


def test_report_inference_option(tmp_path):
    res = B.write_results_dir(tmp_path / "results")
    docs = {a: _json(cli.run_report(results=[str(res)], out=tmp_path / "out", run=a, inference=a, format="json"))
            for a in ("warm", "cold")}
    for a, doc in docs.items():
        assert doc["inference"] == a and {"crossovers_warm", "crossovers_cold"} <= set(doc)
        assert doc["resemblance"].startswith("The study's per-request inference times (0.143-5.86 s) resemble our "
                                             "cold requests more than our warm ones: warm: study / ours 57.6x")
        assert "Neither assumption" not in doc["resemblance"]  # the fixture's cold times: 2.26x (within 3x)
    assert docs["warm"]["crossovers"] == docs["warm"]["crossovers_warm"]
    assert docs["cold"]["crossovers"] == docs["cold"]["crossovers_cold"] != docs["cold"]["crossovers_warm"]


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for name in ("report", "compare", "history", "gate", "advise", "paper"):
        assert name in out


def _run(*args, timeout=120):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_costmodel_never_loads_tensorflow_or_matplotlib():
    code = ("import sys, io, contextlib, costmodel, costmodel.paper, costmodel.curves, costmodel.tables\n"
            "from reports import cli\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    rc = cli.main(['paper', '--format', 'json', '--q', '1', '100'])\n"
            "    rc += cli.main(['advise', '--q', '100'])\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'tf_keras', 'keras', 'matplotlib', 'scipy'))\n"
            "assert rc == 0 and not bad, bad\n")
    r = _run("-c", code)
    assert r.returncode == 0, r.stderr


def test_continuum_bench_paper_and_advise_give_what_python_m_costmodel_gives(capsys):
    """The two commands are costmodel.cli's; continuum-bench renders the same result."""
    from costmodel import cli as costmodel_cli

    for argv in (["paper", "--q", "10"], ["advise", "--q", "1000", "--scenario", "loaded", "--format", "json"]):
        assert cli.main(argv) == 0
        ours = capsys.readouterr().out
        assert costmodel_cli.main(argv) == 0
        assert capsys.readouterr().out == ours


def test_console_script_is_declared():
    import tomllib

    doc = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert doc["project"]["scripts"] == {"continuum-bench": "reports.__main__:run"}
    assert "reports*" in doc["tool"]["setuptools"]["packages"]["find"]["include"]


def test_the_script_entry_turns_a_ctrl_c_while_loading_into_130(monkeypatch, capsys):
    import reports.__main__ as entry

    def interrupted(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "main", interrupted)
    assert entry.run() == 130 and capsys.readouterr().err == "error: interrupted\n"
