"""A ``.tflite`` write counted in fresh processes, each under a valgrind of its own.

Why: counted inside the one valgrind process that runs every case, a write's count moved
between runs by 100-500 instructions a call, the same in every region of that process
(docs/counts.md, "Serialization"): a state of the process, set by what ran before (pytest,
the inference cases), not an event inside a region. A fresh process that only reads the
model and writes it reaches the region in the same state every time, so its count repeats.

Parent (the counted case, itself under valgrind): :func:`count_write` runs ``processes``
times::

    valgrind --tool=callgrind ... python -S -m harness.freshcount MODEL PATH \\
        --warmup=W --calls=N --extra-calls=E --label=LABEL --library=HELPER

one after the other (valgrind follows no ``exec`` without ``--trace-children``, so each
child runs under its own valgrind, with the counted run's options), and :func:`median_count`
takes the process with the median per-call count. A child gets a fixed environment
(:func:`child_environment`), not the caller's: one more variable (``TF_USE_LEGACY_KERAS=1``,
which tox sets) moved a write's count by 33 instructions a call, so a count made from tox
and one made from a shell would differ. Nor may a child compile the suite's sources: the
first child after an edit of ``pipeline/serialize.py`` compiled it and read 0.07 % fewer
instructions a call than the children after it, which read the ``.pyc`` it wrote. So the
parent brings the ``.pyc`` files of :data:`SOURCE_PACKAGES` up to date first
(:func:`compile_sources`) and children never write one (``PYTHONDONTWRITEBYTECODE``). And a
child runs with ``python -S``: no ``site``, so no ``.pth`` file of the environment runs in it
(tox reinstalls the suite's editable finder every run; the same write read 74 instructions a
call more from tox than from a shell before); it needs only the standard library and the
suite's own packages, found from the working folder (the repository).

Child (:func:`main`): reads MODEL's bytes and builds the timed case's callable,
``serialize_model(source, "tflite", PATH, compressed=False)`` (benchmarks/test_serialization.py),
calls it W times uncounted, counts N calls as one region, then an empty region (its cost is
subtracted), then E more calls in a region of their own (``--inject-slowdown``), and prints
one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from harness import callgrind

#: Fresh processes per counted write; the count is their median. One: 3 processes per write gave
#: the same count to the instruction for all 11 writes (docs/counts.md), and each costs 2-6 s.
PROCESSES = 1
#: Seconds one child may take (it takes 2-6 s: valgrind's start, Python's, 20 + 100 + E writes).
CHILD_TIMEOUT_S = 300.0
RESULT_PREFIX = "RESULT "
REPO = Path(__file__).resolve().parents[1]
#: The suite's packages a child imports from (harness.callgrind, fixtures.cache, pipeline.serialize).
SOURCE_PACKAGES = ("harness", "fixtures", "pipeline")


@dataclass(frozen=True)
class WriteCount:
    """The regions one fresh process counted (instructions; ``injected`` None without extra calls)."""

    calls: int
    region: int
    empty: int
    extra_calls: int
    injected: int | None
    region_wall_s: float

    @property
    def per_call(self) -> float:
        """Instructions per call of the counted region, the empty region's cost subtracted."""
        return (self.region - self.empty) / self.calls

    @property
    def extra_per_call(self) -> float | None:
        """Instructions per call of the extra (``--inject-slowdown``) region, or None."""
        if self.injected is None:
            return None
        return (self.injected - self.empty) / self.extra_calls


