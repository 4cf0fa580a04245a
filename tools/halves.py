"""How much a case's median moves with the rounds it is taken over, from one session's saved rounds.

    python -m tools.halves results/device.json [--op inference]

For every case of the operation whose rounds the JSON holds (``--benchmark-save-data``,
as the main job writes) with at least 4 rounds: the median of its odd rounds against the
median of its even rounds (two medians of half the rounds, taken interleaved in time) and
the median of its first half against the median of all rounds, each as |a / b - 1|; then
the median and the largest of each over the cases. This is the within-session precision
that the round count buys, to set beside the spread between sessions (docs/reports.md).
Nothing here is timed; it reads a file.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from reports.storage import load_run


def case_spreads(rounds: list[float]) -> tuple[float, float]:
    """(|median(odd rounds) / median(even rounds) - 1|, |median(first half) / median(all) - 1|)."""
    if len(rounds) < 4:
        raise ValueError(f"need at least 4 rounds, got {len(rounds)}")
    if min(rounds) <= 0:
        raise ValueError("round times must be > 0")
    odd, even = statistics.median(rounds[0::2]), statistics.median(rounds[1::2])
    first = statistics.median(rounds[: len(rounds) // 2])
    return abs(odd / even - 1), abs(first / statistics.median(rounds) - 1)


def spreads(path: Path, op: str) -> dict[str, tuple[float, float]]:
    """Per case name, :func:`case_spreads` of its saved rounds; ``ValueError`` naming the file when
    it is not a valid pytest-benchmark JSON (reports.storage) or holds no such case with saved rounds."""
    run = load_run(path)
    out = {b.name: case_spreads(list(b.data)) for b in run.benchmarks
           if b.name.startswith(f"test_{op}") and len(b.data) >= 4}
    if not out:
        raise ValueError(f"{path}: no test_{op} case with >= 4 saved rounds (run with --benchmark-save-data)")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.halves", description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="+", type=Path, help="pytest-benchmark JSON files with saved rounds")
    parser.add_argument("--op", default="inference", help="operation (test_<op>... cases; default inference)")
    args = parser.parse_args(argv)
    for path in args.json:
        try:
            per_case = spreads(path, args.op)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        halves = [a for a, _ in per_case.values()]
        firsts = [b for _, b in per_case.values()]
        print(f"{path}: {len(per_case)} cases; odd vs even rounds: median {100 * statistics.median(halves):.1f} %, "
              f"largest {100 * max(halves):.1f} %; first half vs all: median {100 * statistics.median(firsts):.1f} %, "
              f"largest {100 * max(firsts):.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
