"""``tox -e gate``: the history gate, or with ``--against REF`` the paired gate.

    python -m harness.gate_job --profile device [-- PYTEST-OR-GATE-ARGS]

Without ``--against`` among the arguments: run the gated cases with pytest (the
arguments go to pytest), then ``continuum-bench gate`` against the profile's saved
runs (docs/reports.md), as ``tox -e gate`` always did. With ``--against REF``: the
arguments go to ``continuum-bench gate --against REF`` (harness/paired_runner.py), which
measures REF and this checkout in one job and needs no saved runs.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys

#: The history gate's cases, a pytest -k expression (tox.ini's [gate] cases passes the same one to the
#: baseline and to the gate, so both measure one case set).
HISTORY_CASES = "test_inference or test_serialize"
#: Exit codes shared with ``continuum-bench`` (README: 0 pass, 1 regression, 2 bad usage or
#: input, 3 no verdict, 130 interrupted). tox passes a single environment's code through.
EXIT_BAD_USAGE = 2
EXIT_NO_VERDICT = 3
EXIT_INTERRUPTED = 130
#: pytest's own exit codes for an interrupted run and for bad usage (pytest.ExitCode).
PYTEST_INTERRUPTED = 2
PYTEST_USAGE_ERROR = 4


def measurement_exit(code: int) -> int:
    """The gate's exit code for a failed measurement run: never 1, which says "regression"."""
    if code == PYTEST_INTERRUPTED:
        return EXIT_INTERRUPTED
    return EXIT_BAD_USAGE if code == PYTEST_USAGE_ERROR else EXIT_NO_VERDICT


def run_waiting(command: list[str]) -> int:
    """``command`` as a child; its exit code. SIGTERM is passed on; a Ctrl-C reaches it directly (same
    process group), and this process waits while it cleans up (a profile, a load, a worktree)."""
    child = subprocess.Popen(command)
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signum))
    try:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)


def cli_main(argv: list[str]) -> int:
    """``continuum-bench ARGV`` in a process of its own (the reports import the harness, not the
    reverse); its exit code."""
    return run_waiting([sys.executable, "-m", "reports", *argv])


def history_gate(profile: str, pytest_args: list[str], cases: str = HISTORY_CASES) -> int:
    current = f"results/gate/{profile}.json"
    code = run_waiting([sys.executable, "-m", "pytest", "benchmarks", f"--profile={profile}", "--preset=quick",
                            "-k", cases, "-p", "no:cacheprovider", "--benchmark-save-data",
                            f"--benchmark-json={current}", *pytest_args])
    if code != 0:
        print(f"gate: the measurement run failed (pytest exit {code}); no verdict", file=sys.stderr)
        return measurement_exit(code)
    return cli_main(["gate", "--profile", profile, "--storage", f"results/history/{profile}", "--current", current,
                     "--save-verdict"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.gate_job", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", required=True, help="profile gated (required)")
    parser.add_argument("--cases", default=HISTORY_CASES,
                        help=f"the history gate's cases, a pytest -k expression (default: {HISTORY_CASES})")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="pytest's arguments, or continuum-bench gate's with "
                        "--against REF")
    args = parser.parse_args(argv)
    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    if any(a == "--against" or a.startswith("--against=") for a in rest):
        return cli_main(["gate", "--profile", args.profile, *rest])
    return history_gate(args.profile, rest, args.cases)


if __name__ == "__main__":
    sys.exit(main())
