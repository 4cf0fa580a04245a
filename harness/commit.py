"""One rule for a session's results: they replace the last good ones only when the run was valid.

A session's JSON (``--benchmark-json``, e.g. ``results/device.json``) replaces
the previous file, and its ``--benchmark-autosave`` entry enters the history,
only when

- every selected case passed (a skip counts as chosen, with its reason, not as lost),
- the profile held for the whole session (``AppliedProfile.held_problems``: affinity,
  groups, limits, no OOM kill), and
- the background load stayed valid (no worker died).

Otherwise the previous file stays byte-identical, the cases that did complete
are written to ``<folder>/failed/<name>`` (``results/failed/device.json``: a
folder the report never reads), nothing enters the history, and one line says
what was kept and what was discarded. The verdict is recorded in the JSON as
``machine_info["continuum"]["session"]`` (``valid``, ``reasons``).

pytest-benchmark writes both in its ``pytest_sessionfinish``: the JSON to a new
partial file beside the final one (:func:`create_partial`; renamed into place, so a
symlink planted at either name is never written through), the history entry through its
``BenchmarkSession.storage.save``, which :class:`SessionResults` holds back until
the verdict. Layout and names stay pytest-benchmark's own
(``<storage>/<machine id>/NNNN_<commit>_<date>.json``), so ``pytest-benchmark
compare`` reads the history as before.

Signals: Ctrl-C (SIGINT) and SIGTERM end the session through pytest's interrupt
path (the cases that completed are kept as above; the one that was running is
dropped). Exit code 2 (pytest's "interrupted") after Ctrl-C, 143 (128 + 15, what
a shell reports for a process ended by SIGTERM) after SIGTERM. Signals that
arrive while the session winds down (tox sends a Ctrl-C of its own) are noted,
not raised, so the clean-up is never cut short; SIGKILL still ends a hung run,
and the next start removes what it left.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path

import pytest

from harness.runlock import LOCK_NAME, RunLock
from harness.stash import APPLIED_KEY, JSON_KEY, LOAD_KEY

#: Exit code after SIGTERM: 128 + the signal number, as a shell reports a process it ended.
TERMINATED_EXIT = 128 + signal.SIGTERM
#: Folder, beside the results file, of the runs that were not committed.
FAILED_FOLDER = "failed"
#: Case ids quoted in one reason; the record lists them all.
QUOTED_CASES = 3


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that pytest ends the session through its interrupt path."""


def failed_path(final: Path) -> Path:
    """Where a run that was not committed goes: ``results/device.json`` -> ``results/failed/device.json``."""
    return final.parent / FAILED_FOLDER / final.name


def create_partial(final: Path) -> Path:
    """A new empty file beside ``final`` for pytest-benchmark to write, renamed into place once committed.

    ``final``'s folder may be shared (``--benchmark-json=/tmp/run.json``): mkstemp creates the file
    with O_CREAT|O_EXCL|O_NOFOLLOW under a random name, so nothing planted there is written through.
    The mode is what a plain ``open`` would give (0666 less the umask), not mkstemp's 0600.
    """
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
    except OSError:
        os.close(fd)
        os.unlink(name)
        raise
    os.close(fd)
    return Path(name)


def _own_folder(folder: Path) -> bool:
    """Create ``folder`` if missing; False when a symlink or a file sits at its name (in a shared
    folder it may be someone else's, and a rename would move the results through it)."""
    try:
        folder.mkdir(exist_ok=True)
    except OSError:
        return False
    return not folder.is_symlink() and folder.is_dir()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _cases(ids: list[str]) -> str:
    head = ", ".join(i.rsplit("::", 1)[-1] for i in ids[:QUOTED_CASES])
    return head + (f" and {len(ids) - QUOTED_CASES} more" if len(ids) > QUOTED_CASES else "")


