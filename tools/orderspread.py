"""Between-session spread of inference ratios, with interleaved rounds against sequential ones.

    TF_USE_LEGACY_KERAS=1 .tox/device/bin/python -m tools.orderspread --sessions 5 --profile device

Runs ``2 x --sessions`` inference-only benchmark sessions (``pytest benchmarks -k
test_inference``, each its own process under the profile), alternating
``--inference-order interleaved`` and ``sequential`` so the host's drift over the
job hits both alike, and prints, per order, each session's ratio of medians
(``--case`` over ``--reference``, by default pf 70 % filter LiteRT over the full
model's LiteRT) and their spread between sessions (max / min - 1, and the
coefficient of variation). Interleaving should make
Table I's trend over pruning factors independent of when the host changed speed.

The sessions run without fine-tuning (``-k`` selects inference only), so the pruned
models are timed as pruned: dense inference time does not depend on weight values.
``--from-json`` re-reads sessions already written (``<dir>/<order>-<i>.json``)
instead of running them. Nothing here is part of the benchmark grid.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

from reports.storage import load_run

ORDERS = ("interleaved", "sequential")


def ratio_of_medians(path: Path, case: str, reference: str) -> float:
    """Median of ``case`` over median of ``reference`` in one pytest-benchmark JSON (reports.storage)."""
    medians = {}
    for bench in load_run(path).benchmarks:
        name = bench.name
        key = name[name.index("[") + 1 : -1] if "[" in name else name
        medians[key] = bench.median_s
    for wanted in (case, reference):
        if wanted not in medians:
            raise ValueError(f"{path}: no inference case {wanted!r}; it has {', '.join(sorted(medians)) or 'none'}")
    return medians[case] / medians[reference]


def spread(values: list[float]) -> dict:
    """``max/min - 1`` and the coefficient of variation of ``values`` (at least two)."""
    if len(values) < 2:
        raise ValueError(f"a spread needs at least two sessions, got {len(values)}")
    return {
        "sessions": len(values),
        "max_over_min_minus_1": max(values) / min(values) - 1,
        "cv": statistics.stdev(values) / statistics.fmean(values),
        "median": statistics.median(values),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.orderspread", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=5, help="sessions per order (default 5, >= 2)")
    parser.add_argument("--profile", default="device", help="hardware profile (default: device)")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--case", default="pf=70-filter-litert", help="numerator case id (default: pf=70-filter-litert)")
    parser.add_argument("--reference", default="full-litert", help="denominator case id (default: full-litert)")
    parser.add_argument("--out", default="results/orderspread", help="folder for the sessions' JSON")
    parser.add_argument("--from-json", action="store_true", help="judge the JSON already in --out, run nothing")
    args = parser.parse_args(argv)
    if args.sessions < 2:
        parser.error(f"--sessions must be >= 2, got {args.sessions}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.from_json:
        for i in range(1, args.sessions + 1):
            for order in ORDERS if i % 2 else ORDERS[::-1]:  # ABBA...: a drift over the job hits both orders
                path = out / f"{order}-{i}.json"
                command = [sys.executable, "-m", "pytest", "benchmarks", "-k", "test_inference", "-q",
                           "-p", "no:cacheprovider", f"--profile={args.profile}", f"--preset={args.preset}",
                           f"--inference-order={order}", f"--benchmark-json={path}"]
                print(f"tools.orderspread: session {i} {order}", flush=True)
                code = subprocess.run(command, stdout=subprocess.DEVNULL).returncode
                if code != 0:
                    print(f"tools.orderspread: session {i} ({order}) exited {code}; stopping", file=sys.stderr)
                    return code
    for order in ORDERS:
        paths = sorted(out.glob(f"{order}-*.json"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        try:
            ratios = [ratio_of_medians(p, args.case, args.reference) for p in paths]
            s = spread(ratios)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"{order:<11} {args.case} / {args.reference}: " + " ".join(f"{r:.3f}" for r in ratios)
              + f"  spread max/min-1 {100 * s['max_over_min_minus_1']:.1f} %, CV {100 * s['cv']:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
