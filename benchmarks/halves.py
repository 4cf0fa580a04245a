"""How much a case's median moves with the rounds it is taken over, from one session's saved rounds.

    python -m benchmarks.halves results/device.json [--op inference]

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
import json
import statistics
import sys
from pathlib import Path


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
    it is not a pytest-benchmark JSON or holds no such case with saved rounds."""
    try:
        document = json.loads(Path(path).read_text())
        benchmarks = document["benchmarks"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a readable pytest-benchmark JSON ({error})") from None
    out = {}
    for bench in benchmarks:
        data = (bench.get("stats") or {}).get("data")
        if not bench.get("name", "").startswith(f"test_{op}") or not data or len(data) < 4:
            continue
        out[bench["name"]] = case_spreads(data)
    if not out:
        raise ValueError(f"{path}: no test_{op} case with >= 4 saved rounds (run with --benchmark-save-data)")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.halves", description=__doc__.splitlines()[0])
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
