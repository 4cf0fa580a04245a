"""costmodel.cli: ``python -m costmodel {paper,advise}`` on the study's figures, importing no other package
of the suite."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from costmodel import cli

ROOT = Path(__file__).resolve().parents[2]


def _run(*args, timeout=120):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_python_m_costmodel_offers_paper_and_advise_only():
    r = _run("-m", "costmodel", "--help")
    assert r.returncode == 0 and "{paper,advise}" in r.stdout
    listed = [line.split()[0] for line in r.stdout.splitlines() if line.startswith("    ")]
    assert listed == ["paper", "advise"]
    r = _run("-m", "costmodel", "report")
    assert r.returncode == 2 and "invalid choice: 'report'" in r.stderr


def test_python_m_costmodel_paper_and_advise_work():
    r = _run("-m", "costmodel", "paper")
    assert r.returncode == 0, r.stderr
    assert "== table2 ==" in r.stdout and "E-FT,D-Inf" in r.stdout
    r = _run("-m", "costmodel", "advise", "--q", "1000")
    assert r.returncode == 0 and "E-FT,E-Inf" in r.stdout
    r = _run("-m", "costmodel", "advise", "--q", "0")
    assert r.returncode == 2 and r.stderr.strip() == "error: --q must be a whole number of requests >= 1, got '0'"


@pytest.mark.parametrize("argv", [["paper", "--format", "json", "--q", "1", "100"], ["advise", "--q", "100"]])
def test_the_cost_model_imports_none_of_the_suites_other_packages(argv):
    """The entry point itself, run as ``python -m costmodel``; then every module it loaded is listed."""
    ours = ("reports", "harness", "fixtures", "pipeline", "emulation", "benchmarks", "tools", "tensorflow")
    code = (f"import runpy, sys, io, contextlib; sys.argv = ['costmodel'] + {argv!r}\n"
            "try:\n    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        runpy.run_module('costmodel', run_name='__main__')\n"
            "except SystemExit as done:\n    assert done.code == 0, done.code\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {ours!r}))")
    r = _run("-c", code)
    assert r.returncode == 0 and r.stdout.strip() == "[]", (r.stdout, r.stderr)


@pytest.mark.parametrize("argv, message", [
    (["advise", "--q", "10", "--pruning-factor", "0.5"], "the study gives the pruned pipelines' inputs only at 0.7"),
    (["advise", "--q", "10", "--pruning-factor", "1.5"], "--pruning-factor must be a fraction in (0, 1)"),
    (["paper", "--distance", "9000"], "outside the UMi street-canyon path loss model's validity"),
])
def test_bad_input_exits_2_naming_the_option(capsys, argv, message):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_an_extrapolated_distance_is_flagged_in_the_result():
    out = cli.paper_result(distance=9000, allow_distance=True)
    assert next(iter(out)) == "warning" and out["warning"].startswith("EXTRAPOLATED: --distance 9000 m")


def test_advise_takes_one_q_here(capsys):
    assert cli.main(["advise", "--q", "1", "100"]) == 2
    assert capsys.readouterr().err.strip() == "error: --q takes one number of requests, got 1 100"
