"""The storage of results: the pytest-benchmark JSON format and the history layout.

Every reader (report, compare, history, gate, advise --results, tools/) goes through this
module; nothing else parses the results JSON or knows where saved runs lie. What it
returns is :mod:`reports.model`'s.

Files. A run is one pytest-benchmark document (``--benchmark-json``, pytest-benchmark
5.3): ``machine_info`` (with ``continuum``, the profile record the suite's
machine_info hook writes), ``commit_info``, ``datetime``, and ``benchmarks``, each
with ``name``/``fullname``, ``stats`` (``mean``, ``median``, ``min``, ``stddev``,
``rounds`` and, with ``--benchmark-save-data``, the raw ``data``) and ``extra_info``
(checked against :mod:`harness.contract`). Errors are ``ResultsError`` naming the
file, the benchmark and the field.

History. ``--benchmark-storage=file://results/history/<profile>`` with
``--benchmark-autosave`` writes ``<storage>/<host>/<machine id>/NNNN_<commit>_<datetime>.json``:
the suite's conftest adds ``<host>`` (:func:`harness.contract.host_storage`; pytest-benchmark's own
machine id, ``Linux-CPython-3.11-64bit``, does not tell two hosts apart), plain
pytest-benchmark writes ``<storage>/<machine id>/NNNN_*.json``; both are read.
Under a profile the name ends in a run token (``..._r<8 hex>.json``,
:func:`harness.contract.unique_entry_name`), so many machines' histories merge into one store by
copy; :func:`store_entries` reads every host folder of such a store (a bad file skipped with a
warning, one run copied twice counted once by :func:`run_identity`) and
:func:`group_by_fingerprint` groups the runs by hardware (:mod:`harness.fingerprint`).

It imports no numpy or pandas (the model's :meth:`ResultSet.frame` imports pandas when called).
Validity (:attr:`Run.invalid`, :attr:`Run.unenforced`) is the model's; :func:`load_run` and
:func:`load_results` refuse an invalid run unless asked not to.

Counted runs. A run made by ``python -m harness.counts`` (``tox -e counts``) carries
``machine_info.counts`` (the tool, valgrind's version, the CPU features) and every benchmark's
``extra_info.instructions`` (instructions per call). Its profile is :data:`COUNTS_PROFILE`:
counts do not depend on a CPU quota or a load, so one counted run serves every profile, and
its history is ``results/history/counts``. A counted run whose benchmark has no count is an
error naming it; a timed run is validated exactly as before.

Injected slowdowns. A run made with ``--inject-slowdown`` records
``machine_info.injected_slowdown`` (``{operation: share}``, ``{}`` on a plain run):
:attr:`Run.injected` names it, and the gate never takes such a run as a baseline.
"""
from __future__ import annotations

import hashlib
import json
import math
import platform
import re
from pathlib import Path
from typing import Mapping

from harness.contract import PROFILES, contract_errors, current_hostname

from .model import (COUNT_FIELD, COUNTS_PROFILE, NO_PROFILE, Benchmark, HistoryEntry, InvalidRunError, ResultsError,
                    ResultSet, Run)

STATS_FIELDS = ("mean", "stddev", "rounds", "median", "min")
#: Largest results file read [byte]: a suite run is well under 10 MiB; a bigger file is not one.
MAX_RESULTS_BYTES = 256 * 2**20
#: Longest time a benchmark field may hold [s] (a year): beyond it is no measurement, and the
#: ratios and sums of such values overflow.
MAX_TIME_S = 365 * 86400.0
ENTRY_NAME = re.compile(r"^(\d{4})_.*\.json$")  # NNNN_<anything>.json; group 1: the number
HISTORY_ID = re.compile(r"^\d{4}$")


# ---- reading one file ---------------------------------------------------------------------

