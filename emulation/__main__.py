"""``python -m emulation``: show a profile, remove stale groups, measure what the profiles do.

    python -m emulation show --profile device [--profile-set cpu_quota=0.5]
    python -m emulation cleanup                     # what killed runs left; says which the OOM killer ended
    python -m emulation measure --model m.tflite     # the figures of docs/emulation.md

``workload`` and ``latency`` run one measurement under one profile (``measure``
starts them as subprocesses, so the calling process is never confined) and
print one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from emulation import cgroups, stale
from emulation.apply import apply_profile, choose_cpus
from emulation.load import REPO_ROOT, BackgroundLoad
from emulation.profiles import (ALLOW_OPTION, OVERRIDE_KEYS, PROFILES, Profile, ProfileNotEnforced, get_profile,
                                parse_overrides)
from emulation.threads import thread_env
from emulation.workload import cpu_bound_threads
from emulation.worker import uniform_input

#: Untimed LiteRT calls before timing [calls].
LATENCY_WARMUP_CALLS = 20


def describe(profile: Profile) -> list[str]:
    """What ``profile`` asks for and how this host would enforce it, as lines."""
    lines = [f"profile {profile.name}: {PROFILES[profile.name].description}"]
    lines += [f"  {k}: {v}" for k, v in profile.to_dict().items() if k not in ("name", "threads")]
    lines.append("  threads: " + ", ".join(f"{k}={v}" for k, v in profile.to_dict()["threads"].items()))
    lines.append(f"  affinity: CPUs {choose_cpus(os.sched_getaffinity(0), profile.cpus)} "
                 f"of {sorted(os.sched_getaffinity(0))} (sched_setaffinity, every thread)")
    for controller, value, unit in (("cpu", profile.cpu_quota, "CPU-s/s"), ("memory", profile.memory_bytes, "B")):
        if value is None:
            lines.append(f"  {controller}: not requested")
            continue
        try:
            place = cgroups.locate_controller(controller)
            lines.append(f"  {controller}: {value} {unit} via cgroup v{place.version} group "
                         f"{place.own_group / cgroups.group_name()}")
        except cgroups.CgroupUnavailable as exc:
            lines.append(f"  {controller}: {value} {unit} NOT enforceable here: {exc}")
    lines.append("  env: " + " ".join(f"{k}={v}" for k, v in thread_env(profile.threads).items()))
    return lines


def run_workload(profile: Profile, seconds: float, n_threads: int, allow_unenforced: bool) -> dict:
    applied = apply_profile(profile, allow_unenforced=allow_unenforced)
    try:
        return {"profile": applied.record(), "workload": cpu_bound_threads(seconds, n_threads)}
    finally:
        applied.release()


def run_latency(profile: Profile, model: str, n: int, allow_unenforced: bool) -> dict:
    """Batch-1 LiteRT latency [s] of ``model`` under ``profile`` (with its background load, if any)."""
    applied = apply_profile(profile, allow_unenforced=allow_unenforced)
    load = None
    try:
        if profile.load_workers:
            load = BackgroundLoad(model, profile.load_workers, threads_per_worker=profile.load_threads).start()
        from pipeline.infer import LiteRTRunner  # noqa: PLC0415 -- after apply_profile: BLAS reads the variables

        runner = LiteRTRunner(model, num_threads=profile.threads.litert)
        x = uniform_input(runner.input_shape)
        for _ in range(LATENCY_WARMUP_CALLS):
            runner.run(x)
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            runner.run(x)
            times.append(time.perf_counter() - t0)
        if load:
            load.check()
        out = {"latency_median_s": statistics.median(times), "latency_mean_s": statistics.fmean(times),
               "calls": n, "litert_threads": profile.threads.litert}
    finally:
        if load:
            load.stop()
        applied.release()
    return {"profile": applied.record(), "latency": out, "load": load.report() if load else None}


def run_saturation(profile: Profile, model: str, workers: list[int], seconds: float, allow_unenforced: bool) -> list[dict]:
    """The load achieved by each worker count under ``profile``: how the default N was chosen."""
    applied = apply_profile(profile, allow_unenforced=allow_unenforced)
    out = []
    try:
        for n in workers:
            with BackgroundLoad(model, n, threads_per_worker=profile.load_threads) as load:
                time.sleep(seconds)
                load.check()
            r = load.report()
            out.append({k: r[k] for k in ("workers", "cpus", "inferences_per_s", "cpu_share_total",
                                          "cpu_share_of_cpus", "cpu_share_per_worker", "start_s", "stop_s")})
    finally:
        applied.release()
    return out


def _subprocess_json(args: list[str]) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-m", "emulation", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"python -m emulation {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def run_measure(model: str | None, seconds: float, n: int, settings: list[str], allow_unenforced: bool,
                rounds: int = 3, loaded_settings: list[str] = ()) -> dict:
    """The figures, each profile in its own process, alternating the order over ``rounds`` rounds.

    device / edge-idle: ratio of wall time for the same two-thread sha256 work
    (inverse ratio of throughput, median over rounds); edge-loaded / edge-idle:
    ratio of mean batch-1 LiteRT latency of ``model`` (median over rounds).
    ``settings`` apply to every profile, ``loaded_settings`` to edge-loaded only.
    On a shared host the CPU/wall figures recorded beside them show contention.
    """
    loadavg_before = os.getloadavg()
    extra = [ALLOW_OPTION] if allow_unenforced else []
    sets = [a for s in settings for a in ("--profile-set", s)]

    def alternate(pair):
        return [pair if r % 2 == 0 else pair[::-1] for r in range(rounds)]

    work: dict[str, list] = {"device": [], "edge-idle": []}
    for order in alternate(("device", "edge-idle")):
        for p in order:
            work[p].append(_subprocess_json(["workload", "--profile", p, "--seconds", str(seconds), *sets, *extra]))
    rate = {p: statistics.median(w["workload"]["bytes_per_s"] for w in runs) for p, runs in work.items()}
    out = {"rounds": rounds, "workload": work, "workload_bytes_per_s_median": rate,
           "device_over_edge_idle_wall_time": rate["edge-idle"] / rate["device"]}
    if model:
        lat: dict[str, list] = {"edge-idle": [], "edge-loaded": []}
        for order in alternate(("edge-idle", "edge-loaded")):
            for p in order:
                more = [a for s in loaded_settings for a in ("--profile-set", s)] if p == "edge-loaded" else []
                lat[p].append(_subprocess_json(["latency", "--profile", p, "--model", model, "--n", str(n),
                                                *sets, *more, *extra]))
        # the mean, not the median: under load a share of the calls is preempted, and the median hides them
        mean = {p: statistics.median(r["latency"]["latency_mean_s"] for r in runs) for p, runs in lat.items()}
        out.update(latency=lat, latency_mean_s=mean,
                   edge_loaded_over_edge_idle_latency=mean["edge-loaded"] / mean["edge-idle"])
    out["loadavg_before"] = loadavg_before
    out["loadavg_after"] = os.getloadavg()
    return out


def format_measure(result: dict) -> list[str]:
    lines = []
    for p, runs in result["workload"].items():
        for w in runs:
            wl = w["workload"]
            lines.append(f"{p:12s} two-thread sha256: {wl['bytes_per_s'] / 1e6:8.1f} MB/s, "
                         f"CPU/wall {wl['cpu_per_wall']:.2f}")
    lines.append(f"device / edge-idle wall time for the same work (median of {result['rounds']} rounds): "
                 f"{result['device_over_edge_idle_wall_time']:.2f}")
    for p, runs in result.get("latency", {}).items():
        for r in runs:
            line = (f"{p:12s} LiteRT batch-1 mean {r['latency']['latency_mean_s'] * 1e3:.3f} ms "
                    f"(median {r['latency']['latency_median_s'] * 1e3:.3f} ms)")
            if r["load"]:
                ld = r["load"]
                line += (f"; load: {ld['workers']} workers, {ld['inferences_per_s']:.0f} inf/s, CPU share "
                         f"{ld['cpu_share_total']:.2f} of {len(ld['cpus'])} CPUs, start {ld['start_s']:.2f} s, "
                         f"stop {ld['stop_s']:.2f} s")
            lines.append(line)
    if "edge_loaded_over_edge_idle_latency" in result:
        lines.append(f"edge-loaded / edge-idle LiteRT mean latency (median of {result['rounds']} rounds): "
                     f"{result['edge_loaded_over_edge_idle_latency']:.2f}")
    lines.append(f"load average before / after: {result['loadavg_before']} / {result['loadavg_after']}")
    return lines


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m emulation", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def profile_args(p, default=None):
        p.add_argument("--profile", choices=sorted(PROFILES), default=default, required=default is None,
                       help=f"hardware profile (default: {default})")
        p.add_argument("--profile-set", action="append", default=[], metavar="KEY=VALUE",
                       help=f"override a profile value; keys: {', '.join(OVERRIDE_KEYS)} (default: none)")
        p.add_argument(ALLOW_OPTION, action="store_true", help="go on when a limit cannot be enforced (default: off)")

    profile_args(sub.add_parser("show", help="print the resolved profile and what would be enforced"))
    c = sub.add_parser("cleanup", help="remove what dead runs left (continuum-bench-<pid> groups, load folders) and "
                                       "say which were killed by their memory limit")
    c.add_argument("--json", action="store_true", help="print the entries as JSON instead of lines (default: off)")
    w = sub.add_parser("workload", help="run the two-thread CPU workload under a profile (JSON)")
    profile_args(w)
    w.add_argument("--seconds", type=float, default=3.0, help="duration [s] (default: 3)")
    w.add_argument("--threads", type=int, default=2, help="threads (default: 2)")
    lt = sub.add_parser("latency", help="batch-1 LiteRT latency under a profile, with its load (JSON)")
    profile_args(lt)
    lt.add_argument("--model", required=True, help=".tflite model")
    lt.add_argument("--n", type=int, default=300, help="timed calls (default: 300)")
    sat = sub.add_parser("saturation", help="load achieved per worker count under a profile (JSON lines)")
    profile_args(sat, default="edge-idle")
    sat.add_argument("--model", required=True, help=".tflite model")
    sat.add_argument("--workers", default="1,2,4,8", help="comma-separated worker counts (default: 1,2,4,8)")
    sat.add_argument("--seconds", type=float, default=4.0, help="sampling time per count [s] (default: 4)")
    m = sub.add_parser("measure", help="the figures: device/edge-idle and edge-loaded/edge-idle ratios")
    m.add_argument("--model", default=None, help=".tflite model for the latency ratio (default: skip it)")
    m.add_argument("--seconds", type=float, default=3.0, help="workload duration [s] (default: 3)")
    m.add_argument("--n", type=int, default=300, help="timed LiteRT calls (default: 300)")
    m.add_argument("--profile-set", action="append", default=[], metavar="KEY=VALUE", help="(default: none)")
    m.add_argument(ALLOW_OPTION, action="store_true", help="(default: off)")
    m.add_argument("--loaded-set", action="append", default=[], metavar="KEY=VALUE",
                   help="override for edge-loaded only, e.g. load_workers=25 (default: none)")
    m.add_argument("--rounds", type=int, default=3, help="alternating rounds per profile (default: 3)")
    m.add_argument("--json", action="store_true", help="print the full JSON instead of lines (default: off)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (ValueError, ProfileNotEnforced) as exc:  # bad --profile-set, an unenforceable limit, an unwritable note
        print(f"python -m emulation {args.command}: {exc}", file=sys.stderr)
        return 2


def _run(args) -> int:
    if args.command == "cleanup":
        groups, dirs = stale.remove_stale_groups(), stale.remove_stale_load_dirs()
        if args.json:
            print(json.dumps({"groups": groups, "load_dirs": dirs}, indent=1))
        else:
            print("\n".join(stale.stale_messages(groups, dirs) or ["nothing left by dead runs"]))
        return 0
    if args.command == "measure":
        result = run_measure(args.model, args.seconds, args.n, args.profile_set, args.allow_unenforced, args.rounds,
                             args.loaded_set)
        print(json.dumps(result, indent=1) if args.json else "\n".join(format_measure(result)))
        return 0
    profile = get_profile(args.profile, parse_overrides(args.profile_set))
    if args.command == "show":
        print("\n".join(describe(profile)))
    elif args.command == "workload":
        print(json.dumps(run_workload(profile, args.seconds, args.threads, args.allow_unenforced)))
    elif args.command == "saturation":
        counts = [int(w) for w in args.workers.split(",")]
        for row in run_saturation(profile, args.model, counts, args.seconds, args.allow_unenforced):
            print(json.dumps(row))
    elif args.command == "latency":
        print(json.dumps(run_latency(profile, args.model, args.n, args.allow_unenforced)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
