"""One side of a paired gate run (``continuum-bench gate --against REF``): a measuring process.

The coordinator (harness/paired_runner.py, no TensorFlow) starts one worker per side,
each with its own side's Python and checkout, so the code *and* the dependencies of
each side are what is timed. It speaks JSON lines: one request per line on stdin,
one answer per line on stdout (TensorFlow's own chatter goes to stderr: fd 1 is
redirected there at start and the protocol writes to a duplicate of the original).

Start-up (arguments): apply the profile to this process before TensorFlow is
imported (emulation.apply, the same code a benchmark session uses), build the cases'
models with this side's code -- the preset's MobileNet with *seeded random weights*,
pruned and converted untimed, as harness/counts.py prepares its counted models
(batch-1 inference of a dense model takes the same time whatever its weight values,
so no trained model is needed) -- warm every case up, then answer
``{"ready": true, "info": {...}}``.

Requests:

- ``{"op": "probe", "case": ID}`` -> ``{"seconds": s}``: median of a few untimed calls;
- ``{"op": "block", "case": ID, "calls": N}`` -> ``{"seconds": s, "cpu_seconds": c}``: wall
  time of N consecutive calls of the case's timed callable (the one test_inference.py
  times), and the CPU time this process spent meanwhile (all its threads; without the
  time it waited for a CPU that other processes held);
- ``{"op": "renew", "case": ID}`` -> ``{"seconds": s}``: replace the case's runner by a fresh
  one (a new LiteRT interpreter and tensor arena, or a newly traced ``tf.function``),
  warmed up, untimed; where a runner's memory lands moved LiteRT's time per call by up
  to 3 % between two interpreters of one model, so the coordinator renews between quads;
- ``{"op": "quit"}`` -> exits 0. End of input exits too (the coordinator died).

Models once per side (the coordinator starts several workers per side over a run):
``--save-models DIR`` builds the cases' models as above, writes each as ``DIR/<pf>-<method>.keras``
and ``.tflite`` and exits 0 without serving; ``--models DIR`` loads them instead of building
(the same bytes in every worker of that side, seconds instead of tens of seconds).

``--inject-slowdown OP=SHARE`` wraps the timed callable in harness.inject's
:class:`InjectedCall` (the candidate side only: the coordinator never passes it to
the baseline). Errors end the process with a non-zero status and the reason on
stderr; the coordinator puts the tail of stderr in its error.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

#: Untimed calls of each case after its runner is built (its first call is slow).
WARMUP_CALLS = 5
#: Calls whose median answers a probe.
PROBE_CALLS = 5
#: The requests this worker answers (its ready line lists them: a coordinator checks for renew).
OPS = ("probe", "block", "renew", "quit")
#: What this worker's command line offers beyond the requests (its ready line lists them).
FEATURES = ("models",)
#: ``--profile none``: no profile applied.
NO_PROFILE = "none"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m harness.paired_worker", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="device", help="hardware profile applied to this process, or none (default: device)")
    parser.add_argument("--profile-set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a profile setting, repeatable (default: none)")
    parser.add_argument("--allow-unenforced", action="store_true",
                        help="go on when a limit cannot be enforced (default: refuse)")
    parser.add_argument("--preset", default="quick", help="preset of the models (default: quick)")
    parser.add_argument("--case", action="append", required=True, metavar="ID",
                        help="inference case id like full-litert or pf=70-filter-keras, repeatable (required)")
    parser.add_argument("--inject-slowdown", action="append", default=[], metavar="OP=SHARE",
                        help="extra real work of operation OP (harness/inject.py) (default: none)")
    models = parser.add_mutually_exclusive_group()
    models.add_argument("--save-models", default=None, metavar="DIR",
                        help="build the cases' models into DIR and exit (default: build and serve)")
    models.add_argument("--models", default=None, metavar="DIR",
                        help="load the cases' models from DIR (written by --save-models) instead of building them")
    return parser.parse_args(argv)


def parse_case(case: str) -> tuple[float, str | None, str]:
    """``pf=70-filter-litert`` -> ``(0.7, "filter", "litert")``; ``full-keras`` -> ``(0.0, None, "keras")``."""
    parts = case.split("-")
    runtimes = ("keras", "litert")
    if len(parts) == 2 and parts[0] == "full" and parts[1] in runtimes:
        return 0.0, None, parts[1]
    if len(parts) == 3 and parts[0].startswith("pf=") and parts[1] in ("magnitude", "filter") and parts[2] in runtimes:
        try:
            pf = int(parts[0][3:]) / 100
        except ValueError:
            pf = -1.0
        if 0 < pf < 1:
            return pf, parts[1], parts[2]
    raise ValueError(f"case {case!r}: expected full-<runtime> or pf=<percent>-<magnitude|filter>-<runtime> "
                     f"with runtime keras or litert, e.g. pf=70-filter-litert")


def model_key(pf: float, method: str | None) -> str:
    """The file stem of a case's model in a models folder: ``70-filter``, ``0-full``."""
    return f"{round(pf * 100)}-{method or 'full'}"


