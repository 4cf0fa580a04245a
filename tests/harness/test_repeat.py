"""harness.repeat: N fresh pytest processes, stopping at the first failure."""
import pytest

from harness import repeat


def _suite(tmp_path, body):
    (tmp_path / "test_once.py").write_text(
        "import os, pathlib\n"
        "def test_once():\n"
        "    log = pathlib.Path(__file__).with_name('runs.log')\n"
        "    log.write_text(log.read_text() + f'{os.getpid()}\\n' if log.exists() else f'{os.getpid()}\\n')\n"
        f"    {body}\n"
    )
    return tmp_path / "runs.log"


def test_each_run_is_a_new_process(tmp_path, capsys):
    log = _suite(tmp_path, "pass")
    assert repeat.main(["--times", "3", "--", str(tmp_path), "-q", "-p", "no:cacheprovider"]) == 0
    pids = log.read_text().split()
    assert len(pids) == 3 and len(set(pids)) == 3
    assert "run 3 of 3" in capsys.readouterr().out


def test_stops_at_the_first_failure(tmp_path):
    log = _suite(tmp_path, "assert False")
    assert repeat.main(["--times", "3", "--", str(tmp_path), "-q", "-p", "no:cacheprovider"]) == 1
    assert len(log.read_text().split()) == 1


def test_times_must_be_positive():
    with pytest.raises(SystemExit) as exc:
        repeat.main(["--times", "0", "--", "x"])
    assert exc.value.code == 2
