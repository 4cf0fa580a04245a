"""Load and validate pytest-benchmark JSON results, and turn them into pipeline inputs.

Inputs: one JSON per profile (``results/device.json``, ``results/edge-idle.json``,
``results/edge-loaded.json``, written with ``--benchmark-json``) or pytest-benchmark
storage folders (``<storage>/<machine-id>/0001_<commit>_<date>.json``).

Contract (../shared/DESIGN.md, docs/INTERFACES.md): each benchmark's ``extra_info``
has ``operation`` and the fields of :data:`REQUIRED_FIELDS`; ``machine_info`` has
``continuum = {"profile": {"name", "requested", "enforced"}, "load": {...}}``.
Every error is a ``ResultsError`` (a ValueError) naming the file and the field.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd

from .pipelines import (STUDY_RESULT_BYTES, STUDY_SAMPLE_BYTES, DevicePowers, PipelineInputs)

OPERATIONS = ("prune", "finetune", "inference", "encryption", "decryption", "serialization")
PROFILES = ("device", "edge-idle", "edge-loaded")
SCENARIO_PROFILES = {"idle": "edge-idle", "loaded": "edge-loaded"}
REQUIRED_FIELDS = {
    "prune": ("pruning_factor", "pruning_method"),
    "finetune": ("pruning_factor", "pruning_method", "top1_before_ft", "top1_after_ft"),
    "inference": ("pruning_factor", "runtime"),
    "encryption": ("dataset_bytes", "ciphertext_bytes"),
    "decryption": ("ciphertext_bytes",),
    # model serialization; a dataset serialization carries dataset_bytes instead
    "serialization": ("pruning_factor", "model_format", "model_bytes", "model_bytes_gzip"),
}
MAX_CV = 0.10  # coefficient of variation above which a result is flagged unstable
MIN_ROUNDS = 5  # fewer rounds than this is flagged unstable
STATS_FIELDS = ("mean", "stddev", "rounds", "median", "min")
STORAGE_FILE = re.compile(r"^(\d{4})_.*\.json$")
SIZE_SOURCES = ("study", "results")
STATISTICS = ("mean", "median", "min")


class ResultsError(ValueError):
    """A results file is unreadable or breaks the results contract."""


@dataclasses.dataclass(frozen=True)
class Measurement:
    """One benchmark of one profile: its timing statistics [s] and extra_info."""

    source: str
    profile: str
    name: str
    operation: str
    pruning_factor: float | None
    pruning_method: str | None
    runtime: str | None
    model_format: str | None
    mean_s: float
    median_s: float
    min_s: float
    stddev_s: float
    rounds: int
    extra_info: Mapping = dataclasses.field(default_factory=dict, repr=False)

    @property
    def cv(self) -> float:
        return self.stddev_s / self.mean_s if self.mean_s > 0 else math.inf

    @property
    def unstable(self) -> bool:
        return self.cv > MAX_CV or self.rounds < MIN_ROUNDS

    @property
    def warning(self) -> str | None:
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


@dataclasses.dataclass(frozen=True)
class ResultSet:
    """Measurements of one or more profiles, plus each profile's machine_info record."""

    measurements: tuple = ()
    profiles: Mapping = dataclasses.field(default_factory=dict)  # name -> continuum record
    sources: Mapping = dataclasses.field(default_factory=dict)  # profile -> file
    notes: tuple = ()  # warnings not tied to one measurement (e.g. unenforced limits)

    def frame(self) -> pd.DataFrame:
        cols = ["profile", "operation", "name", "pruning_factor", "pruning_method", "runtime",
                "model_format", "mean_s", "median_s", "min_s", "stddev_s", "rounds", "cv",
                "unstable", "source"]
        rows = [{c: getattr(m, c) for c in cols} for m in self.measurements]
        return pd.DataFrame(rows, columns=cols)

    def warnings(self) -> list[str]:
        return list(self.notes) + [m.warning for m in self.measurements if m.unstable]

    def pruning_factors(self, operation: str | None = None) -> list[float]:
        return sorted({m.pruning_factor for m in self.measurements if m.pruning_factor is not None
                       and (operation is None or m.operation == operation)})

    def select(self, operation: str, profile: str | None = None, pruning_factor=None,
               **fields) -> list[Measurement]:
        """Measurements matching operation, profile, pruning factor (to 1e-9) and any of
        pruning_method / runtime / model_format (None = any)."""
        out = []
        for m in self.measurements:
            if m.operation != operation or (profile is not None and m.profile != profile):
                continue
            if pruning_factor is not None and (m.pruning_factor is None
                                               or abs(m.pruning_factor - pruning_factor) > 1e-9):
                continue
            if any(v is not None and getattr(m, k) != v for k, v in fields.items()):
                continue
            out.append(m)
        return out

    def one(self, operation: str, profile: str | None = None, pruning_factor=None,
            **fields) -> Measurement:
        """The single matching measurement (the first if several); ResultsError naming
        what was asked and what exists when there is none."""
        found = self.select(operation, profile, pruning_factor, **fields)
        if not found:
            have = sorted({(m.profile, m.pruning_factor, m.pruning_method, m.runtime, m.model_format)
                           for m in self.measurements if m.operation == operation}, key=str)
            ask = {"profile": profile, "pruning_factor": pruning_factor,
                   **{k: v for k, v in fields.items() if v is not None}}
            raise ResultsError(f"no '{operation}' result with {ask}; available "
                               f"(profile, pf, method, runtime, format): {have or 'none'}")
        return found[0]


