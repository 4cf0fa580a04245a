"""Child processes that die with the process that started them, and signals that stop it cleanly.

A measuring child (a paired worker, the counted run's valgrind child) runs in its own
session, so a Ctrl-C on the terminal reaches only its parent, which stops it itself. A
parent killed outright (SIGKILL, the OOM killer) runs no clean-up: Linux's parent-death
signal (``prctl(PR_SET_PDEATHSIG)``, kept across ``exec``) then kills the child instead of
leaving it measuring, or writing results, for nobody.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
from typing import Callable, Iterator

PR_SET_PDEATHSIG = 1
#: Signals that stop a run as Ctrl-C does (its clean-up runs): a ``kill``, a closed terminal.
TERMINATING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl


def die_with_parent(sig: int = signal.SIGKILL) -> Callable[[], None]:
    """A ``preexec_fn`` for :class:`subprocess.Popen`: the child gets ``sig`` when this process (the
    thread calling Popen) exits, and kills itself if this process is already gone when it starts.

    libc's ``prctl`` is looked up here, before the fork: loading a library in a forked child can block.
    On a system without ``prctl`` (not Linux) the child only gets the start check.
    """
    parent = os.getpid()
    prctl = _prctl()

    def preexec() -> None:
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died between fork and prctl: the signal will never come
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


@contextlib.contextmanager
def termination_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP (:data:`TERMINATING_SIGNALS`) raise KeyboardInterrupt here (the previous
    handlers restored afterwards), so the clean-up of Ctrl-C runs for them too."""
    def stop(signum, frame):
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, stop) for sig in TERMINATING_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
