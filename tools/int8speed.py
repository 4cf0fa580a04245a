"""How much faster and smaller int8 MobileNet v1 is than float under LiteRT on this CPU.

    python -m tools.int8speed [--preset quick] [--pairs 40] [--block-s 0.05] [--no-224]

For (a) the preset's trained base model (``fixtures.model.load_base_model`` on its
embedded dataset, cached) and its filter-pruned pf 70 % copy (not fine-tuned: speed
and size only) and (b) MobileNet v1 alpha 1.0 at 224 px with random weights: the float,
dynamic-range and full-integer int8 ``.tflite`` (``pipeline.quantize``), each run by
one ``LiteRTRunner`` at one thread, timed in interleaved blocks in this one process.
For each quantized variant B against float A, ``pairs`` pairs of blocks as quads in
alternating order (ABBA, BAAB, ...), each block ``--block-s`` long; the ratio B/A is
the Hodges-Lehmann estimate of the quads' log ratios with its 95 % signed-rank
interval (``reports.stats``), so a drift of the machine's speed cancels. The load
average is printed beside every model's timing: interleaving protects the ratios,
not the absolute milliseconds.

Also: which kernels ran each variant (``pipeline.quantize.kernel_path``: XNNPACK or
built-in, an int8 figure from built-in kernels is no XNNPACK figure) and the CPU's
ISA features; sizes raw and gzip; the sparse format against dense for the preset's
model magnitude-pruned at ``--sparse-pf`` (float and int8); post-training int8's and
dynamic-range's top-1 minus float's on the test split. Goals (``GOALS``) are
printed with each ratio.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

#: Ratios this study aims for: int8 latency / float latency, and int8 size / float size.
GOALS = {"latency_quick": 0.6, "latency_224": 0.4, "size": 0.3}
#: Images calibrating the random-weight 224 px model (random images: its ranges mean nothing
#: beyond speed and size, which do not depend on them).
RANDOM_MODEL_SAMPLES = 16
CONFIDENCE = 0.95


def load_average() -> str:
    """The 1, 5 and 15-minute load averages, as ``uptime`` prints them."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def per_call_s(run: Callable[[], object], calls: int) -> float:
    """Mean time [s] of ``calls`` calls of ``run``."""
    start = time.perf_counter()
    for _ in range(calls):
        run()
    return (time.perf_counter() - start) / calls


#: Short timings the calls per block are estimated from; the fastest counts.
CALIBRATION_TRIES = 7


def calls_per_block(run: Callable[[], object], block_s: float) -> int:
    """Calls making a block of about ``block_s`` seconds of CPU, from the fastest of a few short timings.

    The fastest, not the mean: on a loaded host one preempted timing would otherwise shrink
    every block to a few calls, each block then as noisy as the scheduler.
    """
    per_call_s(run, 3)
    estimate = min(per_call_s(run, 3) for _ in range(CALIBRATION_TRIES))
    return max(1, round(block_s / estimate))