def median_count(counts: Sequence[WriteCount]) -> WriteCount:
    """The count with the median ``per_call`` (the lower middle one of an even number)."""
    if not counts:
        raise ValueError("no counts to take the median of")
    ordered = sorted(counts, key=lambda count: count.per_call)
    return ordered[(len(ordered) - 1) // 2]


def child_command(model: Path | str, path: Path | str, *, warmup: int, calls: int, extra_calls: int,
                  label: str, out_file: str, library: Path | str, valgrind: str | None = None) -> list[str]:
    """The command of one fresh counted process (see the module docstring)."""
    return [
        *callgrind.valgrind_command(out_file, valgrind=valgrind),
        sys.executable, "-S", "-m", "harness.freshcount", str(model), str(path),
        f"--warmup={warmup}", f"--calls={calls}", f"--extra-calls={extra_calls}", f"--label={label}",
        f"--library={library}",
    ]


def child_environment(out_file: str, hash_seed: str) -> dict[str, str]:
    """The whole environment of a fresh counted process: the same in every run, whatever the caller's."""
    return {"PATH": os.defpath, "PYTHONHASHSEED": hash_seed, "PYTHONDONTWRITEBYTECODE": "1",
            callgrind.OUT_FILE_ENV_VARIABLE: out_file}


@functools.cache
def compile_sources(root: Path = REPO) -> None:
    """Bring the ``.pyc`` files of :data:`SOURCE_PACKAGES` up to date, so every child reads them
    (raises :class:`RuntimeError` where one does not compile).

    Once per process: under valgrind it takes ~2 s, and the sources do not change during a run.
    """
    import compileall

    for package in SOURCE_PACKAGES:
        if not compileall.compile_dir(root / package, quiet=2):
            raise RuntimeError(f"compileall failed on {root / package}")


def count_write(model: Path | str, path: Path | str, *, warmup: int, calls: int, extra_calls: int = 0,
                label: str, processes: int = PROCESSES) -> list[WriteCount]:
    """Count the write of ``model``'s bytes to ``path`` in ``processes`` fresh valgrind processes.

    Needs :data:`harness.callgrind.OUT_FILE_ENV_VARIABLE` (set in a counted session);
    raises :class:`RuntimeError` with the child's output when a child fails.
    """
    from harness.counts import HASH_SEED

    if processes < 1:
        raise ValueError(f"processes must be >= 1, got {processes!r}")
    out_file = os.environ.get(callgrind.OUT_FILE_ENV_VARIABLE)
    if not out_file:
        raise callgrind.CallgrindUnavailable(f"${callgrind.OUT_FILE_ENV_VARIABLE} is not set: the dump file is unknown")
    command = child_command(model, path, warmup=warmup, calls=calls, extra_calls=extra_calls, label=label,
                            out_file=out_file, library=callgrind.build_helper())
    env = child_environment(out_file, HASH_SEED)
    compile_sources()
    counts = []
    for _ in range(processes):
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=REPO, env=env,
                                timeout=CHILD_TIMEOUT_S)
        lines = [line for line in result.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
        if result.returncode != 0 or len(lines) != 1:
            raise RuntimeError(f"fresh counted process {command} exited {result.returncode}: "
                               f"{(result.stdout + result.stderr)[-2000:]}")
        counts.append(WriteCount(**json.loads(lines[0].removeprefix(RESULT_PREFIX))))
    return counts


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m harness.freshcount",
                                     description="Count a .tflite write in this process (run under valgrind).")
    parser.add_argument("model", type=Path, help="the .tflite flatbuffer whose bytes are written")
    parser.add_argument("path", type=Path, help="where they are written (the timed case's path)")
    parser.add_argument("--warmup", type=int, required=True, help="uncounted calls before the region")
    parser.add_argument("--calls", type=int, required=True, help="calls counted as one region")
    parser.add_argument("--extra-calls", type=int, default=0,
                        help="calls counted in a region of their own after it (--inject-slowdown; default: 0)")
    parser.add_argument("--label", required=True, help="label of the region's dump")
    parser.add_argument("--library", type=Path, default=None,
                        help="the compiled client-request helper (default: built or found in the cache)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    if args.calls < 1 or args.warmup < 0 or args.extra_calls < 0:
        raise ValueError(f"calls must be >= 1, warmup and extra calls >= 0; got {args.calls}, {args.warmup}, "
                         f"{args.extra_calls}")
    from pipeline.serialize import serialize_model

    counter = callgrind.Counter(args.library)
    if not counter.running_on_valgrind:
        print("freshcount: this process does not run under valgrind: nothing can be counted", file=sys.stderr)
        return 1
    source = args.model.read_bytes()
    path = args.path
    fn = lambda: serialize_model(source, "tflite", path, compressed=False)  # noqa: E731 (as test_counts.py)
    for _ in range(args.warmup):
        fn()
    started = time.perf_counter()
    counter.region(fn, args.calls)
    region_wall_s = time.perf_counter() - started
    region = counter.dump(args.label).instructions
    counter.region(fn, 0)
    empty = counter.dump(args.label + " (empty region)").instructions
    injected = None
    if args.extra_calls:
        counter.region(fn, args.extra_calls)
        injected = counter.dump(args.label + " (injected extra calls)").instructions
    result = {"calls": args.calls, "region": region, "empty": empty, "extra_calls": args.extra_calls,
              "injected": injected, "region_wall_s": region_wall_s}
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
