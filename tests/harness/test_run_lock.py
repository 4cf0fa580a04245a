"""One benchmark session per checkout at a time (harness/runlock.py): refused with the holder's
pid, or queued with --wait-for-run; a killed holder blocks nothing."""

from __future__ import annotations

import os
import signal
import time

import pytest

from harness.runlock import LOCK_NAME, RunLock, RunLocked


def _hold(suite_session, cache, *args):
    """A real session that holds the lock, stopped (SIGSTOP) right after it started."""
    holder = suite_session("-k", "pure_rsa", *args, cache=cache)
    holder.wait_for(r"test session starts")
    os.kill(holder.proc.pid, signal.SIGSTOP)
    return holder


def test_a_second_session_is_refused_and_a_killed_holder_blocks_nothing(previous_run, suite_session, tmp_path):
    cache = tmp_path / "cache"
    holder = _hold(suite_session, cache, *previous_run.args())
    other = tmp_path / "other" / "device.json"
    refused = suite_session("--profile", "device", "--allow-unenforced", "-k", "pure_rsa", f"--benchmark-json={other}",
                            cache=cache)
    assert refused.finish() == 4, refused.log
    assert (f"another benchmark session holds {cache / LOCK_NAME}: pid {holder.proc.pid}, profile none, started "
            in refused.log), refused.log
    assert "--wait-for-run" in refused.log and "test session starts" not in refused.log
    assert not other.exists()
    holder.kill()
    previous_run.assert_untouched(holder.log)
    after = suite_session("--profile", "device", "--allow-unenforced", "-k", "no_such_case",
                          f"--benchmark-json={other}", cache=cache)
    assert after.finish() == 5, after.log
    assert f"the previous session (pid {holder.proc.pid}, profile none, started " in after.log


def test_wait_for_run_starts_when_the_holder_ends(previous_run, suite_session, tmp_path):
    cache = tmp_path / "cache"
    holder = _hold(suite_session, cache, *previous_run.args())
    waiting = suite_session("--wait-for-run", "-k", "no_such_case", f"--benchmark-json={tmp_path / 'w.json'}",
                            cache=cache)
    waiting.wait_for(rf"waiting for the session of pid {holder.proc.pid} \(profile none\) to end")
    time.sleep(0.5)
    assert waiting.proc.poll() is None, waiting.log
    holder.kill()
    assert waiting.finish() == 5, waiting.log


def test_the_lock_names_its_holder_and_is_empty_after_release(tmp_path):
    lock = RunLock(tmp_path / LOCK_NAME)
    assert lock.acquire({"profile": "device"}) is None
    with pytest.raises(RunLocked, match=rf"pid {os.getpid()}, profile device, started "):
        RunLock(tmp_path / LOCK_NAME).acquire({"profile": "edge-idle"})  # flock: per open file, even in-process
    lock.release()
    assert (tmp_path / LOCK_NAME).read_text() == ""
    again = RunLock(tmp_path / LOCK_NAME)
    assert again.acquire({"profile": "edge-idle"}) is None
    again.release()
