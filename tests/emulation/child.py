"""A process that applies a profile (and optionally starts the load) for the tests to poke.

``python -m tests.emulation.child '<json>'`` with keys: ``profile``, ``overrides``,
``allow_unenforced``, ``cgroup_root``, ``model`` (starts the background load),
``workload_s`` (runs the two-thread CPU workload and reports CPU/wall),
``tf_threads`` (imports TensorFlow and sets its pools from the profile),
``tf_threads_after_first_op`` (then runs an op and asks for these ThreadCounts fields),
``then``: "exit" (release and exit 0), "raise" (raise RuntimeError), "wait"
(sleep until signalled), "check" (poll load.check() until a worker dies),
"oom_child" (start a child that allocates ``hog_bytes``, wait for it, report
``held_problems``), "hog" (allocate ``hog_bytes`` itself: the memory limit kills it), "escape" (widen this process's affinity back to every
allowed CPU, report ``held_problems``).
``plant`` (before applying, as another process could have): "note_dir" (folders at the
note's name and at its former fixed temporary name), "own_groups" (empty cpu and memory
groups named after this process's pid, as a killed earlier holder of the pid leaves them).
``tamper`` (after applying): {"cpu_quota": CPU-s/s, "memory_bytes": B} rewritten into the
created groups behind the profile's back, then "held" reports ``held_problems``.
``write_scale`` (while applying): {"cpu_quota": factor, "memory_bytes": factor}: write
that limit times the factor, as a hierarchy that clamps the value would leave it.
It prints one JSON line ``{"event": "ready", ...}`` once everything is applied.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

from emulation import cgroups, stale
from emulation.apply import apply_profile
from emulation.load import BackgroundLoad, WorkerDied
from emulation.profiles import ProfileNotEnforced, get_profile
from emulation.workload import cpu_bound_threads


def emit(event: str, **data) -> None:
    sys.stdout.write(json.dumps({"event": event, **data}) + "\n")
    sys.stdout.flush()


def plant(what: str | None) -> list[str]:
    if what == "note_dir":
        note = stale.note_path()
        paths = [note, note.with_name(note.name + ".partial")]
        for path in paths:
            path.mkdir()
        return [str(p) for p in paths]
    if what == "own_groups":
        paths = [cgroups.locate_controller(c).own_group / cgroups.group_name() for c in ("cpu", "memory")]
        for path in paths:
            path.mkdir()  # a plain mkdir: not create_group, which would count the group as this process's
        return [str(p) for p in paths]
    return []


def tamper(applied, values: dict) -> None:
    for controller, group in applied._groups.items():
        if controller == "cpu" and "cpu_quota" in values:
            cgroups.write_cpu_quota(group.place, group.path, values["cpu_quota"])
        if controller == "memory" and "memory_bytes" in values:
            cgroups.write_memory_limit(group.place, group.path, values["memory_bytes"])


def scale_writes(factors: dict) -> None:
    write_quota, write_memory = cgroups.write_cpu_quota, cgroups.write_memory_limit
    quota_factor, memory_factor = factors.get("cpu_quota", 1), factors.get("memory_bytes", 1)
    cgroups.write_cpu_quota = lambda place, group, quota: write_quota(place, group, quota * quota_factor)
    cgroups.write_memory_limit = lambda place, group, limit: write_memory(place, group, int(limit * memory_factor))


def main(spec: dict) -> int:
    # Take Ctrl-C as a foreground program does, whatever the test runner's disposition: started
    # as a shell's background job (nohup, CI wrappers) the runner ignores SIGINT, its children
    # inherit that, and the profile rightly leaves an ignored signal ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    profile = get_profile(spec.get("profile", "device"), spec.get("overrides"))
    planted = plant(spec.get("plant"))
    if spec.get("write_scale"):
        scale_writes(spec["write_scale"])
    try:
        applied = apply_profile(profile, allow_unenforced=spec.get("allow_unenforced", False),
                                cgroup_root=spec.get("cgroup_root"))
    except ProfileNotEnforced as exc:
        emit("not_enforced", message=str(exc), reasons=exc.reasons)
        return 2
    except stale.NoteNotWritable as exc:
        emit("refused", message=str(exc), planted=planted)
        return 4
    if spec.get("tamper"):
        tamper(applied, spec["tamper"])
        emit("held", problems=applied.held_problems())
        applied.release()
        return 0
    load = None
    if spec.get("model"):
        load = BackgroundLoad(spec["model"], profile.load_workers or 1, threads_per_worker=profile.load_threads,
                              ready_timeout_s=spec.get("ready_timeout_s", 60))
        load.start()
    result = {"record": applied.record(), "groups": applied.groups, "pid": os.getpid(),
              "worker_pids": load.pids if load else [], "load": load.report() if load else None}
    if spec.get("tf_threads"):
        from emulation.threads import configure_tensorflow_threads

        result["tf_threads"] = configure_tensorflow_threads(applied)
        result["record"] = json.loads(json.dumps(applied.record()))  # a copy: the next request rewrites it
        if spec.get("tf_threads_after_first_op"):
            from fixtures.tfenv import tf

            tf.constant(1.0) + 1.0  # TF's pools start here, with the sizes set above
            threads = dataclasses.replace(profile.threads, **spec["tf_threads_after_first_op"])
            applied.profile = dataclasses.replace(profile, threads=threads)
            configure_tensorflow_threads(applied)
            result["tf_after_first_op"] = applied.enforced["threads"]["tensorflow"]
    if spec.get("workload_s"):
        result["workload"] = cpu_bound_threads(spec["workload_s"])
    emit("ready", **result)
    then = spec.get("then", "exit")
    if then == "raise":
        raise RuntimeError("child: raising on purpose")
    if then == "wait":
        while True:
            time.sleep(0.1)
    if then in ("oom_child", "escape"):
        if then == "oom_child":
            hog = subprocess.run([sys.executable, "-c", f"x = bytearray({spec['hog_bytes']}); x[::4096] = b'1' * len(x[::4096])"],
                                 check=False)
            result = {"hog_returncode": hog.returncode}
        else:
            os.sched_setaffinity(0, set(applied.environment["cpus_allowed_before"]))
            result = {}
        emit("held", problems=applied.held_problems(), **result)
        applied.release()
        return 0
    if then == "hog":
        hog = bytearray(spec["hog_bytes"])
        hog[::4096] = b"1" * len(hog[::4096])  # touch every page
        emit("survived", bytes=len(hog))
        return 1
    if then == "check":
        try:
            while True:
                load.check()
                time.sleep(0.1)
        except WorkerDied as exc:
            emit("worker_died", message=str(exc), index=exc.index, returncode=exc.returncode)
            load.stop()
            applied.release()
            return 3
    if load:
        emit("load", report=load.stop())
    applied.release()
    emit("released", record=applied.record())
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
