"""A failed or invalid run never replaces good results (harness/commit.py).

Each test runs the real suite on the tiny preset in a child process over a
previous results file and a history entry, and checks what a user relies on:
the previous file byte-identical, no new history entry, the exit code and the
one line that says what was kept. Signals go to the child's process group, as a
terminal's Ctrl-C does.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pytest_benchmark.utils import get_machine_id

from emulation import cgroups
from tests.harness.sessions import ROOT


def test_a_valid_run_replaces_the_file_and_enters_the_history(previous_run, suite_session, suite_cache):
    s = suite_session("-k", "pure_rsa", *previous_run.args(), cache=suite_cache)
    assert s.finish() == 0, s.log
    doc = json.loads(previous_run.json.read_text())
    assert [b["name"] for b in doc["benchmarks"]] == ["test_encrypt_pure_rsa"]
    assert doc["benchmarks"][0]["extra_info"]["operation"] == "encryption"
    assert doc["machine_info"]["continuum"]["profile"]["name"] == "none"
    assert doc["machine_info"]["continuum"]["session"]["valid"] is True
    assert doc["machine_info"]["continuum"]["scale"]["input_size"] == 32  # the tiny preset's, for the report
    new = sorted(set(previous_run.history_files()) - set(previous_run.history))
    assert len(new) == 1 and re.fullmatch(re.escape(get_machine_id()) + r"/0002_\w+_\d{8}_\d{6}(_uncommitted-changes)?\.json",
                                          new[0]), new
    assert s.said() == f"continuum-bench: all 1 selected case(s) ran under profile none; {previous_run.json} replaced; " \
                       "the history entry saved"
    assert not previous_run.failed.exists()
    # pytest-benchmark reads the history as it reads its own
    shown = subprocess.run([sys.executable, "-m", "pytest_benchmark", f"--storage=file://{previous_run.storage}", "compare",
                            "0002"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert shown.returncode == 0 and "test_encrypt_pure_rsa" in shown.stdout, shown.stdout + shown.stderr


def test_a_failing_case_keeps_the_previous_results(previous_run, suite_session, suite_cache):
    s = suite_session("-p", "tests.harness.faults", "--fault-fail=test_encrypt_pure_rsa", "-k", "test_encrypt",
                      *previous_run.args(), cache=suite_cache)
    assert s.finish() == 1, s.log
    previous_run.assert_untouched(s.log)
    assert s.said() == (f"continuum-bench: results not committed (1 case(s) failed or errored: test_encrypt_pure_rsa); "
                        f"{previous_run.json} kept as it was; the 2 completed case(s) in {previous_run.failed}; "
                        f"nothing saved to the history"), s.said()
    failed = json.loads(previous_run.failed.read_text())
    assert failed["machine_info"]["continuum"]["session"]["failed"] == [
        "benchmarks/test_encryption.py::test_encrypt_pure_rsa"]
    assert sorted(b["name"] for b in failed["benchmarks"]) == ["test_decrypt_dataset_hybrid",
                                                              "test_encrypt_dataset_hybrid"]


def test_a_profile_that_stops_holding_keeps_the_previous_results(previous_run, suite_session, suite_cache):
    """The device profile pins the process to one CPU; right after the last case's teardown the
    affinity is widened back, past every per-case check: only the session's verdict sees it."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two CPUs: the device profile's one-CPU affinity cannot be widened on one")
    s = suite_session("--profile", "device", "--allow-unenforced", "-p", "tests.harness.faults",
                      "--fault-escape=test_encrypt_pure_rsa", "-k", "pure_rsa", *previous_run.args(), cache=suite_cache)
    assert s.finish() == 0, s.log
    assert " PASSED" in s.log, s.log
    previous_run.assert_untouched(s.log)
    assert re.fullmatch(rf"continuum-bench: results not committed \(profile device did not hold: affinity: thread \d+ "
                        rf"may run on CPUs \[\d+(, \d+)+\], outside \[\d+\]\); {re.escape(str(previous_run.json))} kept "
                        rf"as it was; the 1 completed case\(s\) in {re.escape(str(previous_run.failed))}; nothing saved "
                        rf"to the history", s.said()), s.said()
    failed = json.loads(previous_run.failed.read_text())
    assert failed["machine_info"]["continuum"]["session"]["valid"] is False


