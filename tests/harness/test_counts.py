"""harness.counts: where valgrind is missing the counted run says how to install it, the
counted cases skip with the reason outside a counted session, the counted child never outlives
its coordinator, and the run's private key is owner-only and removed with the run."""
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import counts
from harness.record import MODELS
from tests.emulation.conftest import wait_gone

REPO = Path(__file__).resolve().parents[2]


def _path_without_valgrind(tmp_path) -> str:
    """PATH with only what the suite needs to start (no valgrind): a folder of links to sh and cc."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("sh", "cc"):
        found = shutil.which(tool)
        if found:
            (folder / tool).symlink_to(found)
    return str(folder)


def test_the_counted_run_exits_3_saying_how_to_install_valgrind(tmp_path):
    env = dict(os.environ, PATH=_path_without_valgrind(tmp_path), CONTINUUM_BENCH_CACHE=str(tmp_path / "cache"))
    result = subprocess.run([sys.executable, "-m", "harness.counts", "--json", str(tmp_path / "c.json")],
                            capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert result.returncode == counts.EXIT_UNAVAILABLE == 3
    assert "valgrind not found on PATH" in result.stderr and "apt-get install valgrind" in result.stderr
    assert not (tmp_path / "c.json").exists()


def test_skip_reason(monkeypatch, tmp_path):
    path = os.environ["PATH"]
    monkeypatch.delenv(counts.INPUTS_ENV_VARIABLE, raising=False)
    monkeypatch.setenv("PATH", _path_without_valgrind(tmp_path))
    assert "valgrind not found on PATH" in counts.skip_reason()
    if shutil.which("valgrind", path=path):
        monkeypatch.setenv("PATH", path)
        assert "tox -e counts" in counts.skip_reason()
        monkeypatch.setenv(counts.INPUTS_ENV_VARIABLE, str(tmp_path))
        assert counts.skip_reason() is None


@pytest.mark.parametrize("without_valgrind", [False, True])
def test_counted_cases_skip_with_the_reason_outside_a_counted_session(tmp_path, without_valgrind):
    env = dict(os.environ)
    env.pop(counts.INPUTS_ENV_VARIABLE, None)
    if without_valgrind:
        env["PATH"] = _path_without_valgrind(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "benchmarks/test_counts.py", "--preset=tiny", "-p", "no:cacheprovider",
         "-rs", "--benchmark-disable"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert " passed" not in result.stdout
    # every model float and int8, every model's .tflite write, and the three crypto cases
    assert f"{3 * len(MODELS) + 3} skipped" in result.stdout
    expected = "apt-get install valgrind" if without_valgrind or not shutil.which("valgrind") else "tox -e counts"
    assert expected in result.stdout


@pytest.mark.parametrize(("argv", "saved"), [([], True), (["--no-save"], False),
                                             (["--inject-slowdown", "inference=0.01"], False)])
def test_a_counted_run_is_saved_into_the_hosts_history_unless_told_not_or_injected(argv, saved):
    args, rest = counts._parse([*argv, "--history", "h", "-k", "x"])
    options = counts.save_options(args)
    assert rest == ["-k", "x"]
    assert options == (["--benchmark-autosave", f"--benchmark-storage=file://h/{socket.gethostname()}"] if saved else [])


CHILD = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(600)"
COORDINATOR = ("import os, sys; from harness.counts import run_child; "
               "sys.exit(run_child([sys.executable, '-c', sys.argv[1], sys.argv[2]], dict(os.environ)))")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGHUP, signal.SIGTERM], ids=lambda s: s.name)
def test_the_counted_child_never_outlives_its_coordinator(tmp_path, sig):
    """The valgrind child's place taken by a sleeper: killed outright, the coordinator takes it along
    (parent-death signal); SIGHUP and SIGTERM stop it through the coordinator's clean-up."""
    pid_file = tmp_path / "child.pid"
    # no pipes: a surviving child would hold them open
    coordinator = subprocess.Popen([sys.executable, "-c", COORDINATOR, CHILD, str(pid_file)], cwd=REPO,
                                   stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())
    coordinator.send_signal(sig)
    coordinator.wait(timeout=60)
    left = wait_gone([child], timeout_s=5)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"the child {child} outlived a coordinator stopped by {sig.name}"


def test_the_private_key_is_owner_only_never_written_through_a_link_and_removed_with_the_run(tmp_path, monkeypatch):
    from pipeline.encrypt import load_private_key_pem

    monkeypatch.setenv("CONTINUUM_BENCH_CACHE", str(tmp_path / "cache"))
    with counts.run_folder() as folder:
        key = counts.write_key_pair(folder)
        path = folder / counts.KEY_FILE
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert load_private_key_pem(path.read_bytes()).private_numbers() == key.private_numbers()
    assert not path.exists()

    target = tmp_path / "elsewhere"
    target.write_text("untouched")
    with pytest.raises(RuntimeError, match="stopped"), counts.run_folder() as folder:
        (folder / counts.KEY_FILE).symlink_to(target)
        with pytest.raises(FileExistsError):
            counts.write_key_pair(folder)
        (folder / counts.KEY_FILE).unlink()
        counts.write_key_pair(folder)
        raise RuntimeError("stopped")
    assert target.read_text() == "untouched" and not (folder / counts.KEY_FILE).exists()