# ---- reading ------------------------------------------------------------------------

def _read_json(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ResultsError(f"{path}: cannot read ({e.strerror})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ResultsError(f"{path}: malformed or truncated JSON ({e.msg} at line {e.lineno}, "
                           f"column {e.colno})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise ResultsError(f"{path}: not a pytest-benchmark JSON file (no 'benchmarks' list)")
    return doc


def profile_record(doc: dict, path: Path) -> dict:
    """machine_info['continuum'] with a validated profile name (string)."""
    mi = doc.get("machine_info")
    if not isinstance(mi, dict):
        raise ResultsError(f"{path}: field 'machine_info' missing or not an object")
    cont = mi.get("continuum")
    if not isinstance(cont, dict):
        raise ResultsError(f"{path}: field 'machine_info.continuum' missing (the profile record "
                           f"written by the suite's machine_info hook)")
    prof = cont.get("profile")
    name = prof.get("name") if isinstance(prof, dict) else prof
    if not isinstance(name, str) or not name:
        raise ResultsError(f"{path}: field 'machine_info.continuum.profile.name' missing; "
                           f"expected one of {PROFILES}")
    if name not in PROFILES:
        raise ResultsError(f"{path}: machine_info.continuum.profile.name is {name!r}; "
                           f"expected one of {PROFILES}")
    return {**cont, "profile": prof if isinstance(prof, dict) else {"name": name}}


def _number(bench_name, path, where, value, *, integer=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ResultsError(f"{path}: benchmark {bench_name!r}: field '{where}' must be a number, "
                           f"got {value!r}")
    return int(value) if integer else float(value)


def _measurement(b: dict, profile: str, path: Path) -> Measurement:
    name = b.get("name") or b.get("fullname") or "?"
    info = b.get("extra_info")
    if not isinstance(info, dict):
        raise ResultsError(f"{path}: benchmark {name!r}: field 'extra_info' missing")
    op = info.get("operation")
    if op not in OPERATIONS:
        raise ResultsError(f"{path}: benchmark {name!r}: field 'extra_info.operation' is {op!r}; "
                           f"expected one of {OPERATIONS}")
    required = REQUIRED_FIELDS[op]
    if op == "serialization" and "dataset_bytes" in info:
        required = ("dataset_bytes",)
    missing = [f for f in required if info.get(f) is None]
    if missing:
        raise ResultsError(f"{path}: benchmark {name!r} ({op}): extra_info field(s) "
                           f"{', '.join(repr(f) for f in missing)} missing")
    pf = info.get("pruning_factor")
    if pf is not None:
        pf = _number(name, path, "extra_info.pruning_factor", pf)
        if not 0 <= pf < 1:
            raise ResultsError(f"{path}: benchmark {name!r}: extra_info.pruning_factor must be a "
                               f"fraction in [0, 1) (0.7 for 70 %), got {pf!r}")
    stats = b.get("stats")
    if not isinstance(stats, dict):
        raise ResultsError(f"{path}: benchmark {name!r}: field 'stats' missing")
    for f in STATS_FIELDS:
        if f not in stats:
            raise ResultsError(f"{path}: benchmark {name!r}: field 'stats.{f}' missing")
    mean = _number(name, path, "stats.mean", stats["mean"])
    if mean < 0:
        raise ResultsError(f"{path}: benchmark {name!r}: stats.mean must be >= 0, got {mean!r}")
    return Measurement(
        source=str(path), profile=profile, name=name, operation=op, pruning_factor=pf,
        pruning_method=info.get("pruning_method"),
        runtime=info.get("runtime"), model_format=info.get("model_format"),
        mean_s=mean, median_s=_number(name, path, "stats.median", stats["median"]),
        min_s=_number(name, path, "stats.min", stats["min"]),
        stddev_s=_number(name, path, "stats.stddev", stats["stddev"]),
        rounds=_number(name, path, "stats.rounds", stats["rounds"], integer=True),
        extra_info=dict(info))


def _unenforced_note(record: dict, path: Path) -> str | None:
    enforced = record.get("profile", {}).get("enforced")
    if isinstance(enforced, dict):
        bad = {k: v for k, v in enforced.items() if v is False}
        reason = enforced.get("reason") or enforced.get("unenforced")
        if bad or reason:
            return (f"{path}: profile {record['profile']['name']!r} not fully enforced "
                    f"({', '.join(bad) or ''}{'; ' if bad and reason else ''}{reason or ''})")
    return None


def load_file(path, profile: str | None = None) -> ResultSet:
    """One pytest-benchmark JSON file. profile overrides machine_info's profile name."""
    path = Path(path)
    doc = _read_json(path)
    if profile is None:
        record = profile_record(doc, path)
        profile = record["profile"]["name"]
    else:
        if profile not in PROFILES:
            raise ResultsError(f"profile must be one of {PROFILES}, got {profile!r}")
        mi = doc.get("machine_info") if isinstance(doc.get("machine_info"), dict) else {}
        record = {**(mi.get("continuum") or {}), "profile": {"name": profile}}
    ms = tuple(_measurement(b, profile, path) for b in doc["benchmarks"] if isinstance(b, dict))
    if len(ms) != len(doc["benchmarks"]):
        raise ResultsError(f"{path}: field 'benchmarks' holds entries that are not objects")
    if any(m.operation in ("prune", "finetune", "inference") for m in ms) and not any(
            m.pruning_factor is not None for m in ms):
        raise ResultsError(f"{path}: no pruning factors found (extra_info.pruning_factor)")
    note = _unenforced_note(record, path)
    return ResultSet(ms, {profile: record}, {profile: str(path)}, (note,) if note else ())


def storage_files(storage) -> list[Path]:
    """All run files of a pytest-benchmark storage folder, oldest first per machine folder."""
    storage = Path(storage)
    files = [p for p in storage.glob("*/*.json") if STORAGE_FILE.match(p.name)]
    return sorted(files, key=lambda p: (p.parent.name, int(STORAGE_FILE.match(p.name).group(1))))


def result_files(path) -> list[Path]:
    """Files to load from a path: a JSON file; a folder of JSON files (one per profile);
    or a pytest-benchmark storage folder (its latest run per machine folder) or a folder
    of such storages (one per profile)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ResultsError(f"{path}: no such file or folder")
    top = sorted(path.glob("*.json"))
    if top:
        return top
    latest: dict[Path, Path] = {}
    for f in sorted(path.glob("**/*.json")):
        if STORAGE_FILE.match(f.name):
            cur = latest.get(f.parent)
            if cur is None or int(STORAGE_FILE.match(f.name).group(1)) > int(
                    STORAGE_FILE.match(cur.name).group(1)):
                latest[f.parent] = f
    if not latest:
        raise ResultsError(f"{path}: no pytest-benchmark JSON files found")
    return [latest[k] for k in sorted(latest)]


def merge(sets: Iterable[ResultSet]) -> ResultSet:
    """One ResultSet from several; the same profile from two files is an error."""
    ms, profiles, sources, notes = [], {}, {}, []
    for s in sets:
        for prof, src in s.sources.items():
            if prof in sources:
                raise ResultsError(f"profile {prof!r} found in both {sources[prof]} and {src}; "
                                   f"load one run per profile")
            sources[prof] = src
        ms.extend(s.measurements)
        profiles.update(s.profiles)
        notes.extend(s.notes)
    return ResultSet(tuple(ms), profiles, sources, tuple(notes))


def load_results(*paths) -> ResultSet:
    """Load files / folders (see :func:`result_files`) into one validated ResultSet."""
    if not paths:
        raise ResultsError("no results given: pass JSON files or folders")
    return merge(load_file(f) for p in paths for f in result_files(p))


def load_history(storage) -> list[tuple[str, ResultSet]]:
    """Every run of a storage folder, oldest first: [(file name stem, ResultSet)]."""
    files = storage_files(storage)
    if not files:
        raise ResultsError(f"{storage}: no pytest-benchmark history files (NNNN_*.json)")
    return [(f.stem, load_file(f)) for f in files]


# ---- from results to pipeline inputs ---------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ModelDownload:
    """Which serialized size is "the model download" (overridable).

    Default: a model the device only runs (D-Inf full, E-FT,D-Inf) is sent as
    ``tflite``; a model the device fine-tunes (D-FT,D-Inf) as ``keras``; gzip-compressed
    (``model_bytes_gzip``) since zeroed weights only shrink the compressed file.
    """

    inference_format: str = "tflite"
    finetune_format: str = "keras"
    compressed: bool = True

    def size(self, rs: ResultSet, pruning_factor: float, fmt: str, pruning_method=None) -> float:
        m = rs.one("serialization", None, pruning_factor, model_format=fmt,
                   pruning_method=pruning_method if pruning_factor else None)
        key = "model_bytes_gzip" if self.compressed else "model_bytes"
        return float(m.extra_info[key])


def _sizes(rs: ResultSet, sizes: str, pf: float, runtime: str) -> tuple[float, float]:
    if sizes not in SIZE_SOURCES:
        raise ValueError(f"sizes must be one of {SIZE_SOURCES}, got {sizes!r}")
    if sizes == "study":
        return STUDY_SAMPLE_BYTES, STUDY_RESULT_BYTES
    m = rs.one("inference", None, pf, runtime=runtime)
    for cand in rs.select("inference", None, pf, runtime=runtime):
        if cand.extra_info.get("sample_bytes") is not None and cand.extra_info.get(
                "result_bytes") is not None:
            m = cand
            break
    for f in ("sample_bytes", "result_bytes"):
        if m.extra_info.get(f) is None:
            raise ResultsError(f"{m.source}: benchmark {m.name!r}: extra_info field {f!r} missing "
                               f"(needed by sizes='results'; use sizes='study' for 300 kB / 2 kB)")
    return float(m.extra_info["sample_bytes"]), float(m.extra_info["result_bytes"])


def scenario_from_results(rs: ResultSet, scenario: str = "idle", pruning_factor: float = 0.7, *,
                          uplink_bps: float, downlink_bps: float, pruning_method: str = "filter",
                          runtime: str = "litert", model_download: ModelDownload = ModelDownload(),
                          sizes: str = "study", statistic: str = "mean",
                          powers: DevicePowers = DevicePowers()) -> dict[str, PipelineInputs]:
    """{pipeline: PipelineInputs} for a scenario ('idle' or 'loaded'): the edge times come
    from the edge-idle / edge-loaded profile, device times from 'device'; baselines use
    the full model (pf 0), the pruned pipelines pruning_factor with pruning_method."""
    if scenario not in SCENARIO_PROFILES:
        raise ValueError(f"scenario must be one of {tuple(SCENARIO_PROFILES)}, got {scenario!r}")
    edge = SCENARIO_PROFILES[scenario]
    pf, meth = pruning_factor, pruning_method

    def t(op, profile, p=None, **kw):
        return rs.one(op, profile, p, **kw).time(statistic)

    sample, result = _sizes(rs, sizes, 0.0, runtime)
    enc = rs.one("encryption", "device")
    dec = rs.select("decryption", edge)
    common = dict(uplink_bps=uplink_bps, downlink_bps=downlink_bps, sample_bytes=sample,
                  result_bytes=result, powers=powers,
                  dataset_bytes=float(enc.extra_info["ciphertext_bytes"]))
    full = PipelineInputs(
        model_bytes=model_download.size(rs, 0.0, model_download.inference_format),
        inference_edge_s=t("inference", edge, 0.0, runtime=runtime),
        inference_device_s=t("inference", "device", 0.0, runtime=runtime), **common)
    pruned = PipelineInputs(
        model_bytes=model_download.size(rs, pf, model_download.inference_format, meth),
        inference_edge_s=t("inference", edge, pf, runtime=runtime, pruning_method=meth),
        inference_device_s=t("inference", "device", pf, runtime=runtime, pruning_method=meth),
        prune_s=t("prune", edge, pf, pruning_method=meth),
        encrypt_s=enc.time(statistic),
        decrypt_s=dec[0].time(statistic) if dec else 0.0,
        finetune_edge_s=t("finetune", edge, pf, pruning_method=meth),
        finetune_device_s=t("finetune", "device", pf, pruning_method=meth), **common)
    ft_model = model_download.size(rs, pf, model_download.finetune_format, meth)
    return {"E-Inf full": full, "D-Inf full": full, "E-FT,E-Inf": pruned, "E-FT,D-Inf": pruned,
            "D-FT,D-Inf": pruned.replace(model_bytes=ft_model)}