def _plant(shared: Path, victim: Path, *names: str) -> None:
    for name in names:
        (shared / name).symlink_to(victim)


def test_planted_symlinks_in_a_shared_results_folder_are_never_written_through(suite_session, suite_cache, tmp_path):
    """``--benchmark-json`` in a folder others can write (a shared /tmp): links planted at the final
    name and at the partial name the harness used to derive from it are replaced or left, never followed."""
    shared, victim = tmp_path / "shared", tmp_path / "victim"
    shared.mkdir()
    victim.write_text("not yours\n")
    _plant(shared, victim, "run.json", "run.json.partial")
    s = suite_session("-k", "pure_rsa", f"--benchmark-json={shared / 'run.json'}", cache=suite_cache)
    assert s.finish() == 0, s.log
    assert victim.read_text() == "not yours\n", s.log
    written = shared / "run.json"
    assert not written.is_symlink() and json.loads(written.read_text())["benchmarks"][0]["name"] == "test_encrypt_pure_rsa"
    assert (shared / "run.json.partial").is_symlink()  # someone else's link: left as it was
    assert sorted(p.name for p in shared.iterdir()) == ["run.json", "run.json.partial"]
    assert oct(written.stat().st_mode & 0o777) == oct(0o666 & ~_umask()), "the results file keeps the usual mode"


def test_a_failed_run_never_moves_its_results_through_a_planted_failed_folder(suite_session, suite_cache, tmp_path):
    shared, elsewhere = tmp_path / "shared", tmp_path / "elsewhere"
    shared.mkdir()
    elsewhere.mkdir()
    (shared / "failed").symlink_to(elsewhere, target_is_directory=True)
    s = suite_session("-p", "tests.harness.faults", "--fault-fail=test_encrypt_pure_rsa", "-k", "test_encrypt",
                      f"--benchmark-json={shared / 'run.json'}", cache=suite_cache)
    assert s.finish() == 1, s.log
    assert list(elsewhere.iterdir()) == [], s.log
    assert sorted(p.name for p in shared.iterdir()) == ["failed"], s.log
    assert s.said().endswith(f"{shared / 'failed'} is not a folder (a symlink?): the 2 completed case(s) discarded"), \
        s.said()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_a_profiled_run_is_filed_by_host_with_a_unique_name_and_its_fingerprint(previous_run, suite_session,
                                                                               suite_cache):
    """Under a profile the entry goes to <hostname>/<machine id>/ and its name ends in a run token, so two
    machines' 0001 entries both survive a merge by copy; machine_info carries the hardware fingerprint."""
    from harness.contract import current_hostname
    from harness.fingerprint import fingerprint

    s = suite_session("-k", "pure_rsa", "--profile", "device", "--allow-unenforced", *previous_run.args(),
                      cache=suite_cache)
    assert s.finish() == 0, s.log
    new = sorted(set(previous_run.history_files()) - set(previous_run.history))
    assert len(new) == 1 and re.fullmatch(
        re.escape(f"{current_hostname()}/{get_machine_id()}") + r"/0001_\w+_\d{8}_\d{6}(_uncommitted-changes)?"
        r"_r[0-9a-f]{8}\.json", new[0]), new
    doc = json.loads((previous_run.storage / new[0]).read_text())
    stored = doc["machine_info"]["continuum"]["fingerprint"]
    assert stored == fingerprint(doc["machine_info"]) and stored["cpus"] >= 1
    assert doc["machine_info"]["continuum"]["versions"]["numpy"]  # beside the fingerprint, not in it
    shown = subprocess.run([sys.executable, "-m", "pytest_benchmark",
                            f"--storage=file://{previous_run.storage / current_hostname()}", "list"],
                           cwd=ROOT, capture_output=True, text=True, check=False)
    assert shown.returncode == 0 and Path(new[0]).name in shown.stdout, shown.stdout + shown.stderr


