"""One benchmark session at a time per checkout: a lock file that names its holder.

Two sessions in one checkout share its CPUs -- each one's timings would be the
other's background load -- and its results files and histories. A session that
writes results holds an exclusive ``fcntl.flock`` on ``<cache>/run.lock`` (the
cache tox gives each checkout, ``.cache/continuum-bench``) for as long as it
runs. The lock dies with its process, so a killed holder never blocks the next
run; the file says who holds it (pid, profile, start time, command line), and is
emptied on a normal end, so a holder record found on a free lock is a run that
was killed.

    lock = RunLock(cache_root() / LOCK_NAME)
    previous = lock.acquire({"profile": "device"})   # RunLocked(holder) if another session holds it
    ...
    lock.release()
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import sys
import time
from pathlib import Path

#: The lock file's name in the cache folder.
LOCK_NAME = "run.lock"
#: The option that waits for the holder instead of stopping.
WAIT_OPTION = "--wait-for-run"


class RunLocked(RuntimeError):
    """Another live session holds the lock; ``holder`` is what it wrote there."""

    def __init__(self, path: Path, holder: dict):
        self.path, self.holder = path, holder
        super().__init__(
            f"another benchmark session holds {path}: pid {holder.get('pid', '?')}, profile "
            f"{holder.get('profile', '?')}, started {holder.get('started_utc', '?')} "
            f"({' '.join(holder.get('argv', [])) or 'command unknown'}). Two sessions in one checkout share "
            f"its CPUs and its results: wait for it to end, or pass {WAIT_OPTION} to start when it does"
        )


class RunLock:
    """An exclusive flock on ``path`` with the holder's record in the file."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._fd: int | None = None

    def _read(self, fd: int) -> dict:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 1 << 16).decode(errors="replace").strip()
        try:
            record = json.loads(text) if text else {}
        except ValueError:
            record = {"unreadable": text[:200]}
        return record if isinstance(record, dict) else {}

    def acquire(self, info: dict, *, wait: bool = False, on_wait=None) -> dict | None:
        """Take the lock and write ``info`` (with this pid, the time, argv) into it.

        Raises :class:`RunLocked` when another process holds it, unless ``wait``:
        then ``on_wait(holder)`` is called once and the call blocks until the
        holder ends. Returns the record a killed holder left (None after a normal
        end), so the caller can say that the previous run did not finish.
        """
        if self._fd is not None:
            raise RuntimeError(f"{self.path}: already held by this process")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                holder = self._read(fd)
                if not wait:
                    raise RunLocked(self.path, holder) from None
                if on_wait is not None:
                    on_wait(holder)
                fcntl.flock(fd, fcntl.LOCK_EX)
            left = self._read(fd) or None
            record = {"pid": os.getpid(), "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                      "argv": sys.argv, **info}
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return left

    def release(self) -> None:
        """Empty the record (a normal end) and drop the lock; idempotent."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing the last descriptor drops the flock
