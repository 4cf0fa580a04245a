"""Helpers of the session tests: the real suite in a child process, over a previous good run."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from pytest_benchmark.utils import get_machine_id

ROOT = Path(__file__).resolve().parents[2]
#: What a session may take to reach a given line on a busy 2-core host [s].
LINE_TIMEOUT_S = 300
#: The previous run's results: a valid pytest-benchmark document.
PREVIOUS = {"machine_info": {"node": "previous"}, "commit_info": {}, "benchmarks": [],
            "datetime": "2026-01-01T00:00:00+00:00", "version": "5.3.1"}


def _ctrl_c_as_in_a_terminal() -> None:
    """Run as a shell's background job (nohup, CI wrappers) the test runner ignores SIGINT and a
    child inherits that; the child under test must take Ctrl-C as a foreground program does."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Session:
    """``pytest benchmarks --preset tiny ...`` in its own process group, its output read line by line."""

    def __init__(self, cache: Path, *args: str):
        env = dict(os.environ, TF_USE_LEGACY_KERAS="1", CONTINUUM_BENCH_CACHE=str(cache))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "benchmarks", "-p", "no:cacheprovider", "--preset", "tiny", "-v", *args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True, preexec_fn=_ctrl_c_as_in_a_terminal,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout_s: float = LINE_TIMEOUT_S) -> re.Match:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                raise AssertionError(f"no line matching {pattern!r} in {timeout_s} s:\n{self.log}") from None
            if line is None:
                raise AssertionError(f"the session ended ({self.proc.wait()}) before {pattern!r}:\n{self.log}")
            if m := re.search(pattern, line):
                return m

    def signal_group(self, sig: int) -> None:
        os.killpg(self.proc.pid, sig)

    def finish(self, timeout_s: float = LINE_TIMEOUT_S) -> int:
        try:
            rc = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the session did not end in {timeout_s} s:\n{self.log}") from None
        self._reader.join(timeout=10)
        return rc

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def said(self) -> str:
        """The one line harness/commit.py ends every session that writes results with."""
        lines = [line for line in self.lines if line.startswith("continuum-bench: ")]
        assert lines, f"no 'continuum-bench:' line:\n{self.log}"
        return lines[-1].rstrip("\n")


class Previous:
    """A results file and a history entry from an earlier, good run."""

    def __init__(self, root: Path):
        self.json = root / "results" / "run.json"
        self.storage = root / "history"
        self.json.parent.mkdir(parents=True)
        self.json.write_text(json.dumps(PREVIOUS, indent=4))
        entry = self.storage / get_machine_id() / "0001_previous_20260101_000000.json"
        entry.parent.mkdir(parents=True)
        entry.write_text(json.dumps(PREVIOUS, indent=4))
        self.bytes = self.json.read_bytes()
        self.history = self.history_files()

    def args(self) -> list[str]:
        return [f"--benchmark-json={self.json}", f"--benchmark-storage=file://{self.storage}", "--benchmark-autosave"]

    def history_files(self) -> list[str]:
        return sorted(str(p.relative_to(self.storage)) for p in self.storage.rglob("*") if p.is_file())

    def assert_untouched(self, log: str) -> None:
        assert self.json.read_bytes() == self.bytes, f"the previous results file changed:\n{log}"
        assert self.history_files() == self.history, f"a history entry was added:\n{log}"
        assert not list(self.json.parent.glob("*.partial")), "a partial results file was left behind"

    @property
    def failed(self) -> Path:
        return self.json.parent / "failed" / self.json.name
