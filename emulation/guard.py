"""Clean up at interpreter exit and on SIGINT/SIGTERM/SIGHUP, then let the signal go on.

    guard = ExitGuard(applied.release, "profile device")   # the profile's groups
    guard = ExitGuard(load.stop, "background load")        # installed later: runs first
    ...
    guard.disarm()                                          # the callback ran the normal way
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
from typing import Callable

log = logging.getLogger(__name__)

#: Signals after which the created groups are removed before the previous handler runs.
CLEANUP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


class ExitGuard:
    """Run ``callback`` once at interpreter exit or on SIGINT/SIGTERM/SIGHUP, then the previous handler.

    Guards chain: the one installed last runs first (a load is stopped before
    the profile's groups are removed). After the callback a signal goes on to
    the handler that was there before (SIGINT raises KeyboardInterrupt as usual;
    SIGTERM with the default action ends the process with that signal). A signal
    that arrives while the callback runs is dropped: the clean-up is not cut
    short, and the first signal still goes on.
    """

    def __init__(self, callback: Callable[[], object], name: str):
        self._callback = callback
        self._name = name
        self._owner = os.getpid()  # a forked child inherits the handlers but owns nothing
        self._done = False
        self._in_handler = False
        self._previous: dict[int, object] = {}
        atexit.register(self._run)
        if threading.current_thread() is threading.main_thread():
            for sig in CLEANUP_SIGNALS:
                previous = signal.getsignal(sig)
                if previous == signal.SIG_IGN:
                    # nohup, or a background job of a non-interactive shell: the signal would not
                    # end the run, so it must not tear the profile down under a run that goes on
                    continue
                self._previous[sig] = previous
                signal.signal(sig, self._handler)

    @property
    def signals_handled(self) -> bool:
        return bool(self._previous)

    def _run(self) -> None:
        if self._done or os.getpid() != self._owner:
            return
        self._done = True
        try:
            self._callback()
        except Exception:  # the process is going down: say what failed, let the signal go on
            log.exception("cleanup of %s failed", self._name)

    def _handler(self, signum, frame) -> None:
        if self._in_handler:  # the same signal again (tox sends its own Ctrl-C) while the clean-up runs:
            return            # the first one goes on to the previous handler once it is done
        self._in_handler = True
        try:
            previous = self._previous.get(signum, signal.SIG_DFL)  # before the callback disarms us
            self._run()
            self._restore()
        finally:
            self._in_handler = False
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_IGN:
            return
        else:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    def _restore(self) -> None:
        for sig, previous in list(self._previous.items()):
            if signal.getsignal(sig) == self._handler:
                signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
                del self._previous[sig]
            # else: someone chained after us; our handler stays and forwards to `previous`

    def disarm(self) -> None:
        """The callback ran the normal way: stop guarding (handlers restored where still ours)."""
        self._done = True
        atexit.unregister(self._run)
        if threading.current_thread() is threading.main_thread():
            self._restore()
