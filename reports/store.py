"""The one store of results: the pytest-benchmark JSON format and the history layout.

Every reader (report, compare, history, gate, advise --results) goes through this
module; nothing else parses the JSON or knows where saved runs lie.

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

The suite's conftest imports this module before the profile sets the thread variables,
so it imports no numpy or pandas at module level (pandas only in :meth:`ResultSet.frame`).

Validity. A run whose background load died (``machine_info.continuum.load.valid:
false``, ``died``) is *invalid*: :attr:`Run.invalid` names the field, and the
commands refuse it unless asked to show it anyway. A limit that was not enforced
(``profile.enforced.<limit>.enforced: false``) is listed in :attr:`Run.unenforced`
and flagged wherever the run is shown.

Counted runs. A run made by ``python -m benchmarks.counts`` (``tox -e counts``) carries
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

import dataclasses
import json
import math
import platform
import re
from pathlib import Path
from typing import Iterable, Mapping

from harness.contract import OPERATIONS, PROFILES, contract_errors, current_hostname

NO_PROFILE = "none"  # what the suite records when it ran without --profile
COUNTS_PROFILE = "counts"  # the profile of a counted run (machine_info.counts)
COUNT_FIELD = "instructions"  # extra_info of a counted case: instructions per call
MAX_CV = 0.10  # coefficient of variation above which a result is flagged unstable
MIN_ROUNDS = 5  # fewer rounds than this is flagged unstable
STATS_FIELDS = ("mean", "stddev", "rounds", "median", "min")
STATISTICS = ("mean", "median", "min")
ENTRY_NAME = re.compile(r"^(\d{4})_.*\.json$")  # NNNN_<anything>.json; group 1: the number
HISTORY_ID = re.compile(r"^\d{4}$")


class ResultsError(ValueError):
    """A results file or history that is unreadable, breaks the contract, or is not there."""


class InvalidRunError(ResultsError):
    """A run whose background load (or session) was not valid, read without ``allow_invalid``."""


# ---- the data model -----------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Benchmark:
    """One benchmark of one run: its timing statistics [s], raw rounds [s] and extra_info."""

    source: str
    profile: str | None
    name: str
    fullname: str
    operation: str
    mean_s: float
    median_s: float
    min_s: float
    stddev_s: float
    rounds: int
    data: tuple[float, ...] = ()
    extra_info: Mapping = dataclasses.field(default_factory=dict, repr=False)

    @property
    def key(self) -> str:
        """What matches one benchmark across runs: the fullname, else the name."""
        return self.fullname or self.name

    def field(self, name: str):
        return self.extra_info.get(name)

    @property
    def instructions(self) -> float | None:
        """Instructions per call of a counted case (``extra_info.instructions``); None when timed only."""
        value = self.extra_info.get(COUNT_FIELD)
        return None if value is None else float(value)

    @property
    def pruning_factor(self) -> float | None:
        pf = self.extra_info.get("pruning_factor")
        return None if pf is None else float(pf)

    #: extra_info fields of the contract read as attributes (None where the record has none);
    #: model_state: ``full``, ``finetuned`` or ``pruned`` (only), the model an inference or
    #: serialization measured.
    pruning_method = property(lambda self: self.extra_info.get("pruning_method"))
    runtime = property(lambda self: self.extra_info.get("runtime"))
    model_format = property(lambda self: self.extra_info.get("model_format"))
    scheme = property(lambda self: self.extra_info.get("scheme"))
    model_state = property(lambda self: self.extra_info.get("model_state"))

    @property
    def preset(self) -> str | None:
        p = self.extra_info.get("preset")
        return None if p is None else str(p)

    @property
    def cv(self) -> float:
        return self.stddev_s / self.mean_s if self.mean_s > 0 else math.inf

    @property
    def unstable(self) -> bool:
        return self.cv > MAX_CV or self.rounds < MIN_ROUNDS

    @property
    def warning(self) -> str | None:
        """One line: why the result is unstable and the remedy; None when it is stable."""
        if not self.unstable:
            return None
        why = []
        if self.cv > MAX_CV:
            why.append(f"CV {self.cv:.1%} > {MAX_CV:.0%}")
        if self.rounds < MIN_ROUNDS:
            why.append(f"{self.rounds} rounds < {MIN_ROUNDS}")
        return (f"{self.profile}: {self.name} unstable ({', '.join(why)}); rerun with more "
                f"rounds (--benchmark-min-rounds) on a quieter machine ({self.source})")

    def time(self, statistic: str = "mean") -> float:
        if statistic not in STATISTICS:
            raise ValueError(f"statistic must be one of {STATISTICS}, got {statistic!r}")
        return getattr(self, f"{statistic}_s")

    def scaled(self, factor: float) -> Benchmark:
        """A copy whose every round (and statistic) is ``factor`` times longer, and whose count
        (if counted) is ``factor`` times larger."""
        info = self.extra_info
        if self.instructions is not None:
            info = {**info, COUNT_FIELD: self.instructions * factor}
        return dataclasses.replace(self, mean_s=self.mean_s * factor, median_s=self.median_s * factor,
                                   min_s=self.min_s * factor, stddev_s=self.stddev_s * factor,
                                   data=tuple(v * factor for v in self.data), extra_info=info)


@dataclasses.dataclass(frozen=True)
class Run:
    """One pytest-benchmark document: where it came from, its profile record and benchmarks."""

    source: str
    profile: str | None
    record: Mapping  # machine_info["continuum"]
    commit: str | None
    datetime: str | None
    benchmarks: tuple[Benchmark, ...]
    machine_info: Mapping = dataclasses.field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        return self.source

    @property
    def by_key(self) -> dict[str, Benchmark]:
        return {b.key: b for b in self.benchmarks}

    @property
    def presets(self) -> tuple[str, ...]:
        return tuple(sorted({b.preset for b in self.benchmarks if b.preset is not None}))

    @property
    def case_set(self) -> frozenset[str]:
        """The benchmarks the run holds: runs of other case sets are never one baseline."""
        return frozenset(b.key for b in self.benchmarks)

    @property
    def counted(self) -> bool:
        """A counted run (``machine_info.counts``): its cases carry instructions per call."""
        return isinstance(self.machine_info.get("counts"), Mapping)

    @property
    def injected(self) -> dict[str, float]:
        """``machine_info.injected_slowdown``: operation -> extra share of work injected ({} on a plain run)."""
        value = self.machine_info.get("injected_slowdown")
        return dict(value) if isinstance(value, Mapping) else {}

    @property
    def invalid(self) -> tuple[str, ...]:
        """Why the run is not valid (its background load died), each naming the field."""
        return load_problems(self.record)

    @property
    def unenforced(self) -> tuple[str, ...]:
        """Limits of the profile that were requested and not enforced, each naming the field."""
        return unenforced_limits(self.record)

    def with_benchmarks(self, benchmarks: Iterable[Benchmark]) -> Run:
        return dataclasses.replace(self, benchmarks=tuple(benchmarks))


def load_problems(record: Mapping) -> tuple[str, ...]:
    """``machine_info.continuum.load``: ``valid: false`` or a non-empty ``died`` list."""
    load = record.get("load") if isinstance(record, Mapping) else None
    if not isinstance(load, Mapping):
        return ()
    died = load.get("died") or []
    if load.get("valid") is False or died:
        who = ", ".join(f"worker {d.get('index')} pid {d.get('pid')} exit {d.get('returncode')}"
                        for d in died if isinstance(d, Mapping)) or "none listed"
        return (f"machine_info.continuum.load.valid: {str(load.get('valid')).lower()} "
                f"(died: {who}; state {load.get('state')!r}): the background load was not the one claimed",)
    return ()


def unenforced_limits(record: Mapping) -> tuple[str, ...]:
    """Each requested limit with ``enforced: false`` under ``profile.enforced``, with its reason."""
    prof = record.get("profile") if isinstance(record, Mapping) else None
    enforced = prof.get("enforced") if isinstance(prof, Mapping) else None
    if not isinstance(enforced, Mapping):
        return ()
    base = "machine_info.continuum.profile.enforced"
    out = []
    loose_reason = enforced.get("reason") or enforced.get("unenforced")
    for key, entry in enforced.items():
        if entry is False:  # a flat {limit: bool} record (older files, hand-written ones)
            out.append(f"{base}.{key}: false" + (f" ({loose_reason})" if loose_reason else ""))
        elif isinstance(entry, Mapping):
            subs = entry.items() if key == "threads" else [(None, entry)]
            for sub, e in subs:
                if isinstance(e, Mapping) and e.get("requested", True) and e.get("enforced") is False:
                    where = f"{base}.{key}" + (f".{sub}" if sub else "")
                    out.append(f"{where}.enforced: false ({e.get('reason', 'no reason recorded')})")
    return tuple(out)


# ---- reading one file ---------------------------------------------------------------------

def read_document(path: Path | str) -> dict:
    """The JSON document of a pytest-benchmark file; ResultsError naming the file otherwise."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file or folder") from None
    except OSError as e:
        raise ResultsError(f"{path}: cannot read ({e.strerror})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ResultsError(f"{path}: malformed or truncated JSON ({e.msg} at line {e.lineno}, "
                           f"column {e.colno})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise ResultsError(f"{path}: not a pytest-benchmark JSON document (no 'benchmarks' list)")
    return doc


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
                           f"with 'tool', written by benchmarks/counts.py), got {record!r}")
    return record


def _number(where: str, value, *, integer: bool = False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ResultsError(f"{where} must be a number, got {value!r}")
    return int(value) if integer else float(value)


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
    if values["mean"] < 0:
        raise ResultsError(f"{where}: stats.mean must be >= 0, got {values['mean']!r}")
    data = stats.get("data") or []
    if not isinstance(data, list):
        raise ResultsError(f"{where}: field 'stats.data' must be a list of round times, got {type(data).__name__}")
    data = tuple(_number(f"{where}: field 'stats.data[{i}]'", v) for i, v in enumerate(data))
    if COUNT_FIELD in info:
        count = info[COUNT_FIELD]
        if isinstance(count, bool) or not isinstance(count, (int, float)) or not count > 0 or not math.isfinite(count):
            raise ResultsError(f"{where}: field 'extra_info.{COUNT_FIELD}' must be a number > 0 "
                               f"(instructions per call), got {count!r}")
    return Benchmark(source=source, profile=profile, name=name, fullname=b.get("fullname") or name,
                     operation=info["operation"], mean_s=values["mean"], median_s=values["median"],
                     min_s=values["min"], stddev_s=values["stddev"], rounds=values["rounds"], data=data,
                     extra_info=dict(info))


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


@dataclasses.dataclass(frozen=True)
class HistoryEntry:
    """One saved run: ``id`` is its 4-digit number within the host folder."""

    id: str
    path: Path
    machine_id: str
    run: Run

    @property
    def label(self) -> str:
        return f"{self.id}_{(self.run.commit or 'nocommit')[:7]}"

    @property
    def profile(self) -> str | None:
        return self.run.profile

    @property
    def presets(self) -> tuple[str, ...]:
        return self.run.presets


def list_entries(storage: Path | str, *, profile: str | None = None,
                 machine_id: str | None = None) -> list[HistoryEntry]:
    """Saved runs of one host (see :func:`select_host`), oldest first.

    ``storage`` is the profile's storage folder or its parent (then ``storage/<profile>``).
    An entry recorded for another profile than ``profile`` is an error naming the file.
    """
    root = profile_storage(storage, profile)
    if not root.is_dir():
        raise ResultsError(f"{root}: history folder not found")
    host = select_host(root, machine_id)
    entries = [HistoryEntry(ENTRY_NAME.match(p.name)[1], p, host, load_run(p)) for p in _entries_in(root / host)]
    if profile:
        other = [e for e in entries if e.profile != profile]
        if other:
            raise ResultsError(f"{other[0].path}: recorded for profile {other[0].profile!r}, not {profile!r}")
    return entries


def resolve_run_path(ref: str | Path, storage: Path | str | None = None) -> Path:
    """Path of a run given as a file path or as a history id (``0003``) within ``storage``."""
    path = Path(ref)
    if path.is_file():
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
    """Files to load from a path: a JSON file; a folder's ``<profile>.json`` files (else all its
    JSON files); or a history storage (its newest run per host folder) or a folder of such storages."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ResultsError(f"{path}: no such file or folder")
    named = [path / f"{p}.json" for p in PROFILES + (COUNTS_PROFILE,) if (path / f"{p}.json").is_file()]
    if named:  # results/<profile>.json (and counts.json): a failed run kept beside it under another name is not read
        return named
    top = sorted(p for p in path.glob("*.json"))
    if top:
        return top
    newest = {}
    for folder in sorted({p.parent for p in path.glob("**/*.json") if ENTRY_NAME.match(p.name)}):
        newest[folder] = _entries_in(folder)[-1]
    if not newest:
        raise ResultsError(f"{path}: no pytest-benchmark JSON files found")
    return [newest[k] for k in sorted(newest)]


# ---- several profiles: the results the report and the cost model read ---------------------

@dataclasses.dataclass(frozen=True)
class ResultSet:
    """The runs of one or more profiles (one run per profile), read through one model."""

    runs: tuple[Run, ...] = ()
    #: the counted run (``tox -e counts``) given beside them, if any: its counts serve every profile
    counted: Run | None = None

    @property
    def measurements(self) -> tuple[Benchmark, ...]:
        return tuple(b for r in self.runs for b in r.benchmarks)

    @property
    def profiles(self) -> dict[str, Mapping]:
        """profile -> its machine_info.continuum record."""
        return {r.profile: r.record for r in self.runs}

    @property
    def sources(self) -> dict[str, str]:
        return {r.profile: r.source for r in self.runs}

    def notes(self) -> list[str]:
        """One line per run problem (load not valid, limit not enforced), with the remedy."""
        out = []
        for r in self.runs:
            out += [f"{r.profile}: INVALID {p} ({r.source}); rerun the profile" for p in r.invalid]
            out += [f"{r.profile}: limit not enforced, {p}; its times are not the profile's "
                    f"(run where cgroups are writable, or read them as unconstrained) ({r.source})"
                    for p in r.unenforced]
            pruned_only = [b.name for b in r.benchmarks if b.field("model_state") == "pruned"]
            if pruned_only:
                out.append(f"{r.profile}: {len(pruned_only)} inference/serialization result(s) measured a model "
                           f"that was only pruned, not fine-tuned in that session (extra_info.model_state: pruned; "
                           f"e.g. {pruned_only[0]}): run the whole grid, not a -k selection ({r.source})")
        return out

    def warnings(self) -> list[str]:
        return self.notes() + [m.warning for m in self.measurements if m.unstable]

    def frame(self):
        """Every benchmark as a pandas DataFrame row."""
        import pandas as pd

        cols = ["profile", "operation", "name", "pruning_factor", "pruning_method", "runtime",
                "model_format", "scheme", "model_state", "mean_s", "median_s", "min_s", "stddev_s", "rounds", "cv",
                "unstable", "source"]
        rows = [{c: getattr(m, c) for c in cols} for m in self.measurements]
        return pd.DataFrame(rows, columns=cols)

    def pruning_factors(self, operation: str | None = None) -> list[float]:
        return sorted({m.pruning_factor for m in self.measurements if m.pruning_factor is not None
                       and (operation is None or m.operation == operation)})

    def presets(self) -> dict[str, list[str]]:
        """preset -> the files holding it (the counted run's too)."""
        out: dict[str, set[str]] = {}
        for m in self.measurements + (self.counted.benchmarks if self.counted is not None else ()):
            out.setdefault(str(m.preset), set()).add(m.source)
        return {p: sorted(s) for p, s in sorted(out.items())}

    def select(self, operation: str, profile: str | None = None, pruning_factor=None,
               **fields) -> list[Benchmark]:
        """Benchmarks matching operation, profile, pruning factor (to 1e-9) and any extra_info
        ``fields`` (pruning_method, runtime, model_format, scheme; None = any)."""
        if operation not in OPERATIONS:
            raise ValueError(f"operation must be one of {OPERATIONS}, got {operation!r}")
        out = []
        for m in self.measurements:
            if m.operation != operation or (profile is not None and m.profile != profile):
                continue
            if pruning_factor is not None and (m.pruning_factor is None
                                               or abs(m.pruning_factor - pruning_factor) > 1e-9):
                continue
            if any(v is not None and m.extra_info.get(k) != v for k, v in fields.items()):
                continue
            out.append(m)
        return out

    def one(self, operation: str, profile: str | None = None, pruning_factor=None,
            **fields) -> Benchmark:
        """The single matching benchmark. ResultsError when none matches (naming what was asked
        and what exists) and when several do (naming them and the field that tells them apart):
        the result of an operation never depends on the order of the cases."""
        found = self.select(operation, profile, pruning_factor, **fields)
        ask = {"profile": profile, "pruning_factor": pruning_factor,
               **{k: v for k, v in fields.items() if v is not None}}
        if not found:
            have = sorted({(m.profile, m.pruning_factor, m.pruning_method, m.runtime, m.model_format, m.scheme)
                           for m in self.measurements if m.operation == operation}, key=str)
            raise ResultsError(f"no '{operation}' result with {ask}; available "
                               f"(profile, pf, method, runtime, format, scheme): {have or 'none'}")
        if len(found) > 1:
            differ = sorted({k for m in found for k, v in m.extra_info.items()
                             if any(o.extra_info.get(k) != v for o in found)} - {"preset"})
            raise ResultsError(f"{len(found)} '{operation}' results match {ask}: "
                               f"{', '.join(f'{m.name} ({m.source})' for m in found)}; "
                               f"tell them apart by {', '.join(differ) or 'their file'}")
        return found[0]


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
