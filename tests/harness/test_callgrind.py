"""harness.callgrind: the dump parser, the helper's build, and counting a known workload under valgrind."""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness import callgrind

REPO = Path(__file__).resolve().parents[2]
NEEDS_VALGRIND = pytest.mark.skipif(shutil.which("valgrind") is None,
                                    reason=f"valgrind not found on PATH: {callgrind.INSTALL_HINT}")
NEEDS_CC = pytest.mark.skipif(shutil.which("cc") is None, reason=f"no C compiler cc: {callgrind.INSTALL_HINT}")

#: The head of a real callgrind 3.19 dump (made by CALLGRIND_DUMP_STATS_AT("case n=10")).
DUMP = """\
# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 7031
cmd:  /repo/.venv/bin/python exp.py
part: 1

desc: I1 cache: 
desc: D1 cache: 
desc: LL cache: 

desc: Timerange: Basic block 0 - 25856906
desc: Trigger: Client Request: case n=10

positions: line
events: Ir
summary: 28028884


ob=(1) /usr/lib/x86_64-linux-gnu/libc.so.6
fl=(168) ./malloc/./malloc/malloc.c
fn=(1) free
0 12
"""


def _write(tmp_path, text):
    path = tmp_path / "callgrind.out.1"
    path.write_text(text)
    return path


def test_parses_the_summary_and_the_label(tmp_path):
    totals = callgrind.parse_callgrind_totals(_write(tmp_path, DUMP))
    assert totals.instructions == 28028884
    assert totals.label == "case n=10"
    assert totals.events == {"Ir": 28028884}


def test_totals_win_over_summary_and_missing_counts_are_zero(tmp_path):
    text = DUMP.replace("events: Ir", "events: Ir Dr Dw").replace("summary: 28028884", "summary: 5\ntotals: 7 3")
    totals = callgrind.parse_callgrind_totals(_write(tmp_path, text))
    assert totals.events == {"Ir": 7, "Dr": 3, "Dw": 0}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (DUMP.replace("events: Ir\n", ""), "no 'events:' line"),
        (DUMP.replace("summary: 28028884\n", ""), "no 'totals:' or 'summary:' line"),
        (DUMP.replace("summary: 28028884", "summary: 2.8e7"), "counts must be integers"),
        (DUMP.replace("summary: 28028884", "summary: 1 2"), "2 totals for 1 events"),
    ],
)
def test_a_bad_dump_names_the_file(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(callgrind.CallgrindOutputError, match=message) as exc:
        callgrind.parse_callgrind_totals(path)
    assert str(path) in str(exc.value)


def test_host_cpu_features_read_the_flags_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse4_2 avx avx2 fma f16c aes\n\nprocessor\t: 1\n")
    features = callgrind.host_cpu_features(cpuinfo)
    assert features["avx2"] and features["fma"] and features["sse4.2"] and features["aes"]
    assert not features["avx512f"] and not features["pclmul"]
    assert not any(callgrind.host_cpu_features(tmp_path / "missing").values())


def test_valgrind_missing_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(callgrind.CallgrindUnavailable, match="apt-get install valgrind"):
        callgrind.find_valgrind()


@NEEDS_CC
def test_the_helper_is_built_once_and_is_a_no_op_outside_valgrind(tmp_path):
    library = callgrind.build_helper(tmp_path)
    assert library.is_file() and library.parent.parent == tmp_path / "callgrind"
    mtime = library.stat().st_mtime_ns
    assert callgrind.build_helper(tmp_path) == library and library.stat().st_mtime_ns == mtime
    counter = callgrind.Counter(library)
    assert not counter.running_on_valgrind
    counter.start()  # client requests do nothing outside valgrind
    counter.stop()
    with pytest.raises(callgrind.CallgrindUnavailable, match="not running under valgrind"):
        counter.dump("x")


def test_a_missing_header_says_how_to_install_it(tmp_path, monkeypatch):
    fake_cc = tmp_path / "bin" / "cc"
    fake_cc.parent.mkdir()
    fake_cc.write_text("#!/bin/sh\necho 'callgrind.c:8:10: fatal error: valgrind/callgrind.h: No such file or directory' >&2\nexit 1\n")
    fake_cc.chmod(0o755)
    monkeypatch.setenv("CC", str(fake_cc))
    with pytest.raises(callgrind.CallgrindUnavailable, match="callgrind.h not found.*apt-get install valgrind"):
        callgrind.build_helper(tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("*.so")), "no half-built library is left behind"


#: Counted under valgrind: 10 and 20 calls of one deterministic workload (C-level sha256 and
#: pure-Python arithmetic), and 20 calls with --inject-slowdown's wrapper at SHARE 0.5.
WORKLOAD = textwrap.dedent(
    """
    import hashlib, json, sys
    from fractions import Fraction
    from harness.callgrind import Counter
    from harness.inject import InjectedCall

    data = b"x" * 50_000

    def work():
        hashlib.sha256(data).digest()
        return sum(i * i for i in range(2_000))

    counter = Counter(sys.argv[1])
    work(); work()  # warm-up, uncounted
    injected = InjectedCall(work, Fraction(1, 2))
    wrapped = InjectedCall(work, Fraction(1, 1000))  # the wrapper, no repeat within 20 calls
    out = {
        "running": counter.running_on_valgrind,
        "n10": counter.count(work, 10, "n=10").instructions,
        "n20": counter.count(work, 20, "n=20").instructions,
        "n20_again": counter.count(work, 20, "n=20 again").instructions,
        "injected": counter.count(injected, 20, "n=20 share 0.5").instructions,
        "wrapped": counter.count(wrapped, 20, "n=20 wrapped").instructions,
        "extra_calls": injected.extra_calls,
        "features": counter.cpu_features(),
    }
    print("RESULT " + json.dumps(out))
    """
)


@NEEDS_VALGRIND
@NEEDS_CC
def test_counts_are_exactly_proportional_to_calls_and_see_injected_work(tmp_path):
    library = callgrind.build_helper(tmp_path / "cache")
    script = tmp_path / "workload.py"
    script.write_text(WORKLOAD)
    out_file = tmp_path / "callgrind.out.%p"
    env = dict(os.environ, PYTHONPATH=str(REPO), **{callgrind.OUT_FILE_ENV_VARIABLE: str(out_file)})
    result = subprocess.run(
        [*callgrind.valgrind_command(out_file), sys.executable, str(script), str(library)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    out = json.loads(line.removeprefix("RESULT "))
    assert out["running"]
    assert out["n20"] / out["n10"] == pytest.approx(2.0, rel=1e-3)
    assert out["n20_again"] == pytest.approx(out["n20"], rel=1e-4)
    assert out["extra_calls"] == 10
    assert out["injected"] / out["wrapped"] == pytest.approx(1.5, rel=1e-3)
    assert out["wrapped"] / out["n20"] == pytest.approx(1.0, abs=5e-3)  # the wrapper itself: < 0.5 %
    assert set(out["features"]) == set(callgrind.CPU_FEATURES)
