"""One background inference worker: ``python -m emulation.worker --model m.tflite --slot 3 ...``.

Runs batch-1 LiteRT inference of the model in a loop through the suite's own
inference code (``pipeline.infer.LiteRTRunner``, which needs only ai-edge-litert
and NumPy). After its warm-up inference
it writes one line ``ready {json}`` to stdout (the readiness barrier), then
publishes its inference count in its 16-byte slot of the counters file
(uint64 count, float64 monotonic time) after every inference. It dies with its
parent (PR_SET_PDEATHSIG, and a parent-pid check) and never imports TensorFlow.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import mmap
import os
import signal
import struct
import sys
import time

#: Layout of one worker's slot in the counters file: inferences done, monotonic time [s].
SLOT_FORMAT = "<Qd"
SLOT_BYTES = struct.calcsize(SLOT_FORMAT)
PR_SET_PDEATHSIG = 1
#: How often the worker checks that its parent is still there [s].
PARENT_CHECK_S = 1.0


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent thread exits; False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


def uniform_input(shape):
    """A deterministic float32 numpy array of ``shape`` in [-1, 1] (the preprocessed input range)."""
    import numpy as np  # noqa: PLC0415

    return np.random.default_rng(0).uniform(-1, 1, size=shape).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulation.worker", description=__doc__)
    parser.add_argument("--model", required=True, help="path of the .tflite model")
    parser.add_argument("--threads", type=int, default=1, help="LiteRT threads (default: 1)")
    parser.add_argument("--slot", type=int, required=True, help="index of this worker's counter slot")
    parser.add_argument("--counters", required=True, help="counters file shared with the parent")
    parser.add_argument("--parent-pid", type=int, required=True, help="exit when this is no longer the parent")
    parser.add_argument("--cpus", default=None, help="comma-separated CPUs to pin to (default: inherited)")
    args = parser.parse_args(argv)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent stops us
    set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != args.parent_pid:
        return 3  # the parent died before the death signal was armed
    if args.cpus:
        os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})

    t0 = time.perf_counter()
    from pipeline.infer import LiteRTRunner  # noqa: PLC0415 -- after the death signal is armed

    runner = LiteRTRunner(args.model, num_threads=args.threads)
    x = uniform_input(runner.input_shape)
    t1 = time.perf_counter()
    runner.run(x)
    t2 = time.perf_counter()

    with open(args.counters, "r+b") as fh:
        counters = mmap.mmap(fh.fileno(), 0)
    offset = args.slot * SLOT_BYTES
    struct.pack_into(SLOT_FORMAT, counters, offset, 1, time.monotonic())
    ready = {"pid": os.getpid(), "runner": "pipeline.infer.LiteRTRunner", "init_s": t1 - t0, "warmup_s": t2 - t1,
             "cpus": sorted(os.sched_getaffinity(0))}
    sys.stdout.write("ready " + json.dumps(ready) + "\n")
    sys.stdout.flush()
    os.dup2(2, 1)  # nothing else goes to the readiness pipe

    count = 1
    next_check = time.monotonic() + PARENT_CHECK_S
    while True:
        runner.run(x)
        count += 1
        now = time.monotonic()
        struct.pack_into(SLOT_FORMAT, counters, offset, count, now)
        if now >= next_check:
            if os.getppid() != args.parent_pid:
                return 3
            next_check = now + PARENT_CHECK_S


if __name__ == "__main__":
    sys.exit(main())
