"""tox -e gate dispatches: the history gate by default, the paired gate with --against REF."""
import pytest

from harness import gate_job


def test_without_against_runs_pytest_then_the_history_gate(monkeypatch):
    calls = []
    monkeypatch.setattr(gate_job, "run_waiting", lambda cmd: calls.append(("pytest", cmd)) or 0)
    monkeypatch.setattr(gate_job, "cli_main", lambda argv: calls.append(("gate", argv)) or 1)
    assert gate_job.main(["--profile", "device", "--", "-x"]) == 1
    (_, pytest_cmd), (_, gate_argv) = calls
    assert pytest_cmd[-1] == "-x" and "--profile=device" in pytest_cmd
    assert gate_argv[:5] == ["gate", "--profile", "device", "--storage", "results/history/device"]


@pytest.mark.parametrize("pytest_code, gate_code", [(1, 3), (3, 3), (4, 2), (2, 130)])
def test_a_failed_pytest_run_is_not_gated_and_never_reads_as_a_regression(monkeypatch, pytest_code, gate_code):
    monkeypatch.setattr(gate_job, "run_waiting", lambda cmd: pytest_code)
    monkeypatch.setattr(gate_job, "cli_main", lambda argv: (_ for _ in ()).throw(AssertionError("gated")))
    assert gate_job.main(["--profile", "device"]) == gate_code


def test_against_goes_to_the_paired_gate(monkeypatch):
    seen = []
    monkeypatch.setattr(gate_job, "run_waiting", lambda cmd: (_ for _ in ()).throw(AssertionError("pytest")))
    monkeypatch.setattr(gate_job, "cli_main", lambda argv: seen.append(argv) or 0)
    assert gate_job.main(["--profile", "device", "--", "--against", "origin/main", "--pairs", "20"]) == 0
    assert seen == [["gate", "--profile", "device", "--against", "origin/main", "--pairs", "20"]]


def test_the_gated_cases_come_from_the_caller(monkeypatch):
    """tox.ini passes [gate] cases to the baseline and the gate alike: the gate measures what was saved."""
    seen = []
    monkeypatch.setattr(gate_job, "run_waiting", lambda cmd: seen.append(cmd) or 1)
    gate_job.main(["--profile", "device", "--cases", "test_inference"])
    assert seen[0][seen[0].index("-k") + 1] == "test_inference"
