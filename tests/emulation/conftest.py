"""Fixtures of the emulation tests: a child process that applies a profile, a tiny .tflite, cgroup checks."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from emulation import cgroups

REPO_ROOT = Path(__file__).resolve().parents[2]
#: How long a child may take to apply a profile and start its load [s].
CHILD_READY_TIMEOUT_S = 90


def our_groups(places: dict[str, cgroups.ControllerPlace], pids) -> list[str]:
    """Groups named after ``pids`` below this process's groups (children inherit them)."""
    names = {cgroups.group_name(p) for p in pids}
    return [str(place.own_group / n) for place in places.values() for n in names if (place.own_group / n).exists()]


def alive(pids) -> list[int]:
    """Those of ``pids`` that still exist and are not zombies."""
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.append(pid)
    return out


def wait_gone(pids, timeout_s: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while (left := alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


class Child:
    """``python -m tests.emulation.child <spec>`` with its JSON events read line by line (by a thread)."""

    def __init__(self, spec: dict, new_session: bool = False):
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), **spec.get("env", {}))
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.emulation.child", json.dumps(spec)],
                                     cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=new_session)
        self._events: queue.Queue = queue.Queue()
        self._stderr: list[str] = []
        self._readers = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=lambda: self._stderr.extend(self.proc.stderr), daemon=True)]
        for t in self._readers:
            t.start()

    def _read_stdout(self) -> None:
        for line in self.proc.stdout:
            self._events.put(json.loads(line))
        self._events.put(None)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def event(self, timeout_s: float = CHILD_READY_TIMEOUT_S) -> dict:
        try:
            event = self._events.get(timeout=timeout_s)
        except queue.Empty:
            self.proc.kill()
            raise AssertionError(f"child sent nothing in {timeout_s} s; stderr:\n{self.stderr}") from None
        if event is None:
            self.proc.wait(timeout=10)
            raise AssertionError(f"child exited {self.proc.returncode} without an event; stderr:\n{self.stderr}")
        return event

    def finish(self, timeout_s: float = 30) -> tuple[int, str]:
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"child did not exit in {timeout_s} s; stderr:\n{self.stderr}") from None
        for t in self._readers:
            t.join(timeout=5)
        return self.proc.returncode, self.stderr


@pytest.fixture
def child():
    """Start children with ``child(spec)``; any still running at teardown is killed."""
    started: list[Child] = []

    def start(spec: dict, new_session: bool = False) -> Child:
        c = Child(spec, new_session)
        started.append(c)
        return c

    yield start
    for c in started:
        if c.proc.poll() is None:
            c.proc.kill()
            c.proc.wait()


@pytest.fixture(scope="session")
def tiny_tflite(request, tmp_path_factory) -> Path:
    """A MobileNet v1 (alpha 0.25, 32x32, random weights) .tflite, built once and cached in pytest's cache.

    Built in this process: collecting the test modules has imported TensorFlow already, so it costs
    the conversion alone (~2 s; a subprocess imported TensorFlow again, 10 to 60 s on a busy 2-core
    host). With ``-p no:cacheprovider`` it is rebuilt in a temporary folder each session.
    """
    cache = getattr(request.config, "cache", None)
    cache_dir = Path(cache.mkdir("emulation")) if cache is not None else tmp_path_factory.mktemp("emulation")
    script = Path(__file__).with_name("make_tflite.py")
    path = cache_dir / "mobilenet-a025-32.tflite"
    stamp = cache_dir / "mobilenet-a025-32.source"
    source = script.read_text()
    if path.exists() and stamp.exists() and stamp.read_text() == source:
        return path
    import fixtures.tfenv  # noqa: F401 -- refuses to start without TF_USE_LEGACY_KERAS=1, as the script does
    from tests.emulation.make_tflite import main

    main(str(path))
    stamp.write_text(source)
    return path