def test_ctrl_c_keeps_the_previous_results(previous_run, suite_session, suite_cache):
    """Mid-run, after one case completed: pytest's exit code, no traceback, one line; the completed
    cases go to results/failed/, the interrupted one (no rounds: pytest-benchmark's JSON writer
    failed on it) nowhere. The second case is held in its call (tests/harness/faults.py), so the
    signal lands mid-case without a base model to train; SIGTERM below lands in TensorFlow's loading."""
    s = suite_session("-p", "tests.harness.faults", "--fault-hold=test_decrypt_dataset_hybrid", "-k", "test_encrypt",
                      *previous_run.args(), cache=suite_cache)
    s.wait_for(r"test_encrypt_dataset_hybrid PASSED")
    s.signal_group(signal.SIGINT)
    assert s.finish() == 2, s.log
    previous_run.assert_untouched(s.log)
    assert "Traceback" not in s.log and "ValueError" not in s.log, s.log
    assert re.fullmatch(rf"continuum-bench: results not committed \(interrupted \(Ctrl-C\); .*\); "
                        rf"{re.escape(str(previous_run.json))} kept as it was; the 1 completed case\(s\) in "
                        rf"{re.escape(str(previous_run.failed))}; nothing saved to the history", s.said()), s.said()
    failed = json.loads(previous_run.failed.read_text())
    assert failed["machine_info"]["continuum"]["session"]["valid"] is False
    names = [b["name"] for b in failed["benchmarks"]]
    assert names == ["test_encrypt_dataset_hybrid"]
    assert all(b["stats"]["rounds"] >= 1 for b in failed["benchmarks"])


def test_sigterm_ends_the_session_like_ctrl_c(previous_run, suite_session, suite_cache):
    """Sent while the first case sets up (TensorFlow loading): exit 128 + 15, one line, nothing kept."""
    s = suite_session("-k", "test_prune and 50", *previous_run.args(), cache=suite_cache)
    s.wait_for(r"collected \d+ items")
    s.signal_group(signal.SIGTERM)
    assert s.finish() == 143, s.log
    previous_run.assert_untouched(s.log)
    assert "Traceback" not in s.log, s.log
    # (before or after the selection is known: the case list is there or not)
    assert re.fullmatch(rf"continuum-bench: results not committed \(terminated by SIGTERM(; 2 of 2 selected case\(s\) "
                        rf"did not run: .*)?\); {re.escape(str(previous_run.json))} kept as it was; no case completed; "
                        rf"nothing saved to the history", s.said()), s.said()
    assert not previous_run.failed.exists()


def test_a_dead_load_worker_stops_the_session_before_the_next_case(previous_run, suite_session, suite_cache):
    s = suite_session("--profile", "edge-loaded", "--profile-set", "load_workers=2", "--allow-unenforced",
                "-k", "test_encrypt", *previous_run.args(), cache=suite_cache)
    m = s.wait_for(r"background load ready: .*\(pids (\d+)\.\.(\d+)\)")
    os.kill(s.proc.pid, signal.SIGSTOP)  # hold the session here, so the kill lands before any case starts
    try:
        worker = int(m.group(2))
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _state(worker) not in ("Z", None):
            time.sleep(0.02)
    finally:
        os.kill(s.proc.pid, signal.SIGCONT)
    assert s.finish() == 1, s.log
    previous_run.assert_untouched(s.log)
    assert re.search(r"WorkerDied: background load worker 1 \(pid \d+\) was killed by signal 9", s.log), s.log
    assert " PASSED" not in s.log, "a case was timed under a load that was not the one claimed"
    line = s.said()
    assert line.startswith(f"continuum-bench: results not committed (stopped: WorkerDied: background load worker 1 "
                           f"(pid {worker}) was killed by signal 9"), line
    assert line.endswith(f"; {previous_run.json} kept as it was; no case completed; nothing saved to the history"), line


def _state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _image_folder(root: Path, classes: int = 4, per_class: int = 3) -> list[Path]:
    from PIL import Image

    files = []
    for c in range(classes):
        folder = root / f"class_{c}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            path = folder / f"img_{i}.jpg"
            Image.new("RGB", (32, 32), (60 * c, 20 * i, 90)).save(path, quality=90)
            files.append(path)
    return files


@pytest.mark.parametrize("damage", ["truncated", "text"])
def test_a_bad_image_stops_the_session_before_the_first_case(previous_run, suite_session, suite_cache, tmp_path, damage):
    files = _image_folder(tmp_path / "data")
    bad = files[5]
    if damage == "truncated":
        bad.write_bytes(bad.read_bytes()[:10])
    else:
        bad.write_text("not an image, whatever its name says\n")
    s = suite_session("--data-dir", str(tmp_path / "data"), "-k", "pure_rsa", *previous_run.args(), cache=suite_cache)
    assert s.finish() == 4, s.log
    previous_run.assert_untouched(s.log)
    assert f"--data-dir: cannot decode image file {bad}" in s.log, s.log
    assert "test_encrypt_pure_rsa" not in s.log, "a case ran before the data were checked"


