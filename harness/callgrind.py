"""Instruction counts of exactly the calls a case times, with callgrind client requests.

A counted process runs under ``valgrind --tool=callgrind --collect-atstart=no``
(see :func:`valgrind_command`): nothing is counted until a region starts. A
:class:`Counter` counts one region::

    counter.start()      # CALLGRIND_ZERO_STATS; CALLGRIND_TOGGLE_COLLECT
    for _ in range(n):
        fn(*args)        # the callable the timed case calls
    counter.stop()       # CALLGRIND_TOGGLE_COLLECT
    counter.dump(label)  # CALLGRIND_DUMP_STATS_AT(label): one dump file per region

and :func:`parse_callgrind_totals` reads the dump's ``events:`` and
``summary:``/``totals:`` lines. Counting the whole process is useless (its
start-up varied by 9 % between identical runs here); the region alone repeats to
within 0.035 % for LiteRT and crypto calls, and to the instruction for a .tflite write
counted in a fresh process (harness/freshcount.py; docs/counts.md).

Only the thread that calls :meth:`Counter.start` is counted: callgrind's collection
switch is per thread, so work a call hands to other threads (TensorFlow's pools) is not
in its count (docs/counts.md). Only instructions (``Ir``) are counted: ``--cache-sim=no`` (callgrind's default)
costs nothing extra, while cache simulation (needed for callgrind's estimated
cycles) costs run time and models an idealised cache, not this CPU.

The client requests come from a small C file (``callgrind.c``) compiled with the
system C compiler at first use and cached by source hash in the suite's cache
folder; it needs ``valgrind/callgrind.h`` (Debian: ``apt-get install valgrind``).
Outside valgrind the requests are no-ops, so a counted case can tell where it runs.
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fixtures.cache import cache_root, file_lock, temporary_path

SOURCE = Path(__file__).with_name("callgrind.c")
LIBRARY_NAME = "libcontinuum_callgrind.so"
#: Environment variable naming the C compiler (default: ``cc``).
COMPILER_ENV_VARIABLE = "CC"
DEFAULT_COMPILER = "cc"
COMPILE_FLAGS = ("-O2", "-shared", "-fPIC")
#: How to get valgrind and its headers where they are missing (the suite's reference system: Debian).
INSTALL_HINT = "install valgrind (Debian/Ubuntu: apt-get install valgrind; it brings valgrind/callgrind.h) and a C compiler (apt-get install gcc)"
#: Dump file template of a counted process (``%p``: its pid); set by :func:`valgrind_command`.
OUT_FILE_ENV_VARIABLE = "CONTINUUM_BENCH_CALLGRIND_OUT"
#: CPU features that decide which kernels XNNPACK (and OpenSSL) pick, in the bit order of
#: callgrind.c's ``continuum_cpu_features``; values: the name in /proc/cpuinfo's flags.
CPU_FEATURES = {
    "sse4.2": "sse4_2",
    "avx": "avx",
    "avx2": "avx2",
    "fma": "fma",
    "f16c": "f16c",
    "avx512f": "avx512f",
    "avx512bw": "avx512bw",
    "avx512vl": "avx512vl",
    "avx512vnni": "avx512_vnni",
    "aes": "aes",
    "pclmul": "pclmulqdq",
}
_VERSION = re.compile(r"valgrind-(\d+\.\d+(?:\.\d+)?)")


class CallgrindUnavailable(RuntimeError):
    """Valgrind, its header or a C compiler is missing; the message says which and how to install it."""


class CallgrindOutputError(ValueError):
    """A callgrind dump that cannot be read; the message names the file and the line."""


@dataclass(frozen=True)
class Totals:
    """Event totals of one callgrind dump: event name -> count (``Ir``: instructions executed)."""

    path: Path
    label: str | None
    events: dict[str, int]

    @property
    def instructions(self) -> int:
        return self.events["Ir"]


def parse_callgrind_totals(path: Path | str) -> Totals:
    """The totals of the callgrind dump at ``path``.

    Reads the header's ``events:`` line (event names) and the ``totals:`` line, else
    ``summary:`` (one count per event; a missing trailing count is 0, as the format
    says), and the ``desc: Trigger: Client Request: <label>`` line when present.
    Raises :class:`CallgrindOutputError` for a file without those lines or with a
    count that is not an integer.
    """
    path = Path(path)
    names: list[str] | None = None
    totals: list[str] | None = None
    summary: list[str] | None = None
    label = None
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            key, sep, value = line.partition(":")
            if not sep:
                continue
            value = value.strip()
            if key == "events":
                names = value.split()
            elif key == "totals":
                totals = value.split()
            elif key == "summary":
                summary = value.split()
            elif key == "desc" and value.startswith("Trigger: Client Request:"):
                label = value.removeprefix("Trigger: Client Request:").strip()
            for field in (totals, summary):
                if field is not None and not all(item.isdigit() for item in field):
                    raise CallgrindOutputError(f"{path}:{number}: counts must be integers, got {value!r}")
    counts = totals if totals is not None else summary
    if names is None or not names:
        raise CallgrindOutputError(f"{path}: no 'events:' line: not a callgrind dump")
    if counts is None:
        raise CallgrindOutputError(f"{path}: no 'totals:' or 'summary:' line: the dump is incomplete")
    if len(counts) > len(names):
        raise CallgrindOutputError(f"{path}: {len(counts)} totals for {len(names)} events {names}")
    values = [int(item) for item in counts] + [0] * (len(names) - len(counts))
    return Totals(path=path, label=label, events=dict(zip(names, values)))


def find_valgrind() -> str:
    """Path of the ``valgrind`` executable on PATH; :class:`CallgrindUnavailable` when there is none."""
    found = shutil.which("valgrind")
    if found is None:
        raise CallgrindUnavailable(f"valgrind not found on PATH: {INSTALL_HINT}")
    return found


def valgrind_version(valgrind: str | None = None) -> str:
    """Valgrind's version (``3.19.0``), from ``valgrind --version``."""
    valgrind = valgrind or find_valgrind()
    output = subprocess.run([valgrind, "--version"], capture_output=True, text=True, check=True).stdout
    match = _VERSION.search(output)
    if match is None:
        raise CallgrindUnavailable(f"{valgrind} --version printed {output.strip()!r}, not valgrind-X.Y.Z")
    return match.group(1)


