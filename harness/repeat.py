"""Run one pytest command several times, each in a fresh process: ``tox -e gate-baseline``.

    python -m harness.repeat --times 3 -- benchmarks --profile=device --benchmark-autosave ...

The gate judges a change against the spread between *sessions* (see reports/gate.py),
so its baseline needs several independent runs: a new interpreter each time, with its
own profile, thread pools and memory layout, as a later CI run will have. Stops at the
first run that fails and exits with its code; Ctrl-C reaches the running pytest (same
process group), which cleans up after itself, and no further run starts.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.repeat", description=__doc__.split("\n\n")[0])
    parser.add_argument("--times", type=int, required=True, help="how many runs (>= 1, required)")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="arguments for pytest, after --")
    args = parser.parse_args(argv)
    if args.times < 1:
        parser.error(f"--times must be >= 1, got {args.times}")
    pytest_args = args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args
    for i in range(1, args.times + 1):
        print(f"harness.repeat: run {i} of {args.times}: pytest {' '.join(pytest_args)}", flush=True)
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "pytest", *pytest_args])
        try:
            code = proc.wait()
        except KeyboardInterrupt:
            code = proc.wait()  # pytest got the same SIGINT: let it finish its cleanup
            print(f"harness.repeat: interrupted in run {i}; no further run", file=sys.stderr, flush=True)
            return 130
        print(f"harness.repeat: run {i} exited {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code != 0:
            return 128 - code if code < 0 else code  # killed by signal N: exit 128 + N, as a shell says
    return 0


if __name__ == "__main__":
    sys.exit(main())