def read_document(path: Path | str) -> dict:
    """The JSON document of a pytest-benchmark file; ResultsError naming the file otherwise
    (missing, not a regular file, over :data:`MAX_RESULTS_BYTES`, not UTF-8, malformed, nested
    too deeply, or no ``benchmarks`` list)."""
    path = Path(path)
    text = _read_text(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ResultsError(f"{path}: malformed or truncated JSON ({e.msg} at line {e.lineno}, "
                           f"column {e.colno})") from None
    except RecursionError:
        raise ResultsError(f"{path}: JSON nested too deeply to be a pytest-benchmark document") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise ResultsError(f"{path}: not a pytest-benchmark JSON document (no 'benchmarks' list)")
    return doc


def _read_text(path: Path) -> str:
    """A results file's text, refused unless a regular UTF-8 file of at most MAX_RESULTS_BYTES."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file or folder") from None
    except OSError as e:
        raise ResultsError(f"{path}: cannot read ({e.strerror})") from None
    if path.is_dir():
        raise ResultsError(f"{path}: a folder, not a results file")
    if not path.is_file():
        raise ResultsError(f"{path}: not a regular file (a device or a pipe); give a pytest-benchmark JSON file")
    if st.st_size > MAX_RESULTS_BYTES:
        raise ResultsError(f"{path}: {st.st_size} bytes, over the {MAX_RESULTS_BYTES // 2**20} MiB a results file "
                           "may hold")
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_RESULTS_BYTES + 1)
    except OSError as e:
        raise ResultsError(f"{path}: cannot read ({e.strerror})") from None
    if len(raw) > MAX_RESULTS_BYTES:
        raise ResultsError(f"{path}: over the {MAX_RESULTS_BYTES // 2**20} MiB a results file may hold")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ResultsError(f"{path}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}); "
                           "pytest-benchmark writes UTF-8 JSON") from None


def profile_record(doc: Mapping, source: str) -> dict:
    """machine_info['continuum'] with a validated profile name (string)."""
    mi = doc.get("machine_info")
    if not isinstance(mi, dict):
        raise ResultsError(f"{source}: field 'machine_info' missing or not an object")
    cont = mi.get("continuum")
    if not isinstance(cont, dict):
        raise ResultsError(f"{source}: field 'machine_info.continuum' missing (the profile record "
                           f"written by the suite's machine_info hook)")
    prof = cont.get("profile")
    name = prof.get("name") if isinstance(prof, dict) else prof
    if not isinstance(name, str) or not name:
        raise ResultsError(f"{source}: field 'machine_info.continuum.profile.name' missing; "
                           f"expected one of {PROFILES}")
    if name not in PROFILES + (NO_PROFILE,):
        raise ResultsError(f"{source}: machine_info.continuum.profile.name is {name!r}; "
                           f"expected one of {PROFILES}")
    return {**cont, "profile": prof if isinstance(prof, dict) else {"name": name}}


def counts_record(doc: Mapping, source: str) -> dict | None:
    """``machine_info.counts`` of a counted run (an object naming its ``tool``); None for a timed run."""
    mi = doc.get("machine_info")
    if not isinstance(mi, dict) or "counts" not in mi:
        return None
    record = mi["counts"]
    if not isinstance(record, dict) or not record.get("tool"):
        raise ResultsError(f"{source}: field 'machine_info.counts' must be the counted run's record (an object "
                           f"with 'tool', written by harness/counts.py), got {record!r}")
    return record


def _number(where: str, value, *, integer: bool = False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ResultsError(f"{where} must be a number, got {value!r}")
    return int(value) if integer else float(value)


def check_times(where: str, values: Mapping, data: tuple) -> None:
    """Refuse statistics no timer produces: a negative or over-long time, or fewer than one
    round; ResultsError naming ``where`` and the field."""
    for f in ("mean", "median", "min", "stddev"):
        if not 0 <= values[f] <= MAX_TIME_S:
            raise ResultsError(f"{where}: field 'stats.{f}' must be a time in [0, {MAX_TIME_S:.0f}] s (a year), "
                               f"got {values[f]!r}")
    for i, v in enumerate(data):
        if not 0 <= v <= MAX_TIME_S:
            raise ResultsError(f"{where}: field 'stats.data[{i}]' must be a time in [0, {MAX_TIME_S:.0f}] s (a year), "
                               f"got {v!r}")
    if values["rounds"] < 1:
        raise ResultsError(f"{where}: field 'stats.rounds' must be >= 1, got {values['rounds']!r}")


def parse_benchmark(b, index: int, profile: str | None, source: str) -> Benchmark:
    """One entry of ``benchmarks``, validated: stats, raw rounds, extra_info (the contract)."""
    if not isinstance(b, dict):
        raise ResultsError(f"{source}: field 'benchmarks' holds entries that are not objects "
                           f"(benchmarks[{index}])")
    name = b.get("name") or b.get("fullname")
    if not name:
        raise ResultsError(f"{source}: benchmarks[{index}] has no name")
    where = f"{source}: benchmark {name!r}"
    info = b.get("extra_info")
    if not isinstance(info, dict):
        raise ResultsError(f"{where}: field 'extra_info' missing")
    errors = contract_errors(info)
    if errors:
        raise ResultsError(f"{where}: " + "; ".join(errors))
    stats = b.get("stats")
    if not isinstance(stats, dict):
        raise ResultsError(f"{where}: field 'stats' missing")
    for f in STATS_FIELDS:
        if f not in stats:
            raise ResultsError(f"{where}: field 'stats.{f}' missing")
    values = {f: _number(f"{where}: field 'stats.{f}'", stats[f], integer=f == "rounds")
              for f in STATS_FIELDS}
    data = stats.get("data") or []
    if not isinstance(data, list):
        raise ResultsError(f"{where}: field 'stats.data' must be a list of round times, got {type(data).__name__}")
    data = tuple(_number(f"{where}: field 'stats.data[{i}]'", v) for i, v in enumerate(data))
    check_times(where, values, data)
    iterations = _number(f"{where}: field 'stats.iterations'", stats.get("iterations", 1), integer=True)
    if iterations < 1:
        raise ResultsError(f"{where}: stats.iterations must be >= 1, got {iterations!r}")
    if COUNT_FIELD in info:
        count = info[COUNT_FIELD]
        if isinstance(count, bool) or not isinstance(count, (int, float)) or not count > 0 or not math.isfinite(count):
            raise ResultsError(f"{where}: field 'extra_info.{COUNT_FIELD}' must be a number > 0 "
                               f"(instructions per call), got {count!r}")
    return Benchmark(source=source, profile=profile, name=name, fullname=b.get("fullname") or name,
                     operation=info["operation"], mean_s=values["mean"], median_s=values["median"],
                     min_s=values["min"], stddev_s=values["stddev"], rounds=values["rounds"], data=data,
                     extra_info=dict(info), iterations=iterations)


def parse_run(doc: Mapping, source: str) -> Run:
    """A validated Run from a pytest-benchmark document (``source`` names it in errors)."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("benchmarks"), list):
        raise ResultsError(f"{source}: not a pytest-benchmark JSON document (no 'benchmarks' list)")
    if not doc["benchmarks"]:
        raise ResultsError(f"{source}: holds no benchmarks")
    counted = counts_record(doc, source)
    if counted is None:
        record = profile_record(doc, source)
        profile = record["profile"]["name"]
    else:  # counts do not depend on the profile: the record, when there is one, is checked, not used
        record = profile_record(doc, source) if "continuum" in doc["machine_info"] else {}
        profile = COUNTS_PROFILE
    benchmarks = tuple(parse_benchmark(b, i, profile, source) for i, b in enumerate(doc["benchmarks"]))
    if counted is not None:
        uncounted = [b.name for b in benchmarks if b.instructions is None]
        if uncounted:
            raise ResultsError(f"{source}: a counted run (machine_info.counts) whose benchmark {uncounted[0]!r} has "
                               f"no extra_info.{COUNT_FIELD}")
    seen: dict[str, int] = {}
    for b in benchmarks:
        if b.key in seen:
            raise ResultsError(f"{source}: benchmark {b.key!r} appears twice")
        seen[b.key] = 1
    commit = (doc.get("commit_info") or {}).get("id")
    return Run(source, profile, record, commit, doc.get("datetime"), benchmarks, doc.get("machine_info") or {})


def load_run(path: Path | str, *, allow_invalid: bool = True) -> Run:
    """Read and validate one file; ``allow_invalid=False`` raises InvalidRunError for a run
    whose load was not valid, naming the field."""
    run = parse_run(read_document(path), str(path))
    if not allow_invalid:
        refuse_invalid(run)
    return run


def refuse_invalid(run: Run) -> None:
    if run.invalid:
        raise InvalidRunError(f"{run.source}: not a valid run: {'; '.join(run.invalid)}. Rerun the profile "
                              f"(or pass --allow-invalid to see it anyway, flagged)")


# ---- the history layout -------------------------------------------------------------------

def current_machine_id() -> str:
    """This host's pytest-benchmark machine id (``pytest_benchmark.utils.get_machine_id``)."""
    return "{}-{}-{}-{}".format(platform.system(), platform.python_implementation(),
                                ".".join(platform.python_version_tuple()[:2]), platform.architecture()[0])


def current_host_keys() -> tuple[str, ...]:
    """This host's folder under a profile storage, most specific first: ``<hostname>/<machine-id>``
    and plain ``<machine-id>``."""
    return (f"{current_hostname()}/{current_machine_id()}", current_machine_id())


def profile_storage(storage: Path | str, profile: str | None = None) -> Path:
    """The storage folder of ``profile``: ``storage/<profile>`` where it exists, else ``storage``."""
    root = Path(storage)
    if profile and (root / profile).is_dir():
        return root / profile
    return root


def _entries_in(folder: Path) -> list[Path]:
    files = [p for p in folder.glob("*.json") if ENTRY_NAME.match(p.name)]
    return sorted(files, key=lambda p: int(ENTRY_NAME.match(p.name).group(1)))


def host_folders(storage: Path | str) -> list[str]:
    """Host folders holding saved runs, relative to ``storage``: ``<machine-id>`` as pytest-benchmark
    writes them, or ``<hostname>/<machine-id>`` as the suite does."""
    root = Path(storage)
    if not root.is_dir():
        return []
    found = [p for pattern in ("*", "*/*") for p in root.glob(pattern) if p.is_dir() and _entries_in(p)]
    return sorted(p.relative_to(root).as_posix() for p in found)


def select_host(storage: Path | str, machine_id: str | None = None) -> str:
    """The host folder to read: ``machine_id`` (a machine id, a hostname, or ``hostname/machine-id``),
    else the only one, else this host's. ResultsError listing the hosts otherwise."""
    root = Path(storage)
    hosts = host_folders(root)
    if not hosts:
        raise ResultsError(f"{root}: no saved runs (expected [<hostname>/]<machine-id>/NNNN_*.json; "
                           "save one with --benchmark-autosave)")
    if machine_id is not None:
        match = [h for h in hosts if machine_id in (h, h.split("/")[0], h.split("/")[-1])]
    elif len(hosts) == 1:
        match = hosts
    else:
        match = next(([h] for key in current_host_keys() for h in hosts if h == key), [])
    if len(match) != 1:
        asked = f"host {machine_id}" if machine_id else "this host"
        raise ResultsError(f"{root}: {'no' if not match else 'several'} saved run folders for {asked} "
                           f"(hosts with runs: {', '.join(hosts)}); choose one with --machine-id")
    return match[0]


def entry_host(path: Path | str, root: Path | str) -> str | None:
    """The host folder (``[hostname/]machine-id``) ``path`` sits in, if it is a history entry under ``root``."""
    try:
        rel = Path(path).resolve().relative_to(Path(root).resolve())
    except ValueError:
        return None
    if len(rel.parts) in (2, 3) and ENTRY_NAME.match(rel.parts[-1]):
        return "/".join(rel.parts[:-1])
    return None


def list_entries(storage: Path | str, *, profile: str | None = None, machine_id: str | None = None,
                 skipped: list | None = None) -> list[HistoryEntry]:
    """Saved runs of one host (see :func:`select_host`), oldest first.

    ``storage`` is the profile's storage folder or its parent (then ``storage/<profile>``).
    An entry that cannot be read, or is recorded for another profile than ``profile``, is an
    error naming the file; with a ``skipped`` list it is left out and its message appended
    there instead (as pytest-benchmark skips a bad storage file with a warning).
    """
    root = profile_storage(storage, profile)
    if not root.is_dir():
        raise ResultsError(f"{root}: history folder not found")
    host = select_host(root, machine_id)
    entries = []
    for p in _entries_in(root / host):
        try:
            entries.append(_load_entry(p, host, profile))
        except ResultsError as exc:
            if skipped is None:
                raise
            skipped.append(str(exc))
    # merged folders repeat numbers: oldest first by datetime (a stable sort keeps numbers within one datetime)
    entries.sort(key=lambda e: e.run.datetime or "")
    return entries


def _load_entry(path: Path, host: str, profile: str | None) -> HistoryEntry:
    entry = HistoryEntry(ENTRY_NAME.match(path.name)[1], path, host, load_run(path))
    if profile and entry.profile != profile:
        raise ResultsError(f"{path}: recorded for profile {entry.profile!r}, not {profile!r}")
    return entry


# ---- many machines in one store: run identity, every host folder, grouping by fingerprint ---------

def run_identity(run: Run) -> str:
    """What makes two files one run: datetime, commit, fingerprint id and a hash of the benchmarks'
    names and statistics. The same run copied under two folders (a merge done twice, a host renamed)
    has one identity; two runs never share one (their datetimes or their times differ)."""
    body = [(b.key, b.median_s, b.mean_s, b.min_s, b.rounds, b.instructions) for b in run.benchmarks]
    blob = json.dumps([run.datetime, run.commit, run.fingerprint["id"], body], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def store_entries(storage: Path | str, *, profile: str | None = None) -> tuple[list[HistoryEntry], list[str]]:
    """Every saved run under every host folder of a profile's storage (see :func:`profile_storage`),
    oldest first by datetime, and the warnings: a file that does not read or is recorded for another
    profile is skipped, naming it; a run found again under another name (see :func:`run_identity`) is
    counted once, naming both files. Entry numbers repeat across machines: order is by datetime."""
    root = profile_storage(storage, profile)
    if not root.is_dir():
        raise ResultsError(f"{root}: history folder not found")
    entries: list[HistoryEntry] = []
    warnings: list[str] = []
    seen: dict[str, Path] = {}
    for host in host_folders(root):
        for path in _entries_in(root / host):
            try:
                run = load_run(path)
                identity = run_identity(run)
            except ResultsError as err:
                warnings.append(f"skipped {path}: {err}")
                continue
            if profile and run.profile != profile:
                warnings.append(f"skipped {path}: recorded for profile {run.profile!r}, not {profile!r}")
                continue
            if identity in seen:
                warnings.append(f"{path} is the run already read from {seen[identity]}: counted once")
                continue
            seen[identity] = path
            entries.append(HistoryEntry(ENTRY_NAME.match(path.name)[1], path, host, run))
    entries.sort(key=lambda e: (e.run.datetime or "", str(e.path)))
    return entries, warnings


def group_by_fingerprint(entries: list[HistoryEntry]) -> dict[str, list[HistoryEntry]]:
    """Fingerprint id -> its entries (order kept): the runs that may share a baseline."""
    groups: dict[str, list[HistoryEntry]] = {}
    for e in entries:
        groups.setdefault(e.run.fingerprint["id"], []).append(e)
    return groups


def _cpu_seen(run: Run) -> tuple:
    cpu = run.machine_info.get("cpu")
    cpu = cpu if isinstance(cpu, Mapping) else {}
    return tuple(str(cpu.get(k)) for k in ("vendor_id_raw", "brand_raw", "family", "model", "count"))


def fingerprint_collisions(groups: Mapping[str, list[HistoryEntry]]) -> list[str]:
    """Fingerprints whose runs recorded clearly different CPUs (``machine_info.cpu`` vendor, brand,
    family, model or count differ): an old run that recorded too little to tell them apart, or a
    stored fingerprint that does not match its run. One line each, naming a file of either CPU."""
    out = []
    for fid, members in groups.items():
        cpus: dict[tuple, HistoryEntry] = {}
        for e in members:
            cpus.setdefault(_cpu_seen(e.run), e)
        if len(cpus) > 1:
            (a, ea), (b, eb) = list(cpus.items())[:2]
            out.append(f"fingerprint {fid} holds different CPUs: {a[1]} ({a[4]} CPUs) in {ea.path} and "
                       f"{b[1]} ({b[4]} CPUs) in {eb.path}; their runs are not one machine's")
    return out


def resolve_run_path(ref: str | Path, storage: Path | str | None = None) -> Path:
    """Path of a run given as a file path or as a history id (``0003``) within ``storage``."""
    path = Path(ref)
    if path.is_file() or (path.exists() and not path.is_dir()):  # a device or pipe: read_document names it
        return path
    if HISTORY_ID.match(str(ref)):
        if storage is None:
            raise ResultsError(f"{ref!r} looks like a history id: give the storage folder with --storage")
        root = Path(storage)
        if not root.is_dir():
            raise ResultsError(f"{root}: history storage folder not found")
        found = sorted(root / h / p.name for h in host_folders(root) for p in _entries_in(root / h)
                       if ENTRY_NAME.match(p.name)[1] == str(ref))
        if not found:
            raise ResultsError(f"history entry {ref} not found under {root}")
        if len(found) > 1:
            raise ResultsError(f"history entry {ref} is ambiguous under {root} "
                               f"({', '.join(str(p) for p in found)}): give its path")
        return found[0]
    if path.exists():
        raise ResultsError(f"{path}: not a file")
    raise ResultsError(f"{path}: run not found (neither a file nor a history id like 0003)")


def result_files(path: Path | str) -> list[Path]:
    """Files to load from a path: a JSON file; a folder's JSON files (``<profile>.json`` first); or a
    history storage (its newest run per host folder) or a folder of such storages."""
    path = Path(path)
    if path.is_file() or (path.exists() and not path.is_dir()):  # a device or pipe: read_document names it
        return [path]
    if not path.is_dir():
        raise ResultsError(f"{path}: no such file or folder")
    top = sorted(path.glob("*.json"), key=lambda p: (p.stem not in PROFILES + (COUNTS_PROFILE,), p.name))
    for p in top:
        if not p.is_file():
            raise ResultsError(f"{p}: a folder or special file where a results file belongs")
    if top:
        return top
    newest = {}
    for folder in sorted({p.parent for p in path.glob("**/*.json") if ENTRY_NAME.match(p.name)}):
        newest[folder] = _entries_in(folder)[-1]
    if not newest:
        raise ResultsError(f"{path}: no pytest-benchmark JSON files found")
    return [newest[k] for k in sorted(newest)]


def check_named_profile(path: Path | str, profile: str) -> None:
    """A file named ``<profile>.json`` (or ``counts.json``) holds that profile's run; ResultsError
    naming the file and both profiles otherwise."""
    stem = Path(path).stem
    if stem in PROFILES + (COUNTS_PROFILE,) and stem != profile:
        raise ResultsError(f"{path}: named for profile {stem!r} but holds a run of profile {profile!r} "
                           f"(machine_info.continuum.profile.name); rename the file or give the right one")


def load_results(*paths, allow_invalid: bool = False) -> ResultSet:
    """Files / folders (see :func:`result_files`) as one validated ResultSet, one run per profile.

    A counted run (``results/counts.json``) becomes :attr:`ResultSet.counted` (at most one; an
    injected one is refused: its counts are not the code's); it is no profile's run. A run of no
    profile (``none``) cannot be placed in the study's conditions; a run whose load was not valid
    is refused (InvalidRunError) unless ``allow_invalid``.
    """
    if not paths:
        raise ResultsError("no results given: pass JSON files or folders")
    runs: dict[str, Run] = {}
    counted: Run | None = None
    for f in (f for p in paths for f in result_files(p)):
        run = load_run(f, allow_invalid=allow_invalid)
        check_named_profile(f, run.profile)
        if run.counted:
            if counted is not None:
                raise ResultsError(f"counted runs found in both {counted.source} and {f}; load one counted run")
            if run.injected:
                raise ResultsError(f"{f}: machine_info.injected_slowdown is {dict(run.injected)!r}: a run with an "
                                   f"injected slowdown; give the report a plain counted run (results/counts.json)")
            counted = run
            continue
        if run.profile not in PROFILES:
            raise ResultsError(f"{f}: machine_info.continuum.profile.name is {run.profile!r} (run without "
                               f"--profile); expected one of {PROFILES}")
        if run.profile in runs:
            raise ResultsError(f"profile {run.profile!r} found in both {runs[run.profile].source} and {f}; "
                               f"load one run per profile")
        if any(b.operation in ("prune", "finetune", "inference") for b in run.benchmarks) and not any(
                b.pruning_factor is not None for b in run.benchmarks):
            raise ResultsError(f"{f}: no pruning factors found (extra_info.pruning_factor)")
        runs[run.profile] = run
    if counted is not None and not runs:
        raise ResultsError(f"{counted.source}: only a counted run was given; the report needs at least one timed "
                           f"profile (results/<profile>.json) beside it; judge counts alone with continuum-bench "
                           f"gate --profile counts or compare")
    return ResultSet(tuple(runs.values()), counted)