def interleaved_ratio(run_a: Callable[[], object], run_b: Callable[[], object], pairs: int, block_s: float) -> dict:
    """B/A per-call time ratio from ``pairs`` pairs of blocks as quads ABBA, BAAB, ...

    Returns the Hodges-Lehmann ratio and interval (``lo``/``hi``), each side's median
    per-call time [s], the quads and the calls per block.
    """
    from reports.stats import hodges_lehmann, quad_log_ratio

    if pairs < 2 or pairs % 2:
        raise ValueError(f"pairs must be an even number >= 2, got {pairs!r}")
    calls = calls_per_block(run_a, block_s)
    sides = {"A": run_a, "B": run_b}
    d, a_all, b_all = [], [], []
    for quad in range(pairs // 2):
        order = "ABBA" if quad % 2 == 0 else "BAAB"
        times = {"A": [], "B": []}
        for side in order:
            times[side].append(per_call_s(sides[side], calls))
        d.append(quad_log_ratio(times["A"], times["B"]))
        a_all += times["A"]
        b_all += times["B"]
    shift = hodges_lehmann(d, CONFIDENCE)
    return {
        "ratio": math.exp(shift.estimate),
        "lo": math.exp(shift.lo) if shift.lo is not None else None,
        "hi": math.exp(shift.hi) if shift.hi is not None else None,
        "a_s": float(np.median(a_all)),
        "b_s": float(np.median(b_all)),
        "quads": len(d),
        "calls_per_block": calls,
    }


def top1(tflite: bytes, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 [fraction] of the ``.tflite`` on images ``x`` and labels ``y``, one image at a time."""
    from pipeline.infer import LiteRTRunner

    runner = LiteRTRunner(tflite, num_threads=1)
    predictions = np.array([int(np.argmax(runner.run(image))) for image in x])
    return float(np.mean(predictions == np.asarray(y)))


def variants(model, representative: np.ndarray) -> dict:
    """The float, dynamic-range and int8 :class:`pipeline.quantize.QuantizedModel` of ``model``."""
    from pipeline.quantize import quantize_tflite

    return {
        "float": quantize_tflite(model, "none"),
        "dynamic": quantize_tflite(model, "dynamic"),
        "int8": quantize_tflite(model, "int8", representative=representative),
    }


def measure_model(name: str, model, representative: np.ndarray, pairs: int, block_s: float) -> dict:
    """Sizes, kernel paths and interleaved latency ratios of one model's three variants."""
    from pipeline.infer import LiteRTRunner
    from pipeline.quantize import kernel_path

    converted = variants(model, representative)
    sample = representative[:1]
    runners = {key: LiteRTRunner(q.tflite, num_threads=1) for key, q in converted.items()}
    result = {
        "name": name,
        "sizes": {key: (q.model_bytes, q.model_bytes_gzip) for key, q in converted.items()},
        "kernels": {key: kernel_path(q.tflite) for key, q in converted.items()},
        "float_ops": {key: list(q.float_ops) for key, q in converted.items() if key == "int8"},
        "load_before": load_average(),
        "ratios": {},
    }
    for key in ("int8", "dynamic"):
        result["ratios"][key] = interleaved_ratio(
            lambda: runners["float"].run(sample), lambda r=runners[key]: r.run(sample), pairs, block_s
        )
    result["load_after"] = load_average()
    result["converted"] = converted
    return result


def sparse_sizes(model, representative: np.ndarray, pruning_factor: float) -> dict:
    """Raw and gzip sizes [byte] of the magnitude-pruned ``model``, float and int8, dense and sparse."""
    from pipeline.prune import magnitude_prune, strip_pruning
    from pipeline.quantize import quantize_tflite

    pruned = strip_pruning(magnitude_prune(model, pruning_factor))
    sizes = {}
    for mode in ("none", "int8"):
        for sparse in (False, True):
            q = quantize_tflite(pruned, mode, representative=representative if mode == "int8" else None, sparse=sparse)
            sizes[(mode, sparse)] = (q.model_bytes, q.model_bytes_gzip)
    return sizes


def run(preset: str = "quick", pairs: int = 40, block_s: float = 0.05, include_224: bool = True,
        sparse_pf: Sequence[float] = (0.7, 0.85), seed: int = 0) -> dict:
    """Every measurement of the module docstring, as a dict (``format_lines`` prints it)."""
    from fixtures.dataset import dataset_for
    from fixtures.model import load_base_model
    from fixtures.presets import get_preset
    from fixtures.tfenv import keras
    from pipeline.prune import filter_prune
    from pipeline.quantize import isa_features, representative_images

    p = get_preset(preset)
    dataset = dataset_for(p)
    model, info = load_base_model(p, dataset)
    representative = representative_images(dataset.x_train, seed=p.seed)
    out = {"isa": isa_features(), "preset": preset, "pairs": pairs, "block_s": block_s, "models": []}
    full = measure_model(f"{preset} full", model, representative, pairs, block_s)
    converted = full.pop("converted")
    out["top1"] = {key: top1(q.tflite, dataset.x_test, dataset.y_test) for key, q in converted.items()}
    out["top1"]["keras_manifest"] = info.top1_test
    out["test_images"] = len(dataset.y_test)
    out["models"].append(full)
    narrow = filter_prune(model, 0.7, images=dataset.x_train[:256])
    filtered = measure_model(f"{preset} filter pf 70 %", narrow, representative, pairs, block_s)
    filtered.pop("converted")
    out["models"].append(filtered)
    out["sparse"] = {pf: sparse_sizes(model, representative, pf) for pf in sparse_pf}
    if include_224:
        keras.utils.set_random_seed(seed)
        big = keras.applications.MobileNet(input_shape=(224, 224, 3), alpha=1.0, weights=None, classes=1000)
        images = np.random.default_rng(seed).uniform(-1, 1, (RANDOM_MODEL_SAMPLES, 224, 224, 3)).astype(np.float32)
        measured = measure_model("MobileNet 1.0/224 (random weights)", big, images, pairs, block_s)
        measured.pop("converted")
        out["models"].append(measured)
    return out


def _interval(r: dict) -> str:
    if r["lo"] is None:
        return "no interval"
    return f"[{r['lo']:.3f}, {r['hi']:.3f}]"


def _goal(name: str, key: str, ratio: float) -> str:
    if key != "int8":
        return ""
    goal = GOALS["latency_224"] if "224" in name else GOALS["latency_quick"]
    return f"  goal <= {goal}: {'met' if ratio <= goal else 'NOT met'}"


def format_lines(out: dict) -> list[str]:
    """The report of :func:`run` as text lines."""
    isa = ", ".join(f"{k}={'yes' if v else 'no' if v is False else '?'}" for k, v in out["isa"].items())
    lines = [f"CPU ISA: {isa}",
             f"{out['pairs']} pairs of blocks of ~{out['block_s'] * 1000:.0f} ms per ratio (quads ABBA/BAAB), one thread, "
             f"ratio = Hodges-Lehmann, {CONFIDENCE:.0%} interval"]
    for m in out["models"]:
        lines.append("")
        lines.append(f"== {m['name']}  ({m['load_before']} before, {m['load_after']} after)")
        for key, k in m["kernels"].items():
            builtin = ", ".join(k["builtin_ops"]) or "none"
            lines.append(f"  {key:8s} kernels: XNNPACK {'yes' if k['xnnpack'] else 'NO'}, {k['delegated_ops']}/{k['ops']} ops "
                         f"delegated in {k['partitions']} partition(s); built-in: {builtin}")
        if m["float_ops"].get("int8"):
            lines.append(f"  int8 float ops: {', '.join(m['float_ops']['int8'])}")
        for key, r in m["ratios"].items():
            lines.append(f"  {key}/float latency {r['ratio']:.3f} {_interval(r)}  (float {r['a_s'] * 1e3:.3f} ms, "
                         f"{key} {r['b_s'] * 1e3:.3f} ms, {r['calls_per_block']} calls/block){_goal(m['name'], key, r['ratio'])}")
        f_raw, f_gz = m["sizes"]["float"]
        for key, (raw, gz) in m["sizes"].items():
            goal = f"  goal <= {GOALS['size']}: {'met' if raw / f_raw <= GOALS['size'] else 'NOT met'}" if key == "int8" else ""
            lines.append(f"  {key:8s} size {raw:>10,d} B ({raw / f_raw:.3f}x), gzip {gz:>10,d} B ({gz / f_gz:.3f}x){goal}")
    lines.append("")
    lines.append(f"== {out['preset']} full, top-1 on the test split ({out['test_images']} images, LiteRT):")
    t = out["top1"]
    lines.append(f"  float {t['float']:.4f}, dynamic {t['dynamic']:.4f} ({t['dynamic'] - t['float']:+.4f}), "
                 f"int8 {t['int8']:.4f} ({t['int8'] - t['float']:+.4f}); Keras at training {t['keras_manifest']:.4f}")
    for pf, sizes in out["sparse"].items():
        lines.append(f"== {out['preset']} magnitude pf {pf:.0%}: sparse format vs dense")
        for mode in ("none", "int8"):
            (d_raw, d_gz), (s_raw, s_gz) = sizes[(mode, False)], sizes[(mode, True)]
            label = "float" if mode == "none" else mode
            lines.append(f"  {label:5s} dense {d_raw:>10,d} B (gzip {d_gz:,d}), sparse {s_raw:>10,d} B "
                         f"({s_raw / d_raw:.3f}x; gzip {s_gz:,d}, {s_gz / d_gz:.3f}x)")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.int8speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="quick", help="preset whose base model is measured (default: quick)")
    parser.add_argument("--pairs", type=int, default=40, help="pairs of blocks per ratio, even (default: 40)")
    parser.add_argument("--block-s", type=float, default=0.05, help="length of one block [s] (default: 0.05)")
    parser.add_argument("--no-224", dest="include_224", action="store_false",
                        help="skip MobileNet 1.0/224 (default: measured)")
    parser.add_argument("--sparse-pf", type=float, nargs="*", default=[0.7, 0.85],
                        help="magnitude pruning factors whose sparse-format sizes are measured (default: 0.7 0.85)")
    args = parser.parse_args(argv)
    try:
        out = run(args.preset, args.pairs, args.block_s, args.include_224, tuple(args.sparse_pf))
    except ValueError as error:
        print(f"int8speed: {error}", file=sys.stderr)
        return 2
    print("\n".join(format_lines(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