def valgrind_command(out_file: Path | str, *, valgrind: str | None = None) -> list[str]:
    """The valgrind prefix of a counted process: callgrind, nothing counted until a region starts.

    ``out_file`` is the dump file template (``%p`` is the pid; each region's dump is
    ``<out_file>.<n>``). The child needs :data:`OUT_FILE_ENV_VARIABLE` set to the same
    template, so its :class:`Counter` finds its dumps.
    """
    return [
        valgrind or find_valgrind(),
        "--tool=callgrind",
        "--collect-atstart=no",
        "--instr-atstart=no",
        "--cache-sim=no",
        "--dump-instr=no",
        "--compress-strings=no",
        f"--callgrind-out-file={out_file}",
    ]


def host_cpu_features(cpuinfo: Path | str = "/proc/cpuinfo") -> dict[str, bool]:
    """:data:`CPU_FEATURES` as the host's ``/proc/cpuinfo`` flags give them (the real CPU).

    Where the file has no ``flags`` line (not x86 Linux) every feature is False.
    """
    flags: set[str] = set()
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            flags = set(value.split())
            break
    return {name: flag in flags for name, flag in CPU_FEATURES.items()}


def _compiler() -> str:
    compiler = os.environ.get(COMPILER_ENV_VARIABLE) or DEFAULT_COMPILER
    found = shutil.which(compiler)
    if found is None:
        raise CallgrindUnavailable(f"no C compiler {compiler!r} on PATH (set ${COMPILER_ENV_VARIABLE}): {INSTALL_HINT}")
    return found


