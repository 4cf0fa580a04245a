"""Hardware profiles: the study's three conditions as data, fitted to this host.

The study measured a mobile device (1 physical core, 4 GB RAM), an idle edge
server (VM, 4 vCPU, 16 GB) and the same edge while 50 containers ran inference
in the background. :data:`PROFILES` holds them as the study describes them;
:func:`get_profile` resolves one against the host and the user's overrides::

    >>> p = get_profile("device")
    >>> (p.cpus, p.memory_bytes, p.threads.tf_intra_op)
    (1, 4294967296, 1)
    >>> get_profile("edge-idle", {"cpus": 1}, host_cpus=2).threads.omp
    1

Thread pools follow the profile's CPU count unless overridden (TensorFlow's
inter-op pool: 1, MobileNet being a chain of ops). The background
load of ``edge-loaded`` defaults to :data:`LOAD_WORKERS_PER_CPU` single-threaded
workers per edge CPU (see docs/emulation.md for how that rule was chosen).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: The command-line option that lets a run go on with limits not enforced.
ALLOW_OPTION = "--allow-unenforced"


class ProfileNotEnforced(RuntimeError):
    """A requested limit could not be applied. ``reasons`` maps each limit to why."""

    def __init__(self, profile: str, reasons: dict[str, str]):
        self.profile = profile
        self.reasons = dict(reasons)
        lines = "\n".join(f"  - {k}: {v}" for k, v in self.reasons.items())
        super().__init__(
            f"profile {profile!r} could not be enforced on this host:\n{lines}\n"
            f"Remedy: run as a user who may create cgroups below this process's group (Linux, cgroup v1 cpu/memory "
            f"or v2 with the controllers delegated), or pass {ALLOW_OPTION} to run anyway; the results then "
            f"record enforced: false with these reasons."
        )


GIB = 1024**3
MIB = 1024**2

#: Background inference workers per edge CPU when ``load_workers`` is not given.
#: One single-threaded LiteRT worker per CPU keeps every edge CPU busy, and halves a
#: benchmark's share of each CPU: the study's fine-tuning slowdown on its loaded edge
#: (2.1 x, table 1). See docs/emulation.md.
LOAD_WORKERS_PER_CPU = 1
#: The study's density: 50 containers on 4 vCPUs. ``load_workers=12.5*cpus``
#: reproduces its contention (a benchmark thread gets ~C/(N+C) of a CPU).
STUDY_WORKERS_PER_CPU = 12.5

#: TensorFlow inter-op threads unless overridden: MobileNet's graph is a chain of ops
#: (the same value pipeline.infer.KerasRunner sets).
TF_INTER_OP_THREADS = 1

_MEMORY_UNITS = {"": 1, "b": 1, "k": 1024, "kib": 1024, "m": MIB, "mib": MIB, "g": GIB, "gib": GIB,
                 "kb": 1000, "mb": 1000**2, "gb": 1000**3}
_NONE_WORDS = ("none", "null", "off", "")


@dataclass(frozen=True)
class ThreadCounts:
    """Thread pool sizes: TensorFlow intra/inter-op, OpenMP, BLAS, LiteRT."""

    tf_intra_op: int
    tf_inter_op: int
    omp: int
    blas: int
    litert: int

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"thread count {f.name} must be an integer >= 1, got {value!r}")

    @classmethod
    def uniform(cls, n: int) -> ThreadCounts:
        return cls(tf_intra_op=n, tf_inter_op=n, omp=n, blas=n, litert=n)


@dataclass(frozen=True)
class ProfileSpec:
    """A condition as the study describes it, before fitting to a host.

    ``cpus`` [CPUs], ``memory_bytes`` [B], ``cpu_quota`` [CPU-seconds per second]
    or None for no quota, ``loaded``: whether a background inference load runs.
    """

    name: str
    description: str
    cpus: int
    memory_bytes: int | None
    cpu_quota: float | None = None
    loaded: bool = False


#: The study's three conditions (docs/spec.md "The study").
PROFILES: dict[str, ProfileSpec] = {
    "device": ProfileSpec("device", "mobile device: 1 physical core of a laptop i7, 4 GB RAM", 1, 4 * GIB),
    "edge-idle": ProfileSpec("edge-idle", "edge server, no load: VM with 4 vCPU, 16 GB", 4, 16 * GIB),
    "edge-loaded": ProfileSpec(
        "edge-loaded", "edge server while 50 containers run inference: 4 vCPU, 16 GB + background load",
        4, 16 * GIB, loaded=True,
    ),
}


@dataclass(frozen=True)
class Profile:
    """A profile resolved for this host: what apply_profile is asked to enforce.

    ``cpus`` [CPUs] pinned by affinity; ``cpu_quota`` [CPU-s/s] through the cgroup
    CPU controller or None; ``memory_bytes`` [B] through the memory controller or
    None; ``load_workers`` background worker processes of ``load_threads`` threads
    each; ``notes`` says where the study's value was fitted to the host.
    """

    name: str
    cpus: int
    cpu_quota: float | None
    memory_bytes: int | None
    threads: ThreadCounts
    load_workers: int = 0
    load_threads: int = 1
    overrides: tuple[tuple[str, object], ...] = ()
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.cpus, int) or self.cpus < 1:
            raise ValueError(f"profile {self.name!r}: cpus must be an integer >= 1, got {self.cpus!r}")
        if self.cpu_quota is not None and not 0.01 <= self.cpu_quota <= self.cpus:
            raise ValueError(
                f"profile {self.name!r}: cpu_quota must be in [0.01, cpus={self.cpus}] CPU-s/s or none, "
                f"got {self.cpu_quota!r}"
            )
        if self.memory_bytes is not None and self.memory_bytes < 64 * MIB:
            raise ValueError(
                f"profile {self.name!r}: memory_bytes must be >= 64 MiB or none, got {self.memory_bytes!r}"
            )
        if self.load_workers < 0 or self.load_threads < 1:
            raise ValueError(
                f"profile {self.name!r}: load_workers must be >= 0 and load_threads >= 1, "
                f"got {self.load_workers!r}, {self.load_threads!r}"
            )

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["overrides"] = {k: v for k, v in self.overrides}
        d["notes"] = list(self.notes)
        return d


#: Override keys and what they set (thread keys set one pool, ``threads`` all).
OVERRIDE_KEYS: dict[str, str] = {
    "cpus": "CPUs pinned by affinity (int, <= the CPUs this process may use)",
    "cpu_quota": "CPU quota in CPU-seconds per second, e.g. 0.5 (float, or none)",
    "memory_bytes": "memory limit, e.g. 4GiB, 512MiB, 4294967296 (or none)",
    "threads": "every thread pool (int)",
    "tf_intra_op": "TensorFlow intra-op pool (int)",
    "tf_inter_op": "TensorFlow inter-op pool (int)",
    "omp": "OpenMP pool, OMP_NUM_THREADS (int)",
    "blas": "BLAS pools, OPENBLAS/MKL_NUM_THREADS (int)",
    "litert": "LiteRT interpreter threads (int)",
    "load_workers": "background inference worker processes (int)",
    "load_threads": "threads per background worker (int)",
}
_THREAD_KEYS = ("tf_intra_op", "tf_inter_op", "omp", "blas", "litert")


def host_cpus() -> int:
    """Number of CPUs this process may run on [CPUs] (affinity, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def host_memory_bytes() -> int | None:
    """Total physical memory [B] from /proc/meminfo, or None where it cannot be read."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def parse_memory_bytes(value: object) -> int | None:
    """``4GiB`` / ``512M`` / ``4294967296`` / ``none`` -> bytes [B] or None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"memory_bytes={value!r}: expected a size like 4GiB, 512MiB, 4294967296 or none")
    if isinstance(value, int | float):
        if value != int(value):
            raise ValueError(f"memory_bytes={value!r}: expected a whole number of bytes")
        return int(value)
    text = str(value).strip().lower()
    if text in _NONE_WORDS:
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text)
    if not m or m.group(2) not in _MEMORY_UNITS:
        raise ValueError(
            f"memory_bytes={value!r}: expected a size like 4GiB, 512MiB, 4294967296 or none "
            f"(units: {', '.join(u for u in _MEMORY_UNITS if u)})"
        )
    return int(float(m.group(1)) * _MEMORY_UNITS[m.group(2)])