class SessionResults:
    """Judges a session and commits or discards its results (see module doc); harness/plugin.py
    calls it from its hooks.

    ``final``/``partial``: the ``--benchmark-json`` path and where pytest-benchmark
    writes it (None without ``--benchmark-json``; the partial is created when the session
    finishes); ``lock``: the
    checkout's :class:`RunLock`, held by this session (None when it times nothing).
    """

    def __init__(self, config: pytest.Config, final: Path | None, partial: Path | None, lock: RunLock | None):
        self.config = config
        self.final, self.partial, self.lock = final, partial, lock
        self.profile = config.getoption("profile")
        self._selected: list[str] = []
        self._passed: set[str] = set()
        self._skipped: set[str] = set()
        self._failed: set[str] = set()
        self._pending_save: tuple | None = None
        self._real_save = None
        self._handlers: dict[int, object] = {}
        self._interrupted_by: str | None = None
        self._finishing = False
        self._partial_error: str | None = None
        self.record: dict | None = None

    # -- start and end ----------------------------------------------------------------------
    @classmethod
    def start(cls, config: pytest.Config, cache: Path, *, wait: bool) -> SessionResults:
        """Take the checkout's run lock (before the profile is applied) and return the judge of the session.

        Raises :class:`harness.runlock.RunLocked` when another session holds it, unless ``wait``.
        """
        final = config.stash.get(JSON_KEY, None)
        lock = None
        if not config.getoption("benchmark_disable", default=False):
            lock = RunLock(cache / LOCK_NAME)
            left = lock.acquire({"profile": config.getoption("profile"), "json": str(final) if final else None},
                                wait=wait, on_wait=lambda h: _say(
                                    config, f"continuum-bench: waiting for the session of pid {h.get('pid')} "
                                            f"(profile {h.get('profile')}) to end ({lock.path})"))
            if left and left.get("pid"):
                _say(config, f"continuum-bench: the previous session (pid {left['pid']}, profile {left.get('profile')}, "
                             f"started {left.get('started_utc')}) did not end normally: it was killed")
        return cls(config, final, None, lock)

    def install_signal_handlers(self) -> None:
        """Take SIGINT and SIGTERM (after the profile's clean-up guard; an ignored signal stays ignored)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(sig)
            if previous == signal.SIG_IGN:
                continue  # nohup, or a background job: the signal does not end this run
            self._handlers[sig] = previous
            signal.signal(sig, self._on_signal)

    def close(self) -> None:
        """After the profile was released: handlers back, a leftover ``.partial`` removed, the lock dropped."""
        for sig, previous in self._handlers.items():
            if signal.getsignal(sig) == self._on_signal:
                signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._handlers.clear()
        if self.partial is not None:
            self.partial.unlink(missing_ok=True)
        if self.lock is not None:
            self.lock.release()

    def _on_signal(self, signum, frame) -> None:
        if self._finishing or self._interrupted_by is not None:
            return  # winding down already: the clean-up goes on
        self._interrupted_by = signal.Signals(signum).name
        if signum == signal.SIGTERM:
            raise Terminated("SIGTERM received: the session stops as after Ctrl-C")
        raise KeyboardInterrupt

    # -- what ran ---------------------------------------------------------------------------
    def session_started(self, session: pytest.Session) -> None:
        """Hold pytest-benchmark's history save back until the verdict."""
        bs = getattr(session.config, "_benchmarksession", None)
        if bs is not None and (bs.save or bs.autosave):
            self._real_save = bs.storage.save
            bs.storage.save = self._hold_save  # pytest-benchmark calls it in its sessionfinish

    def _hold_save(self, output_json: dict, save: str) -> None:
        self._pending_save = (output_json, save)

    def collected(self, session: pytest.Session) -> None:
        self._selected = [item.nodeid for item in session.items]

    def logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self._failed.add(report.nodeid)
        elif report.skipped:
            self._skipped.add(report.nodeid)
        elif report.when == "call":
            self._passed.add(report.nodeid)

    def completed(self) -> list[str]:
        """Cases that passed in every phase (setup, call, teardown)."""
        return [n for n in self._selected if n in self._passed and n not in self._failed]

    # -- the verdict ------------------------------------------------------------------------
    def judge(self, session: pytest.Session, exitstatus: int) -> dict:
        """The session's record: ``valid`` and, when not, ``reasons`` (one line each)."""
        reasons = []
        if self._interrupted_by == "SIGTERM":
            reasons.append("terminated by SIGTERM")
        elif exitstatus == pytest.ExitCode.INTERRUPTED:
            reasons.append("interrupted (Ctrl-C)" if self._interrupted_by == "SIGINT" else
                           f"interrupted: {session.shouldstop or 'KeyboardInterrupt'}")
        if session.shouldfail:
            reasons.append(f"stopped: {session.shouldfail}")
        failed = [n for n in self._selected if n in self._failed]
        if failed:
            reasons.append(f"{len(failed)} case(s) failed or errored: {_cases(failed)}")
        completed = self.completed()
        lost = [n for n in self._selected if n not in self._failed and n not in self._skipped and n not in completed]
        if lost:
            reasons.append(f"{len(lost)} of {len(self._selected)} selected case(s) did not run: {_cases(lost)}")
        if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            reasons.append("no case was selected")
        elif exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.INTERRUPTED):
            reasons.append(f"pytest exit status {int(exitstatus)}")
        applied = self.config.stash.get(APPLIED_KEY, None)
        unenforced = {}
        if applied is not None:
            reasons += [f"profile {self.profile} did not hold: {k}: {v}" for k, v in applied.held_problems().items()]
            unenforced = applied.unenforced()
        load = self.config.stash.get(LOAD_KEY, None)
        if load is not None:
            report = load.report()
            for d in report["died"]:
                reasons.append(f"background load worker {d['index']} (pid {d['pid']}) died (exit {d['returncode']})")
            if not report["died"] and not report["valid"]:
                reasons.append(f"background load {report['state']}, never ran")
        self.record = {
            "valid": not reasons,
            "reasons": reasons,
            "selected": len(self._selected),
            "completed": len(completed),
            "skipped": sorted(self._skipped),
            "failed": failed,
            "not_run": lost,
            "unenforced_allowed": unenforced,
            "results_file": str(self.final if not reasons else failed_path(self.final)) if self.final else None,
        }
        return self.record

    def interrupt_not_rendered(self, excinfo, error: Exception) -> None:
        """Keep the interrupt path whole when pytest cannot describe where the signal landed.

        The terminal reporter renders the interrupt's traceback here. On Python 3.11 a frame
        interrupted at an instruction without a line number has ``tb_lineno`` None, and pytest's
        rendering then fails (``TypeError: unsupported operand type(s) for -: 'NoneType' and 'int'``,
        pytest-xdist#1196). Raised from this hook, that error skips the rest of pytest's
        interrupt handling and ends the process with exit 1 instead of 2 or 143 (seen once in
        ``tests/harness/test_results_file.py``, SIGTERM during collection). So an error of the renderers
        is replaced by a one-line description of the interrupt (``error``: the renderer's), and the
        session ends as usual."""
        from _pytest._code.code import ReprExceptionInfo, ReprFileLocation, ReprTraceback

        where = ReprFileLocation(path="<interrupted>", lineno=0, message=excinfo.exconly())
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter._keyboardinterrupt_memo = ReprExceptionInfo(
                reprtraceback=ReprTraceback([], None, "short"), reprcrash=where)
        _say(self.config, f"continuum-bench: the interrupt's traceback could not be rendered "
                          f"({type(error).__name__}: {error}); the session ends as interrupted")

    def finishing(self, session: pytest.Session, exitstatus: int) -> None:
        """Before pytest-benchmark writes anything: judge, and keep only the complete cases."""
        self._finishing = True
        self.judge(session, exitstatus)
        bs = getattr(session.config, "_benchmarksession", None)
        if bs is not None:
            # only complete cases reach the JSON: the interrupted one has no rounds, and
            # pytest-benchmark's JSON writer fails on it (min() of an empty sequence)
            keep = set(self.completed())
            bs.benchmarks[:] = [b for b in bs.benchmarks if b.fullname in keep]
            if self.final is not None:
                # created only now, so a killed run leaves nothing beside the results file
                try:
                    self.partial = create_partial(self.final)
                except OSError as exc:
                    self._partial_error = f"cannot create a file in {self.final.parent}: {exc.strerror or exc}"
                else:
                    bs.json = self.partial  # the plugin left it None: pytest-benchmark writes nowhere else

    def finished(self, session: pytest.Session) -> None:
        """After pytest-benchmark wrote its JSON and history entry: commit or discard them."""
        line = self._commit(self.record)
        if self._interrupted_by == "SIGTERM":
            session.exitstatus = TERMINATED_EXIT
        _say(session.config, line)

    def _commit(self, record: dict) -> str:
        if self._partial_error is not None:
            return f"continuum-bench: {self.final} not written ({self._partial_error}); nothing saved to the history"
        wrote = self.partial is not None and self.partial.exists() and self.partial.stat().st_size > 0
        if record["valid"]:
            parts = [f"all {record['completed']} selected case(s) ran under profile {self.profile}"]
            if wrote:
                existed = os.path.lexists(self.final)
                os.replace(self.partial, self.final)  # rename replaces a symlink at ``final``; never writes through it
                parts.append(f"{self.final} {'replaced' if existed else 'written'}")
            elif self.final is not None:
                parts.append(f"no case was timed: {self.final} not written")
            if self._pending_save is not None:
                self._real_save(*self._pending_save)
                parts.append("the history entry saved")
            elif self._real_save is not None:
                parts.append("nothing saved to the history (no case was timed)")
            return "continuum-bench: " + "; ".join(parts)
        self._pending_save = None
        parts = [f"results not committed ({'; '.join(record['reasons'][:2])}"
                 + (f"; and {len(record['reasons']) - 2} more)" if len(record["reasons"]) > 2 else ")")]
        if self.final is not None:
            parts.append(f"{self.final} kept as it was" if self.final.exists() else f"{self.final} not written")
        if wrote:
            failed = failed_path(self.final)
            if _own_folder(failed.parent):
                os.replace(self.partial, failed)
                parts.append(f"the {record['completed']} completed case(s) in {failed}")
            else:  # the partial file goes in close()
                parts.append(f"{failed.parent} is not a folder (a symlink?): the {record['completed']} completed "
                             f"case(s) discarded")
        elif record["completed"] == 0:
            parts.append("no case completed")
        if self._real_save is not None:
            parts.append("nothing saved to the history")
        return "continuum-bench: " + "; ".join(parts)


def _say(config: pytest.Config, line: str) -> None:
    """One line on the terminal (pytest's reporter when there is one, else stderr)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_line(line, bold=True)
    else:
        print(line, file=sys.stderr, flush=True)
