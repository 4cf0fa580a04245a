"""A history tree of many machines, profiles and runs, for the dashboard's tests and its scale check.

Each run is a pytest-benchmark 5.3 document built from :func:`tests.reports.benchjson.profile_doc`
(the realistic documents the reports tests share) with its times scaled: a machine's speed, the
case's pruning factor, a run's own level (log-normal, ``between_sd``) and, from run
``regress_at`` on, a slowdown of one operation on every other machine. Raw rounds are saved as
``--benchmark-save-data`` saves them. Machines differ in CPU, profile CPUs and memory, so each has
its own fingerprint (:mod:`harness.fingerprint`) unless built as a twin of another.

Layout, as the suite writes it: ``<root>/<profile>/<hostname>/<machine id>/NNNN_<commit>_<date>.json``,
and the gate's verdict records in ``<root>/<profile>/verdicts/`` (:mod:`reports.verdicts`).
"""
from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np

from reports import verdicts as V

from . import benchjson as B

PROFILES = ("device", "edge-idle", "edge-loaded")
#: py-cpuinfo records of a few CPU kinds: (vendor, brand, family, model, flags)
CPUS = (
    ("GenuineIntel", "Intel(R) Xeon(R) Platinum 8480+", 6, 143,
     ["sse4_2", "avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile", "amx_int8", "hypervisor"]),
    ("GenuineIntel", "Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz", 6, 142, ["sse4_2", "avx2"]),
    ("AuthenticAMD", "AMD EPYC 7B13", 25, 1, ["sse4_2", "avx2", "hypervisor"]),
    ("AuthenticAMD", "AMD EPYC 9R14", 25, 17, ["sse4_2", "avx2", "avx512f", "avx512_vnni", "hypervisor"]),
    ("GenuineIntel", "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", 6, 85, ["sse4_2", "avx2", "avx512f", "avx512_vnni"]),
)
MEMORY_GIB = (4, 8, 16, 32)
PRUNING_FACTORS = (0.7, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 0.9)
REGRESSED_OPERATION = "inference"


@dataclasses.dataclass(frozen=True)
class Machine:
    hostname: str
    profile: str
    cpu_kind: int
    cpus: int
    memory_bytes: int
    speed: float  # times on this machine are the template's times this many times

    def cpu(self) -> dict:
        vendor, brand, family, model, flags = CPUS[self.cpu_kind]
        return {"arch": "X86_64", "bits": 64, "count": 2 * self.cpus, "vendor_id_raw": vendor, "brand_raw": brand,
                "family": family, "model": model, "stepping": 1, "flags": list(flags)}

    def twin(self, hostname: str) -> Machine:
        """Another host of the same hardware and profile: the same fingerprint."""
        return dataclasses.replace(self, hostname=hostname)


def machines(n: int, seed: int = 0) -> list[Machine]:
    """``n`` machines, each of its own hardware (CPU kind, CPUs, memory) and a profile in turn."""
    rng = np.random.default_rng(seed)
    combos = [(k, c, m) for c in (1, 2, 4, 8) for m in MEMORY_GIB for k in range(len(CPUS))]
    if n > len(combos):
        raise ValueError(f"at most {len(combos)} distinct machines, asked for {n}")
    out = []
    for i in range(n):
        kind, cpus, mem = combos[i % len(combos)]
        out.append(Machine(f"bench-{i:02d}", PROFILES[i % len(PROFILES)], kind, cpus, mem * 2**30,
                           float(np.exp(rng.normal(0.0, 0.4)))))
    return out


def _renamed(entry: dict, pf: float) -> dict:
    out = copy.deepcopy(entry)
    tag = f"pf={round(pf * 100):d}"
    out["name"], out["fullname"] = (s.replace("pf=70", tag) for s in (entry["name"], entry["fullname"]))
    out["param"] = entry["param"].replace("pf=70", tag)
    out["params"] = {"case": out["param"]}
    out["extra_info"]["pruning_factor"] = pf
    # a sparser model runs in less time: scale the template's pf 0.7 time to this factor
    out["stats"]["mean"] *= (1.0 - 0.8 * pf) / (1.0 - 0.8 * 0.7)
    return out


def cases(profile: str, n: int) -> list[dict]:
    """The first ``n`` cases of ``profile``: benchjson's grid, its pf 0.7 cases repeated at other factors."""
    grid = B.profile_doc(profile)["benchmarks"]
    out = []
    for pf in PRUNING_FACTORS:
        for entry in grid:
            if entry["extra_info"].get("pruning_factor") == 0.7:
                out.append(entry if pf == 0.7 else _renamed(entry, pf))
            elif pf == 0.7:
                out.append(entry)
    if n > len(out):
        raise ValueError(f"profile {profile!r} has {len(out)} cases, asked for {n}")
    return out[:n]


def commit_id(index: int) -> str:
    return hashlib.sha1(f"commit {index}".encode()).hexdigest()[:8]


def _rounds(mean: float) -> int:
    """Rounds pytest-benchmark takes in about a second of a case (max_time 1 s, min_rounds 5), at most 40."""
    return int(min(40, max(5, 1.0 / max(mean, 1e-6))))