def build_helper(cache: Path | str | None = None) -> Path:
    """The compiled helper library, built at first use and cached by source hash.

    Lives in ``<cache>/callgrind/<hash>/`` (default cache: the suite's, see
    :func:`fixtures.cache.cache_root`); built under a temporary name and moved into
    place, under a lock, so two processes never load a half-written library.
    """
    source = SOURCE.read_bytes()
    key = hashlib.sha256(source + platform.machine().encode()).hexdigest()[:16]
    folder = Path(cache) if cache is not None else cache_root()
    library = folder / "callgrind" / key / LIBRARY_NAME
    if library.is_file():
        return library
    compiler = _compiler()
    with file_lock(library.with_name(".lock")):
        if library.is_file():
            return library
        tmp = temporary_path(library, ".so")
        try:
            result = subprocess.run(
                [compiler, *COMPILE_FLAGS, "-o", str(tmp), str(SOURCE)], capture_output=True, text=True
            )
            if result.returncode != 0:
                missing_header = "callgrind.h" in result.stderr
                reason = "valgrind/callgrind.h not found" if missing_header else f"{compiler} failed"
                raise CallgrindUnavailable(
                    f"cannot build the callgrind helper from {SOURCE}: {reason}: {result.stderr.strip()[-400:]}"
                    + (f"; {INSTALL_HINT}" if missing_header else "")
                )
            os.replace(tmp, library)
        finally:
            tmp.unlink(missing_ok=True)
    return library


class Counter:
    """Callgrind client requests of this process (see the module docstring).

    ``out_file``: the dump file template the process runs with (default: from
    :data:`OUT_FILE_ENV_VARIABLE`); needed only to read dumps back.
    """

    def __init__(self, library: Path | str | None = None, out_file: str | None = None) -> None:
        lib = ctypes.CDLL(str(library or build_helper()))
        # Bound once here: ctypes resolves a symbol at its first attribute access, ~30k
        # instructions that would otherwise land inside the first counted region.
        self._running = lib.continuum_running_on_valgrind
        self._running.restype = ctypes.c_int
        self._start = lib.continuum_count_start
        self._start.restype = None
        self._stop = lib.continuum_count_stop
        self._stop.restype = None
        self._dump = lib.continuum_count_dump
        self._dump.argtypes = [ctypes.c_char_p]
        self._dump.restype = None
        self._features = lib.continuum_cpu_features
        self._features.restype = ctypes.c_uint
        self.out_file = out_file if out_file is not None else os.environ.get(OUT_FILE_ENV_VARIABLE)
        self._dumps = 0

    @property
    def running_on_valgrind(self) -> bool:
        return self._running() > 0

    def cpu_features(self) -> dict[str, bool]:
        """:data:`CPU_FEATURES` as this process sees them (under valgrind: its virtual CPU)."""
        bits = self._features()
        return {name: bool(bits >> i & 1) for i, name in enumerate(CPU_FEATURES)}

    def start(self) -> None:
        self._start()

    def stop(self) -> None:
        self._stop()

    def dump(self, label: str) -> Totals:
        """Dump the counts of the region since :meth:`start` and read them back."""
        if not self.running_on_valgrind:
            raise CallgrindUnavailable("not running under valgrind: nothing was counted")
        if not self.out_file:
            raise CallgrindUnavailable(f"${OUT_FILE_ENV_VARIABLE} is not set: the dump file is unknown")
        self._dump(label.encode())
        self._dumps += 1
        path = Path(self.out_file.replace("%p", str(os.getpid())) + f".{self._dumps}")
        totals = parse_callgrind_totals(path)
        if totals.label != label:
            raise CallgrindOutputError(f"{path}: dump labelled {totals.label!r}, expected {label!r}")
        return totals

    def region(self, fn, calls: int, args: tuple = ()) -> None:
        """Count ``calls`` calls of ``fn(*args)`` as one region (0: the empty region); read it with :meth:`dump`.

        A full collection runs first: the cyclic collector runs after every 700 net allocations,
        counted from its last run, so without it what the process did before (even the length
        of an option's path) decides whether a collection falls inside the region (~12 k
        instructions).
        """
        gc.collect()
        self.start()
        for _ in range(calls):
            fn(*args)
        self.stop()

    def count(self, fn, calls: int, label: str, args: tuple = (), kwargs: dict | None = None) -> Totals:
        """Count ``calls`` calls of ``fn(*args, **kwargs)`` as one region."""
        if isinstance(calls, bool) or not isinstance(calls, int) or calls < 1:
            raise ValueError(f"calls must be an integer >= 1, got {calls!r}")
        kwargs = kwargs or {}
        self.start()
        for _ in range(calls):
            fn(*args, **kwargs)
        self.stop()
        return self.dump(label)
