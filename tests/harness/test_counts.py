"""harness.counts: where valgrind is missing the counted run says how to install it, and the
counted cases skip with the reason outside a counted session."""
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harness import counts

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
    assert "25 skipped" in result.stdout
    expected = "apt-get install valgrind" if without_valgrind or not shutil.which("valgrind") else "tox -e counts"
    assert expected in result.stdout


@pytest.mark.parametrize(("argv", "saved"), [([], True), (["--no-save"], False),
                                             (["--inject-slowdown", "inference=0.01"], False)])
def test_a_counted_run_is_saved_into_the_hosts_history_unless_told_not_or_injected(argv, saved):
    args, rest = counts._parse([*argv, "--history", "h", "-k", "x"])
    options = counts.save_options(args)
    assert rest == ["-k", "x"]
    assert options == (["--benchmark-autosave", f"--benchmark-storage=file://h/{socket.gethostname()}"] if saved else [])