def build_models(cases: list[str], preset) -> dict:
    """(pf, method) -> (Keras model, LiteRT flatbuffer) for the cases, from the preset's MobileNet with
    seeded random weights (module docstring)."""
    from fixtures.model import build_mobilenet
    from fixtures.tfenv import keras
    from pipeline.infer import to_tflite
    from pipeline.prune import filter_prune, magnitude_prune, strip_pruning

    keras.utils.set_random_seed(preset.seed)
    base = build_mobilenet(preset)
    prune = {"magnitude": magnitude_prune, "filter": filter_prune}
    models: dict = {}
    for case in cases:
        pf, method, _ = parse_case(case)
        if (pf, method) not in models:
            model = base if pf == 0 else strip_pruning(prune[method](base, pf))
            models[(pf, method)] = (model, to_tflite(model))
    return models


def save_models(cases: list[str], preset, folder: str) -> None:
    """Build the cases' models and write them to ``folder`` (``<key>.keras``, ``<key>.tflite``)."""
    os.makedirs(folder, exist_ok=True)
    for (pf, method), (model, flatbuffer) in build_models(cases, preset).items():
        stem = os.path.join(folder, model_key(pf, method))
        model.save(stem + ".keras")
        with open(stem + ".tflite", "wb") as f:
            f.write(flatbuffer)


def build_factories(cases: list[str], preset, threads: dict, folder: str | None = None) -> dict:
    """case -> a zero-argument factory of its runner; the models built here, once, or read from
    ``folder`` (written by :func:`save_models`)."""
    from pipeline.infer import KerasRunner, LiteRTRunner

    keras_threads, litert_threads = threads["tensorflow_intra_op"], threads["litert"] or 1
    factories = {}
    if folder is None:
        models = build_models(cases, preset)
        for case in cases:
            pf, method, runtime = parse_case(case)
            model, flatbuffer = models[(pf, method)]
            factories[case] = ((lambda m=model: KerasRunner(m, num_threads=keras_threads)) if runtime == "keras"
                               else (lambda b=flatbuffer: LiteRTRunner(b, num_threads=litert_threads)))
        return factories
    from fixtures.tfenv import keras

    loaded: dict = {}  # one Keras model per file, as when built here
    for case in cases:
        pf, method, runtime = parse_case(case)
        stem = os.path.join(folder, model_key(pf, method))
        if runtime == "keras":
            if stem not in loaded:
                loaded[stem] = keras.models.load_model(stem + ".keras", compile=False)
            factories[case] = (lambda m=loaded[stem]: KerasRunner(m, num_threads=keras_threads))
        else:
            with open(stem + ".tflite", "rb") as f:
                factories[case] = (lambda b=f.read(): LiteRTRunner(b, num_threads=litert_threads))
    return factories


