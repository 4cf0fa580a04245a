"""Background inference load for ``edge-loaded``: N LiteRT worker processes.

    load = BackgroundLoad.from_profile(applied, tflite_path).start()   # blocks until every worker is ready
    ...                     # benchmarks; load.check() raises WorkerDied if one died
    load.stop()             # SIGTERM, SIGKILL after a grace, reap; idempotent, also at exit / on signals
    machine_info["continuum"]["load"] = load.report()   # valid before and after stop()

Workers are started with subprocess (a fresh interpreter, never a fork of a
TensorFlow process) and inherit this process's CPU affinity and cgroups, so
apply the profile first. Start and stop from the main thread: the workers'
parent-death signal is tied to the thread that started them.
"""

from __future__ import annotations

import json
import mmap
import os
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from emulation import stale
from emulation.guard import ExitGuard
from emulation.threads import THREAD_ENV_VARS
from emulation.worker import SLOT_BYTES, SLOT_FORMAT

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Default wait for every worker's warm-up inference [s].
READY_TIMEOUT_S = 120.0
#: Default interval between samples of counters and CPU time [s].
SAMPLE_INTERVAL_S = 1.0
#: Default wait between SIGTERM and SIGKILL [s].
STOP_GRACE_S = 5.0
#: Lines of a dead worker's stderr quoted in WorkerDied.
STDERR_TAIL_LINES = 15
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class WorkerDied(RuntimeError):
    """A background worker exited while the load should be running."""

    def __init__(self, index: int, pid: int, returncode: int | None, stderr_tail: str):
        self.index, self.pid, self.returncode, self.stderr_tail = index, pid, returncode, stderr_tail
        how = f"was killed by signal {-returncode}" if returncode is not None and returncode < 0 else f"exited with code {returncode}"
        super().__init__(
            f"background load worker {index} (pid {pid}) {how}; results measured since are not under the "
            f"intended load.\nLast lines of its stderr:\n{stderr_tail or '  (empty)'}"
        )


class LoadNotReady(RuntimeError):
    """Workers did not all finish their warm-up inference in time."""


