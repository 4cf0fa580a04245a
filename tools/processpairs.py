"""How much one pair of worker processes differs from another, from paired gate runs' ``--json`` files.

    python -m tools.processpairs RUN.json [RUN.json ...] [--clock wall|cpu]

Each pair of worker processes of each file is one cluster of quads (a file written before the
gate spread its quads over several pairs is one cluster). Per case, over all the clusters:
the SD of a pair's own log ratio about the common one (``process SD``, the one-way analysis of
variance of reports.stats.variance_components), the SD of a quad's about its pair's (``quad
SD``), what the second would let a pair's estimate stray by alone (``quad SD / sqrt(k)``), the
range of the pairs' estimates and how many lie more than 1 % and 2 % from the common one. Read
on an A/A run (both sides the same commit), a process SD well above ``quad SD / sqrt(k)`` is a
difference that lasts a process's life: an interval over one pair's quads cannot see it.

Then, per case over the files, their verdicts on that clock: the SD of the runs' estimates of
B/A (as a fraction), the median half-width of their intervals and the two's ratio (an interval
that counts every source of spread has a 95 % half-width about twice the estimate's SD, so a
ratio above 0.5 means intervals too narrow for the runs' spread), and the verdicts counted.
Nothing here is timed; it reads files.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

from reports.stats import cluster_interval, quad_log_ratio

CLOCK_FIELDS = {"wall": "seconds", "cpu": "cpu_seconds"}


def clusters(blocks: list[dict], clock: str) -> dict[str, dict[int, list[float]]]:
    """case -> process pair -> its quads' log ratios, from a run's blocks in order (warm-up quads left out)."""
    field = CLOCK_FIELDS[clock]
    per_quad: dict[tuple, dict[str, list[float]]] = {}
    for block in blocks:
        if block["quad"] < 0:
            continue
        key = (block["case"], block.get("process", 0), block["quad"])
        per_quad.setdefault(key, {"A": [], "B": []})[block["side"]].append(block[field] / block["calls"])
    out: dict[str, dict[int, list[float]]] = {}
    for (case, process, _), sides in per_quad.items():
        if len(sides["A"]) == 2 and len(sides["B"]) == 2:
            out.setdefault(case, {}).setdefault(process, []).append(quad_log_ratio(sides["A"], sides["B"]))
    return out


def load_clusters(paths: list[Path], clock: str) -> dict[str, list[list[float]]]:
    """case -> every file's pairs' quads (one list per pair); ``ValueError`` naming a file that is not a
    paired gate's ``--json``."""
    out: dict[str, list[list[float]]] = {}
    for path in paths:
        try:
            blocks = json.loads(path.read_text())["blocks"]
            per_case = clusters(blocks, clock)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{path}: not a paired gate --json file with blocks ({err})") from None
        for case, pairs in per_case.items():
            out.setdefault(case, []).extend(pairs.values())
    return out


def run_verdicts(paths: list[Path], clock: str) -> dict[str, list[dict]]:
    """case -> each file's verdict of it on ``clock`` (the judged one or the other), in file order."""
    out: dict[str, list[dict]] = {}
    for path in paths:
        record = json.loads(path.read_text())
        judged = record.get("config", {}).get("clock", "wall")
        key = "verdicts" if judged == clock else "other_verdicts"
        for v in record.get(key, []):
            out.setdefault(v["name"], []).append(v)
    return out


def run_summary(verdicts: list[dict]) -> dict:
    """SD of the runs' log estimates, median half-width, their ratio, verdict counts (module docstring)."""
    logs = [math.log(v["ratio"]) for v in verdicts if v.get("ratio")]
    widths = sorted(v["half_width"] for v in verdicts if v.get("half_width") is not None)
    sd = statistics.stdev(logs) if len(logs) >= 2 else None
    half = statistics.median(widths) if widths else None
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v["verdict"]] = counts.get(v["verdict"], 0) + 1
    return {"runs": len(verdicts), "estimate_sd": sd, "median_half_width": half,
            "sd_over_half_width": sd / half if sd is not None and half else None, "verdicts": counts,
            "estimates": [v.get("ratio") for v in verdicts]}


def summary(groups: list[list[float]]) -> dict:
    """The figures of one case (module docstring), log ratios as fractions."""
    est = cluster_interval(groups)
    k = est.quads / est.clusters
    c = est.cluster_estimates
    return {"pairs": est.clusters, "quads_per_pair": k, "estimate": est.estimate,
            "process_sd": est.between_sd, "quad_sd": est.within_sd,
            "quad_sd_per_pair": None if est.within_sd is None else est.within_sd / math.sqrt(k),
            "pair_min": min(c), "pair_max": max(c),
            "beyond_1pct": sum(abs(x - est.estimate) > 0.01 for x in c),
            "beyond_2pct": sum(abs(x - est.estimate) > 0.02 for x in c)}


def _pct(x) -> str:
    return "-" if x is None else f"{x * 100:+.2f}%"


def _sd(x) -> str:
    return "-" if x is None else f"{x * 100:.2f}%"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.processpairs", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="paired gate --json files")
    parser.add_argument("--clock", default="wall", choices=sorted(CLOCK_FIELDS), help="which time (default: wall)")
    args = parser.parse_args(argv)
    try:
        per_case = load_clusters(args.runs, args.clock)
    except ValueError as err:
        print(f"processpairs: {err}", file=sys.stderr)
        return 2
    print(f"{args.clock} time, {len(args.runs)} file(s); log ratio B/A as a fraction")
    print(f"{'case':22} pairs  k   mean     process SD  quad SD  quad SD/sqrt(k)  pairs' range        >1%  >2%")
    for case, groups in per_case.items():
        s = summary(groups)
        print(f"{case:22} {s['pairs']:5d} {s['quads_per_pair']:4.1f} {_pct(s['estimate']):>8} "
              f"{_sd(s['process_sd']):>10} {_sd(s['quad_sd']):>8} {_sd(s['quad_sd_per_pair']):>15}  "
              f"[{_pct(s['pair_min'])}, {_pct(s['pair_max'])}] {s['beyond_1pct']:4d} {s['beyond_2pct']:4d}")
    print(f"\nverdicts on {args.clock} time, per case over the files")
    print(f"{'case':22} runs  estimate SD  median half-width  SD/half-width  estimates                verdicts")
    for case, verdicts in run_verdicts(args.runs, args.clock).items():
        r = run_summary(verdicts)
        ratio = "-" if r["sd_over_half_width"] is None else f"{r['sd_over_half_width']:.2f}"
        spread = [x for x in r["estimates"] if x]
        span = f"[{_pct(min(spread) - 1)}, {_pct(max(spread) - 1)}]" if spread else "-"
        print(f"{case:22} {r['runs']:4d} {_sd(r['estimate_sd']):>12} {_sd(r['median_half_width']):>17} "
              f"{ratio:>14}  {span:24} " + ", ".join(f"{k} {n}" for k, n in sorted(r["verdicts"].items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
