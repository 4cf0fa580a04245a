"""The data model of results: a run, its benchmarks, a saved run of a history, several profiles' runs.

Frozen dataclasses and the checks that read only what they hold; no file is opened here
(reading and validating the pytest-benchmark JSON and the history layout is
:mod:`reports.storage`, the only code that does).

Validity. A run whose background load died (``machine_info.continuum.load.valid:
false``, ``died``) is *invalid*: :attr:`Run.invalid` names the field, and the
commands refuse it unless asked to show it anyway. A limit that was not enforced
(``profile.enforced.<limit>.enforced: false``) is listed in :attr:`Run.unenforced`
and flagged wherever the run is shown.

Counted runs carry ``machine_info.counts`` and every benchmark's
``extra_info.instructions`` (instructions per call); their profile is
:data:`COUNTS_PROFILE`. A run made with ``--inject-slowdown`` records
``machine_info.injected_slowdown``: :attr:`Run.injected` names it.

It imports no numpy or pandas at module level (pandas only in :meth:`ResultSet.frame`), so
results can be read in a process before a profile sets the BLAS/OpenMP thread variables.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Iterable, Mapping

from harness.contract import OPERATIONS
from harness.fingerprint import run_fingerprint

NO_PROFILE = "none"  # what the suite records when it ran without --profile
COUNTS_PROFILE = "counts"  # the profile of a counted run (machine_info.counts)
COUNT_FIELD = "instructions"  # extra_info of a counted case: instructions per call
MAX_CV = 0.10  # coefficient of variation above which a result is flagged unstable
MIN_ROUNDS = 5  # fewer rounds than this is flagged unstable
STATISTICS = ("mean", "median", "min")


class ResultsError(ValueError):
    """A results file or history that is unreadable, breaks the contract, or is not there."""


class InvalidRunError(ResultsError):
    """A run whose background load (or session) was not valid, read without ``allow_invalid``."""


# ---- the data model -----------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Benchmark:
    """One benchmark of one run: its timing statistics [s], raw rounds [s], calls per round and extra_info."""

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
    iterations: int = 1  # calls per round (stats.iterations)

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
    def quantization(self) -> str:
        """The measured model's quantization (:data:`harness.contract.QUANTIZATIONS`); a record
        written before quantized cases existed has none and reads as ``none`` (float32)."""
        return self.extra_info.get("quantization") or "none"

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

    @property
    def fingerprint(self) -> dict:
        """The run's hardware identity (:mod:`harness.fingerprint`): the one stored with the run, else
        computed from its ``machine_info.cpu`` and profile record (older runs). ResultsError naming the
        file and field when those are malformed."""
        try:
            return run_fingerprint(self.machine_info)
        except ValueError as err:
            raise ResultsError(f"{self.source}: {err}") from None

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
                "model_format", "quantization", "scheme", "model_state", "mean_s", "median_s", "min_s", "stddev_s", "rounds", "cv",
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

    def select(self, operation: str, profile: str | None = None, pruning_factor=None, *,
               quantization: str | None = "none", **fields) -> list[Benchmark]:
        """Benchmarks matching operation, profile, pruning factor (to 1e-9), ``quantization``
        (float by default, so that a reader asking for a model's time never gets its int8 twin;
        None = any) and any extra_info ``fields`` (pruning_method, runtime, model_format,
        scheme; None = any)."""
        if operation not in OPERATIONS:
            raise ValueError(f"operation must be one of {OPERATIONS}, got {operation!r}")
        out = []
        for m in self.measurements:
            if m.operation != operation or (profile is not None and m.profile != profile):
                continue
            if pruning_factor is not None and (m.pruning_factor is None
                                               or abs(m.pruning_factor - pruning_factor) > 1e-9):
                continue
            if quantization is not None and m.quantization != quantization:
                continue
            if any(v is not None and m.extra_info.get(k) != v for k, v in fields.items()):
                continue
            out.append(m)
        return out

    def one(self, operation: str, profile: str | None = None, pruning_factor=None, *,
            quantization: str | None = "none", **fields) -> Benchmark:
        """The single matching benchmark. ResultsError when none matches (naming what was asked
        and what exists) and when several do (naming them and the field that tells them apart):
        the result of an operation never depends on the order of the cases."""
        found = self.select(operation, profile, pruning_factor, quantization=quantization, **fields)
        ask = {"profile": profile, "pruning_factor": pruning_factor,
               **({"quantization": quantization} if quantization != "none" else {}),
               **{k: v for k, v in fields.items() if v is not None}}
        if not found:
            have = sorted({(m.profile, m.pruning_factor, m.pruning_method, m.runtime, m.model_format, m.quantization,
                            m.scheme) for m in self.measurements if m.operation == operation}, key=str)
            raise ResultsError(f"no '{operation}' result with {ask}; available "
                               f"(profile, pf, method, runtime, format, quantization, scheme): {have or 'none'}")
        if len(found) > 1:
            differ = sorted({k for m in found for k, v in m.extra_info.items()
                             if any(o.extra_info.get(k) != v for o in found)} - {"preset"})
            raise ResultsError(f"{len(found)} '{operation}' results match {ask}: "
                               f"{', '.join(f'{m.name} ({m.source})' for m in found)}; "
                               f"tell them apart by {', '.join(differ) or 'their file'}")
        return found[0]


def int8_feature_notes(runs, labels=None) -> list[str]:
    """One line when the runs' CPUs differ in an int8 feature (``machine_info.continuum.isa_features``:
    VNNI, AMX, ... run int8 dot products in fewer instructions) or in the LiteRT kernels that ran
    (``litert_kernel_path``): their int8 times then differ for that reason too. Each run is named by
    its ``labels`` entry (default: its profile); features a run did not record are not compared."""
    features: dict[str, dict[str, bool]] = {}
    kernels: dict[str, str] = {}
    for r, name in zip(runs, labels or [str(r.profile) for r in runs]):
        record = r.record if isinstance(r.record, Mapping) else {}
        isa = record.get("isa_features")
        if isinstance(isa, Mapping):
            features[name] = {k: v for k, v in isa.items() if isinstance(v, bool)}
        if isinstance(record.get("litert_kernel_path"), str):
            kernels[name] = record["litert_kernel_path"]
    out = []
    flags = sorted({k for f in features.values() for k in f})
    differ = [k for k in flags if len({f[k] for f in features.values() if k in f}) > 1]
    if differ:
        per = "; ".join(f"{p}: " + ", ".join(f"{k} {'yes' if f[k] else 'no'}" for k in differ if k in f)
                        for p, f in features.items())
        out.append(f"these runs' CPUs differ in int8 features ({per}): their int8 times differ for that reason "
                   "too, not only by the profile's limits and load")
    if len(set(kernels.values())) > 1:
        out.append("these runs' LiteRT ran different kernels (" + ", ".join(f"{p}: {k}" for p, k in kernels.items())
                   + "): their inference times differ for that reason too")
    return out