def process_cpu_seconds(pid: int) -> float | None:
    """utime + stime of ``pid`` from /proc/<pid>/stat [s]; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class BackgroundLoad:
    """N worker processes running batch-1 LiteRT inference of ``model_path`` in a loop.

    ``workers`` processes of ``threads_per_worker`` LiteRT threads each; ``cpus``
    pins them (default: inherit this process's affinity, i.e. the profile's).
    """

    def __init__(
        self,
        model_path: Path | str,
        workers: int,
        *,
        threads_per_worker: int = 1,
        cpus: list[int] | None = None,
        ready_timeout_s: float = READY_TIMEOUT_S,
        sample_interval_s: float = SAMPLE_INTERVAL_S,
        python: str = sys.executable,
    ):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers!r}")
        if threads_per_worker < 1:
            raise ValueError(f"threads_per_worker must be >= 1, got {threads_per_worker!r}")
        if not Path(model_path).is_file():
            raise ValueError(f"model_path {str(model_path)!r} is not a file")
        self.model_path = Path(model_path).resolve()
        self.workers = workers
        self.threads_per_worker = threads_per_worker
        self.cpus = cpus
        self.ready_timeout_s = ready_timeout_s
        self.sample_interval_s = sample_interval_s
        self.python = python
        self._procs: list[subprocess.Popen] = []
        self._ready: list[dict] = []
        self._dir: Path | None = None
        self._counters: mmap.mmap | None = None
        self._lock = threading.RLock()  # re-entrant: stop() may run in a signal handler
        self._stop_event = threading.Event()
        self._sampler: threading.Thread | None = None
        self._guard: ExitGuard | None = None
        self._stopping = False
        self._died: list[dict] = []
        self._baseline: dict | None = None
        self._last: dict | None = None
        self._interval_rates: list[float] = []
        self._timing = {"start_s": None, "stop_s": None}
        self._state = "new"

    @classmethod
    def from_profile(cls, profile, model_path: Path | str, **kwargs) -> BackgroundLoad:
        """The load ``profile`` asks for (a Profile or an AppliedProfile): its workers and threads each.

        Raises ValueError for a profile without a background load.
        """
        profile = getattr(profile, "profile", profile)
        if not profile.load_workers:
            raise ValueError(f"profile {profile.name!r} has no background load (load_workers=0)")
        return cls(model_path, profile.load_workers, threads_per_worker=profile.load_threads, **kwargs)

    def describe(self) -> str:
        """One line: workers, threads, CPUs, start time, or the state."""
        r = self.report()
        if r.get("start_s") is None:
            return f"{self.workers} LiteRT workers x {self.threads_per_worker} thread(s), {self._state}"
        return (f"{self.workers} LiteRT workers x {self.threads_per_worker} thread(s) on CPUs {r.get('cpus')}, "
                f"ready in {r['start_s']:.2f} s (pids {self.pids[0]}..{self.pids[-1]})")

    # -- life cycle -------------------------------------------------------
    def __enter__(self) -> BackgroundLoad:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({var: str(self.threads_per_worker) for var in THREAD_ENV_VARS})
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        return env

    def start(self) -> BackgroundLoad:
        """Spawn the workers and wait until each has finished its warm-up inference."""
        if self._state != "new":
            raise RuntimeError(f"BackgroundLoad.start(): already {self._state}")
        self._state = "starting"
        t0 = time.perf_counter()
        self._guard = ExitGuard(self.stop, "background load")
        self._dir = Path(tempfile.mkdtemp(prefix=stale.load_dir_prefix()))  # the next start removes it if killed
        counters_path = self._dir / "counters"
        counters_path.write_bytes(b"\0" * SLOT_BYTES * self.workers)
        try:
            env = self._env()
            for i in range(self.workers):
                cmd = [self.python, "-m", "emulation.worker", "--model", str(self.model_path),
                       "--threads", str(self.threads_per_worker), "--slot", str(i),
                       "--counters", str(counters_path), "--parent-pid", str(os.getpid())]
                if self.cpus:
                    cmd += ["--cpus", ",".join(map(str, self.cpus))]
                with open(self._dir / f"worker-{i}.stderr", "wb") as err:
                    self._procs.append(subprocess.Popen(
                        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                        cwd=REPO_ROOT, env=env, close_fds=True))
            with open(counters_path, "r+b") as fh:
                self._counters = mmap.mmap(fh.fileno(), 0)
            self._wait_ready(t0 + self.ready_timeout_s)
        except BaseException:
            self.stop()
            raise
        self._timing["start_s"] = time.perf_counter() - t0
        self._baseline = self._take_sample()
        self._last = self._baseline
        self._state = "running"
        self._sampler = threading.Thread(target=self._sample_loop, name="continuum-load-sampler", daemon=True)
        self._sampler.start()
        return self

    def _wait_ready(self, deadline: float) -> None:
        ready: dict[int, dict] = {}
        buffers = {i: b"" for i in range(self.workers)}
        sel = selectors.DefaultSelector()
        for i, p in enumerate(self._procs):
            sel.register(p.stdout, selectors.EVENT_READ, i)
        try:
            while len(ready) < self.workers:
                left = deadline - time.perf_counter()
                if left <= 0:
                    missing = sorted(set(range(self.workers)) - set(ready))
                    raise LoadNotReady(
                        f"{len(missing)} of {self.workers} load workers not ready after {self.ready_timeout_s:.0f} s "
                        f"(workers {missing}); raise ready_timeout_s or lower load_workers. "
                        f"First stderr lines: {self._stderr_tail(missing[0])}")
                for key, _ in sel.select(timeout=min(left, 0.5)):
                    i = key.data
                    chunk = os.read(key.fd, 4096)
                    if not chunk:
                        sel.unregister(key.fileobj)
                        self._procs[i].wait(timeout=5)
                        raise self._died_error(i)
                    buffers[i] += chunk
                    if b"\n" in buffers[i]:
                        line = buffers[i].split(b"\n", 1)[0].decode()
                        if not line.startswith("ready "):
                            raise LoadNotReady(f"load worker {i} said {line!r} instead of 'ready'")
                        ready[i] = json.loads(line[len("ready "):])
                        sel.unregister(key.fileobj)
        finally:
            sel.close()
        self._ready = [ready[i] for i in range(self.workers)]

    def _stderr_tail(self, i: int) -> str:
        if self._dir is None:
            return ""
        try:
            lines = (self._dir / f"worker-{i}.stderr").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join("  " + line for line in lines[-STDERR_TAIL_LINES:])

    def _died_error(self, i: int) -> WorkerDied:
        p = self._procs[i]
        return WorkerDied(i, p.pid, p.returncode, self._stderr_tail(i))

    # -- sampling ---------------------------------------------------------
    def _take_sample(self) -> dict:
        now = time.monotonic()
        counts, cpu, affinity, alive = [], [], [], []
        for i, p in enumerate(self._procs):
            count, _ = struct.unpack_from(SLOT_FORMAT, self._counters, i * SLOT_BYTES)
            counts.append(count)
            cpu.append(process_cpu_seconds(p.pid))
            try:
                affinity.append(sorted(os.sched_getaffinity(p.pid)))
            except OSError:
                affinity.append(None)
            rc = p.poll()
            alive.append(rc is None)
            if rc is not None and not self._stopping and not any(d["index"] == i for d in self._died):
                self._died.append({"index": i, "pid": p.pid, "returncode": rc, "at_monotonic_s": now,
                                   "stderr_tail": self._stderr_tail(i)})
        return {"t": now, "counts": counts, "cpu_s": cpu, "affinity": affinity, "alive": alive}

    def _sample_loop(self) -> None:
        while not self._stop_event.wait(self.sample_interval_s):
            with self._lock:
                if self._stopping:
                    return
                sample = self._take_sample()
                prev, self._last = self._last, sample
            dt = sample["t"] - prev["t"]
            if dt > 0:
                self._interval_rates.append((sum(sample["counts"]) - sum(prev["counts"])) / dt)

    def sample(self) -> dict:
        """Take a sample now (counts, CPU seconds, affinity, alive per worker)."""
        with self._lock:
            if self._state != "running":
                raise RuntimeError(f"BackgroundLoad.sample(): load is {self._state}")
            self._last = self._take_sample()
            return self._last

    def check(self) -> None:
        """Raise WorkerDied if a worker has exited while the load should be running."""
        if self._state != "running":
            return
        with self._lock:
            if not self._died:
                self._take_sample()
        if self._died:
            d = self._died[0]
            raise WorkerDied(d["index"], d["pid"], d["returncode"], d["stderr_tail"])

    # -- stop and report --------------------------------------------------
    def stop(self, grace_s: float = STOP_GRACE_S) -> dict:
        """SIGTERM every worker, SIGKILL those left after ``grace_s`` [s], reap all; idempotent."""
        if self._state == "stopped":
            return self.report()
        t0 = time.perf_counter()
        self._stop_event.set()
        if self._sampler is not None and self._sampler is not threading.current_thread():
            self._sampler.join(timeout=5)
        with self._lock:
            if self._state == "running" and self._counters is not None:
                self._last = self._take_sample()
            self._stopping = True
        for p in self._procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.perf_counter() + grace_s
        for p in self._procs:
            try:
                p.wait(timeout=max(0.0, deadline - time.perf_counter()))
            except subprocess.TimeoutExpired:
                p.kill()
        for p in self._procs:
            p.wait()
            if p.stdout is not None:
                p.stdout.close()
        if self._counters is not None:
            self._counters.close()
            self._counters = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self._timing["stop_s"] = time.perf_counter() - t0
        self._state = "stopped"
        if self._guard is not None:
            self._guard.disarm()
        return self.report()

    def report(self) -> dict:
        """JSON-serialisable record of the load actually achieved (valid before and after stop)."""
        out: dict = {
            "workers": self.workers,
            "threads_per_worker": self.threads_per_worker,
            "model": str(self.model_path),
            "state": self._state,
            "runner": sorted({r["runner"] for r in self._ready}),
            "start_s": self._timing["start_s"],
            "stop_s": self._timing["stop_s"],
            "warmup_s": [r["warmup_s"] for r in self._ready],
            "died": [{k: v for k, v in d.items() if k != "at_monotonic_s"} for d in self._died],
            "valid": not self._died and self._state in ("running", "stopped") and self._baseline is not None,
        }
        base, last = self._baseline, self._last
        if base is None or last is None:
            return out
        wall = last["t"] - base["t"]
        cpus = sorted({c for a in last["affinity"] if a for c in a}) or (self.cpus or [])
        out["pids"] = self.pids
        out["cpus"] = cpus
        out["affinity"] = last["affinity"]
        out["wall_s"] = wall
        if wall > 0:
            per_rate = [(c1 - c0) / wall for c0, c1 in zip(base["counts"], last["counts"])]
            per_share = [None if (a is None or b is None) else (b - a) / wall
                         for a, b in zip(base["cpu_s"], last["cpu_s"])]
            shares = [s for s in per_share if s is not None]
            out.update(
                inferences_per_s=sum(per_rate),
                inferences_per_s_per_worker=per_rate,
                cpu_share_per_worker=per_share,
                cpu_share_total=sum(shares),
                cpu_share_of_cpus=(sum(shares) / len(cpus)) if cpus else None,
                samples=len(self._interval_rates),
                inferences_per_s_min=min(self._interval_rates) if self._interval_rates else None,
                inferences_per_s_max=max(self._interval_rates) if self._interval_rates else None,
            )
        return out