def _parse_int(key: str, value: object) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{key}={value!r}: expected an integer")
    try:
        number = float(value) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        raise ValueError(f"{key}={value!r}: expected an integer") from None
    if number != int(number):
        raise ValueError(f"{key}={value!r}: expected an integer")
    return int(number)


def _parse_quota(value: object) -> float | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in _NONE_WORDS):
        return None
    try:
        quota = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"cpu_quota={value!r}: expected CPU-seconds per second like 0.5, or none") from None
    if not math.isfinite(quota) or quota <= 0:
        raise ValueError(f"cpu_quota={value!r}: must be > 0 CPU-s/s, or none")
    return quota


def parse_overrides(items: Iterable[str]) -> dict[str, str]:
    """``["cpus=2", "cpu_quota=0.5"]`` (the ``--profile-set`` option) -> overrides dict.

    Keys are checked here; values are checked by :func:`get_profile`.
    """
    overrides: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ValueError(f"profile setting {item!r}: expected key=value with key one of {sorted(OVERRIDE_KEYS)}")
        if key not in OVERRIDE_KEYS:
            raise ValueError(f"profile setting {item!r}: unknown key {key!r}; known: {sorted(OVERRIDE_KEYS)}")
        overrides[key] = value.strip()
    return overrides


def get_profile(
    name: str,
    overrides: Mapping[str, object] | None = None,
    *,
    host_cpus_available: int | None = None,
    host_memory: int | None = None,
) -> Profile:
    """Resolve profile ``name`` for this host, with the user's ``overrides``.

    The study's CPU count and memory are fitted down to the host's (the CPUs this
    process may use, the physical memory); an override larger than the host
    raises, since it could not be enforced. ``host_cpus_available`` [CPUs] and
    ``host_memory`` [B] default to this host's and exist for tests.
    """
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; known profiles: {sorted(PROFILES)}")
    spec = PROFILES[name]
    overrides = dict(overrides or {})
    for key in overrides:
        if key not in OVERRIDE_KEYS:
            raise ValueError(f"profile override {key}={overrides[key]!r}: unknown key; known: {sorted(OVERRIDE_KEYS)}")
    n_host = host_cpus_available if host_cpus_available is not None else host_cpus()
    mem_host = host_memory if host_memory is not None else host_memory_bytes()
    notes: list[str] = []

    if "cpus" in overrides:
        cpus = _parse_int("cpus", overrides["cpus"])
        if not 1 <= cpus <= n_host:
            raise ValueError(f"cpus={overrides['cpus']!r}: must be in [1, {n_host}] (the CPUs this process may use)")
    else:
        cpus = min(spec.cpus, n_host)
        if cpus < spec.cpus:
            notes.append(f"cpus {spec.cpus} -> {cpus}: this process may use {n_host} CPUs")

    if "memory_bytes" in overrides:
        memory = parse_memory_bytes(overrides["memory_bytes"])
        if memory is not None and mem_host is not None and memory > mem_host:
            raise ValueError(
                f"memory_bytes={overrides['memory_bytes']!r}: exceeds the host's {mem_host} B of memory"
            )
    else:
        memory = spec.memory_bytes
        if memory is not None and mem_host is not None and mem_host < memory:
            notes.append(f"memory_bytes {memory} -> {mem_host}: the host has {mem_host} B")
            memory = mem_host

    quota = _parse_quota(overrides["cpu_quota"]) if "cpu_quota" in overrides else spec.cpu_quota

    base_threads = _parse_int("threads", overrides["threads"]) if "threads" in overrides else cpus
    threads = {k: (_parse_int(k, overrides[k]) if k in overrides else base_threads) for k in _THREAD_KEYS}
    if "tf_inter_op" not in overrides:
        threads["tf_inter_op"] = TF_INTER_OP_THREADS

    load_threads = _parse_int("load_threads", overrides["load_threads"]) if "load_threads" in overrides else 1
    if "load_workers" in overrides:
        load_workers = _parse_int("load_workers", overrides["load_workers"])
    else:
        load_workers = LOAD_WORKERS_PER_CPU * cpus if spec.loaded else 0

    try:
        return Profile(
            name=name,
            cpus=cpus,
            cpu_quota=quota,
            memory_bytes=memory,
            threads=ThreadCounts(**threads),
            load_workers=load_workers,
            load_threads=load_threads,
            overrides=tuple(sorted((k, v) for k, v in overrides.items())),
            notes=tuple(notes),
        )
    except ValueError as exc:
        raise ValueError(f"profile {name!r} with overrides {overrides!r}: {exc}") from None