class Calls(dict):
    """case -> the zero-argument callable a block times, ``runner.run(sample)``; with an injected
    slowdown of ``inference`` wrapped in harness.inject's InjectedCall (one per case, kept when
    :meth:`renew` replaces the runner, so its count of extra calls runs on over the whole run)."""

    def __init__(self, factories: dict, sample, injections: dict) -> None:
        super().__init__()
        self._factories, self._sample = factories, sample
        self._share = injections.get("inference")
        self._injected: dict = {}
        for case in factories:
            self.renew(case)

    def renew(self, case: str) -> None:
        """A fresh runner for ``case``, warmed up with :data:`WARMUP_CALLS` calls."""
        run = self._factories[case]().run
        if self._share is not None:
            from harness.inject import InjectedCall

            injected = self._injected.setdefault(case, InjectedCall(run, self._share))
            injected.fn = run
            run = injected
        sample = self._sample
        call = (lambda: run(sample))
        for _ in range(WARMUP_CALLS):
            call()
        self[case] = call


def serve(calls: dict, out, stdin) -> int:
    clock, cpu_clock = time.perf_counter, time.process_time
    for line in stdin:
        request = json.loads(line)
        op = request.get("op")
        if op == "quit":
            return 0
        call = calls.get(request.get("case"))
        if call is None:
            raise ValueError(f"request {line.strip()!r}: unknown case; this worker has {sorted(calls)}")
        if op == "renew":  # a fresh runner (a new interpreter and arena): untimed, between quads
            start = clock()
            calls.renew(request["case"])
            answer = {"seconds": clock() - start}
        elif op == "block":
            n = int(request["calls"])
            cpu_start = cpu_clock()
            start = clock()
            for _ in range(n):
                call()
            elapsed = clock() - start
            answer = {"seconds": elapsed, "cpu_seconds": cpu_clock() - cpu_start}
        elif op == "probe":
            times = []
            for _ in range(PROBE_CALLS):
                start = clock()
                call()
                times.append(clock() - start)
            answer = {"seconds": statistics.median(times)}
        else:
            raise ValueError(f"request {line.strip()!r}: unknown op {op!r} ({', '.join(OPS)})")
        out.write(json.dumps(answer) + "\n")
        out.flush()
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    out = os.fdopen(os.dup(1), "w")  # the protocol; anything else printed on fd 1 goes to stderr
    os.dup2(2, 1)
    for case in args.case:
        parse_case(case)
    from emulation.apply import apply_profile
    from emulation.profiles import get_profile, parse_overrides

    # "none": the libraries' own thread pools, no affinity or limits (as pytest --profile none)
    applied = None if args.profile == NO_PROFILE else apply_profile(
        get_profile(args.profile, parse_overrides(args.profile_set)), allow_unenforced=args.allow_unenforced)
    try:
        from harness.inject import parse_injections
        from fixtures.presets import get_preset

        injections = parse_injections(args.inject_slowdown)
        preset = get_preset(args.preset)
        started = time.perf_counter()
        if args.save_models:
            save_models(args.case, preset, args.save_models)
            return 0
        from emulation.threads import configure_tensorflow_threads

        threads = configure_tensorflow_threads(applied) if applied else {"tensorflow_intra_op": None, "litert": None}
        factories = build_factories(args.case, preset, threads, args.models)
        import numpy as np

        shape = factories[args.case[0]]().input_shape
        sample = np.random.default_rng(preset.seed).random((1, *shape[1:]), dtype=np.float32)
        calls = Calls(factories, sample, injections)
        import importlib.metadata as md

        info = {
            "pid": os.getpid(),
            "python": sys.executable,
            "cwd": os.getcwd(),
            "cpus": applied.cpus if applied else sorted(os.sched_getaffinity(0)),
            "prepare_s": time.perf_counter() - started,
            "injected_slowdown": {op: float(s) for op, s in injections.items()},
            "versions": {p: md.version(p) for p in ("tensorflow", "tf-keras", "ai-edge-litert", "numpy")},
            "unenforced": applied.unenforced() if applied else {},
            "ops": list(OPS),
            "features": list(FEATURES),
            "models": args.models,
            "hash_seed": os.environ.get("PYTHONHASHSEED"),
            "environ_bytes": sum(len(k) + len(v) + 2 for k, v in os.environ.items()),
        }
        out.write(json.dumps({"ready": True, "info": info}) + "\n")
        out.flush()
        return serve(calls, out, sys.stdin)
    finally:
        if applied is not None:
            applied.release()


if __name__ == "__main__":
    sys.exit(main())