@pytest.mark.cgroup
def test_a_run_its_memory_limit_killed_is_named_at_the_next_start(previous_run, suite_session, suite_cache,
                                                                    cgroup_places, oom_at_the_limit):
    """SIGKILL from the OOM killer runs no clean-up; the next start names the group and the profile."""
    s = suite_session("--profile", "device", "--profile-set", "memory_bytes=200MiB", "-k", "test_prune and 50",
                      *previous_run.args(), cache=suite_cache)
    assert s.finish() == -signal.SIGKILL, s.log  # TensorFlow alone outgrows 200 MiB
    previous_run.assert_untouched(s.log)
    group = cgroup_places["memory"].own_group / cgroups.group_name(s.proc.pid)
    assert group.is_dir()
    after = suite_session("--profile", "device", "-k", "no_such_case", *previous_run.args(), cache=suite_cache)
    assert after.finish() == 5, after.log
    assert re.search(rf"continuum-bench: run {s.proc.pid} \(profile device\) was killed by its memory limit: "
                     rf"cgroup {re.escape(str(group))} counted \d+ OOM kill\(s\) at a limit of 200 MiB", after.log), after.log
    assert f"the previous session (pid {s.proc.pid}, profile device" in after.log
    assert not group.exists()
    previous_run.assert_untouched(after.log)


class _Reporter:
    def __init__(self):
        self.lines: list[str] = []
        self._keyboardinterrupt_memo = None

    def ensure_newline(self):
        pass

    def write_line(self, line, **_):
        self.lines.append(line)


class _Config:
    def __init__(self, reporter):
        self.pluginmanager = type("PM", (), {"get_plugin": staticmethod(lambda name: reporter)})()

    def getoption(self, name, default=None):
        return "device" if name == "profile" else default


def _interrupt():
    from _pytest._code import ExceptionInfo

    from harness.commit import Terminated

    try:
        raise Terminated("SIGTERM received: the session stops as after Ctrl-C")
    except Terminated:
        return ExceptionInfo.from_current()


def test_an_interrupt_pytest_cannot_render_still_ends_the_session_as_interrupted():
    """Python 3.11 can leave ``tb_lineno`` None in an interrupted frame, and pytest's terminal reporter
    then raises TypeError from ``pytest_keyboard_interrupt``, which ended a SIGTERM'd session with exit 1.
    The plugin's wrapper takes that error and leaves a memo the reporter's summary can print."""
    import io

    from _pytest._io import TerminalWriter

    from harness.commit import SessionResults
    from harness.plugin import ResultsHooks

    reporter = _Reporter()
    hooks = ResultsHooks(SessionResults(_Config(reporter), None, None, None))
    excinfo = _interrupt()
    hook = hooks.pytest_keyboard_interrupt(excinfo)
    next(hook)  # the terminal reporter's own implementation runs here, and fails:
    with pytest.raises(StopIteration):
        hook.throw(TypeError("unsupported operand type(s) for -: 'NoneType' and 'int'"))
    memo = reporter._keyboardinterrupt_memo
    assert memo.reprcrash.message == "harness.commit.Terminated: SIGTERM received: the session stops as after Ctrl-C"
    out = io.StringIO()
    memo.reprcrash.toterminal(TerminalWriter(out))  # what the reporter's summary prints
    assert "Terminated: SIGTERM received" in out.getvalue()
    assert reporter.lines == ["continuum-bench: the interrupt's traceback could not be rendered (TypeError: "
                              "unsupported operand type(s) for -: 'NoneType' and 'int'); the session ends as interrupted"]


def test_an_interrupt_pytest_renders_is_left_alone():
    from harness.commit import SessionResults
    from harness.plugin import ResultsHooks

    reporter = _Reporter()
    reporter._keyboardinterrupt_memo = "the reporter's own"
    hook = ResultsHooks(SessionResults(_Config(reporter), None, None, None)).pytest_keyboard_interrupt(_interrupt())
    next(hook)
    with pytest.raises(StopIteration):
        hook.send(None)
    assert reporter._keyboardinterrupt_memo == "the reporter's own" and reporter.lines == []