def run_doc(machine: Machine, template: list[dict], rng: np.random.Generator, *, when: dt.datetime,
            commit: str, between_sd: float, slowdown: float) -> dict:
    """One run of ``machine``: the template's cases, times scaled, raw rounds drawn with ``rng``."""
    doc = B.profile_doc(machine.profile)
    mi = doc["machine_info"]
    mi["node"] = machine.hostname
    mi["cpu"] = machine.cpu()
    mi["continuum"]["profile"] = {
        "name": machine.profile,
        "requested": {"name": machine.profile, "cpus": machine.cpus, "memory_bytes": machine.memory_bytes},
        "enforced": {"affinity": {"requested": True, "enforced": True, "value": list(range(machine.cpus))},
                     "memory_limit": {"requested": True, "enforced": True, "value": machine.memory_bytes}}}
    mi["continuum"]["host"] = machine.hostname
    mi["continuum"]["versions"] = {"tensorflow": "2.21.0", "ai-edge-litert": "2.3.0", "numpy": "2.4.6"}
    doc["commit_info"].update(id=commit, time=when.isoformat(), author_time=when.isoformat())
    doc["datetime"] = when.isoformat()
    level = np.exp(rng.normal(0.0, between_sd, len(template)))
    out = []
    for entry, lvl in zip(template, level):
        b = dict(entry)
        mean = entry["stats"]["mean"] * machine.speed * float(lvl)
        if entry["extra_info"]["operation"] == REGRESSED_OPERATION:
            mean *= slowdown
        rounds = _rounds(mean)
        data = (mean * (1.0 + 0.03 * rng.standard_normal(rounds))).tolist()
        q1, med, q3 = (float(v) for v in np.percentile(data, [25, 50, 75]))
        b["stats"] = {**entry["stats"], "min": min(data), "max": max(data), "mean": float(np.mean(data)),
                      "stddev": float(np.std(data, ddof=1)), "rounds": rounds, "median": med, "q1": q1, "q3": q3,
                      "iqr": q3 - q1, "ops": 1.0 / mean, "total": float(sum(data)), "data": data}
        out.append(b)
    doc["benchmarks"] = out
    return doc


@dataclasses.dataclass(frozen=True)
class History:
    root: Path
    machines: tuple[Machine, ...]
    runs: dict  # (hostname, index) -> path of the run
    verdicts: tuple[Path, ...]


def write_history(root: Path, hosts: list[Machine], runs: int, n_cases: int, *, seed: int = 0,
                  regress_at: int | None = None, slowdown: float = 1.3, between_sd: float = 0.02,
                  verdict_from: int | None = 3, rerun_every: int = 10, indent: int | None = 4) -> History:
    """Write ``runs`` runs of ``n_cases`` cases for each of ``hosts`` under ``root``.

    Run ``i`` of every host measures commit :func:`commit_id` (``i``), a day after run ``i - 1``
    (each host a few minutes later than the one before); every ``rerun_every``-th run measures the
    previous run's commit again. From run ``regress_at`` on, every other host's
    :data:`REGRESSED_OPERATION` is ``slowdown`` times slower. From run ``verdict_from`` on the gate
    judged each run of the first host of each profile: a verdict record per run, ``regression`` on
    the slowed cases of the run where the slowdown began, ``within noise`` elsewhere.
    """
    rng = np.random.default_rng(seed)
    start = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.timezone.utc)
    paths: dict = {}
    verdict_paths = []
    judged_hosts = {next(h.hostname for h in hosts if h.profile == p) for p in {h.profile for h in hosts}}
    for h_index, host in enumerate(hosts):
        template = cases(host.profile, n_cases)
        folder = root / host.profile / host.hostname / B.MACHINE_ID
        folder.mkdir(parents=True, exist_ok=True)
        slowed = h_index % 2 == 0
        commit_index = 0
        for i in range(runs):
            if not (rerun_every and i and i % rerun_every == 0):
                commit_index = i
            commit = commit_id(commit_index)
            when = start + dt.timedelta(days=i, minutes=3 * h_index)
            factor = slowdown if slowed and regress_at is not None and i >= regress_at else 1.0
            doc = run_doc(host, template, rng, when=when, commit=commit, between_sd=between_sd, slowdown=factor)
            path = folder / f"{i + 1:04d}_{commit}_{when.strftime('%Y%m%d_%H%M%S')}.json"
            path.write_text(json.dumps(doc, indent=indent))
            paths[host.hostname, i] = path
            if verdict_from is not None and i >= verdict_from and host.hostname in judged_hosts:
                onset = slowed and i == regress_at
                rows = [{"name": b["fullname"], "operation": b["extra_info"]["operation"],
                         "verdict": "regression" if onset and b["extra_info"]["operation"] == REGRESSED_OPERATION
                         else "within noise", "mark": "+" if onset else " ", "metric": "time",
                         "ratio": slowdown if onset else 1.0, "limit": 1.1, "current_s": b["stats"]["median"],
                         "reference_s": b["stats"]["median"] / (slowdown if onset else 1.0)}
                        for b in doc["benchmarks"] if b["extra_info"]["operation"] in ("inference", "serialization")]
                record = V.verdict_record(
                    profile=host.profile, host=f"{host.hostname}/{B.MACHINE_ID}", machine_info=doc["machine_info"],
                    commit=commit, datetime=doc["datetime"], source=str(path),
                    outcome="regression" if onset else "ok",
                    baselines=[f"{j + 1:04d}" for j in range(max(0, i - 5), i)], rows=rows)
                verdict_paths.append(V.write_record(record, root / host.profile))
    return History(root, tuple(hosts), paths, tuple(verdict_paths))


