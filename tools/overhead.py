"""Harness overhead: the suite's median for one case versus a bare loop of the same call.

    TF_USE_LEGACY_KERAS=1 taskset -c 1 python -m tools.overhead results/device.json

runs the full model's LiteRT batch-1 inference in a plain loop (same model, same
sample, same thread count, the same rounds x iterations as the preset) in this
process, and prints the ratio of the suite's median (from the JSON) to the bare
loop's. Run it pinned like the profile that wrote the JSON (``device``: one CPU).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from reports.storage import load_run

CASE = "test_inference[full-litert]"


def bare_loop_median(call, rounds: int, iterations: int, warmup_rounds: int) -> float:
    """Median time of one call [s], timed per round of ``iterations`` calls as pytest-benchmark does."""
    for _ in range(warmup_rounds * iterations):
        call()
    per_call = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(iterations):
            call()
        per_call.append((time.perf_counter() - start) / iterations)
    return statistics.median(per_call)


def run(results: Path, repeats: int = 3) -> dict:
    from fixtures.dataset import dataset_for
    from fixtures.model import base_model
    from fixtures.presets import get_preset
    from pipeline.infer import LiteRTRunner, to_tflite

    bench = next((b for b in load_run(results).benchmarks if b.name == CASE), None)
    if bench is None:
        raise ValueError(f"{results}: no benchmark named {CASE}")
    info = bench.extra_info
    preset = get_preset(info["preset"])
    dataset = dataset_for(preset)
    runner = LiteRTRunner(to_tflite(base_model(preset, dataset, progress=False)), num_threads=info["num_threads"])
    sample = dataset.x_test[:1].copy()
    rounds = preset.rounds
    iterations = bench.iterations  # the suite's own choice for this case
    bare = [
        bare_loop_median(lambda: runner.run(sample), rounds.inference_rounds, iterations, rounds.warmup_rounds)
        for _ in range(repeats)
    ]
    suite = bench.median_s
    return {"case": CASE, "suite_median_s": suite, "bare_median_s": statistics.median(bare), "ratio": suite / statistics.median(bare)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.overhead", description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a profile's results JSON, e.g. results/device.json")
    parser.add_argument("--repeats", type=int, default=3, help="bare-loop repetitions, median taken (default: 3)")
    args = parser.parse_args(argv)
    try:
        out = run(args.results, args.repeats)
    except (OSError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        f"{out['case']}: suite median {out['suite_median_s'] * 1e3:.4f} ms, bare loop {out['bare_median_s'] * 1e3:.4f} ms, "
        f"ratio {out['ratio']:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
