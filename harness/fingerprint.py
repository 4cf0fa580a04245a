"""A run's hardware identity: a short fingerprint of what the run recorded about its machine.

Two runs compare only when they ran on the same kind of hardware under the same limits, so
readers group runs by fingerprint, not by hostname (a rebuilt VM keeps its name and may change
its CPU; two identical hosts differ in name only). The fingerprint holds what changes the
kernels and the time they take:

* the CPU: ``vendor`` (``machine_info.cpu.vendor_id_raw``), ``family``, ``model``, ``brand``
  (``brand_raw``), ``arch``;
* ``isa``: the instruction-set features the inference kernels branch on (x86: SSE4.2, AVX2,
  AVX-512F, AVX-512 VNNI, AVX-VNNI, AMX; Arm: NEON, dot product, I8MM, SVE), from ``cpu.flags``;
* ``cpus``: the logical CPUs the profile had (its enforced affinity, else the host's count);
* ``memory_bytes``: the enforced memory limit [B], None without one;
* ``cpu_quota``: the enforced CPU quota [CPU-s/s], None without one (a quota halves what a
  CPU-bound session gets done, though short rounds may run between its throttled periods);
* ``virtualised``: ``hypervisor`` among the CPU flags.

Library versions (TensorFlow, LiteRT, numpy: :func:`library_versions`) sit beside it in
``machine_info.continuum`` but are not part of it: a new TensorFlow is a change to measure on
the same machine, not another machine.

Where it lives: the suite stores :func:`fingerprint` of the run's ``machine_info`` at
``machine_info.continuum.fingerprint`` (:data:`RECORD_KEY`); :func:`run_fingerprint` reads it
back, and computes it from ``machine_info.cpu`` and the profile record for older runs. Pure: no
I/O, no probing of the machine this runs on. It lives in ``harness`` because the suite writes it
at run time (:mod:`harness.record`) and ``reports`` reads it back (harness may not import reports).
"""
from __future__ import annotations

import hashlib
import json
from typing import Mapping

#: Bumped when the fields or their normalisation change: a stored fingerprint of another version is recomputed.
VERSION = 1
#: machine_info.continuum.<RECORD_KEY> holds the run's fingerprint.
RECORD_KEY = "fingerprint"
ID_LENGTH = 12
#: feature -> the py-cpuinfo / /proc/cpuinfo flags that show it (compared without "_" and ".", lower case).
ISA_FEATURES = {
    "sse4_2": ("sse42",),
    "avx2": ("avx2",),
    "avx512f": ("avx512f",),
    "avx512_vnni": ("avx512vnni",),
    "avx_vnni": ("avxvnni",),
    "amx": ("amxtile", "amxint8", "amxbf16"),
    "neon": ("asimd", "neon"),
    "dotprod": ("asimddp", "dotprod"),
    "i8mm": ("i8mm",),
    "sve": ("sve",),
}
#: the library versions shown beside the fingerprint: label -> package name in machine_info.continuum.versions
LIBRARIES = {"TensorFlow": "tensorflow", "LiteRT": "ai-edge-litert", "numpy": "numpy"}


def _flag(name) -> str:
    return str(name).lower().replace("_", "").replace(".", "")


def _mapping(value, where: str) -> Mapping:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be an object, got {type(value).__name__}")
    return value


def _int_or_none(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _profile_limits(record: Mapping, host_count) -> tuple[int | None, int | None]:
    """(logical CPUs, memory limit [B] or None) the profile had: what was enforced, read back."""
    prof = record.get("profile")
    prof = prof if isinstance(prof, Mapping) else {}
    requested = prof.get("requested") if isinstance(prof.get("requested"), Mapping) else {}
    enforced = prof.get("enforced") if isinstance(prof.get("enforced"), Mapping) else {}
    cpus = _int_or_none(host_count)
    affinity = enforced.get("affinity")
    if isinstance(affinity, Mapping) and affinity.get("enforced") and isinstance(affinity.get("value"), list):
        cpus = len(affinity["value"])
    elif affinity is True and _int_or_none(requested.get("cpus")):  # the flat {limit: bool} record of older runs
        cpus = _int_or_none(requested.get("cpus"))
    memory = None
    limit = enforced.get("memory_limit")
    if isinstance(limit, Mapping) and limit.get("enforced"):
        memory = _int_or_none(limit.get("value"))
    elif enforced.get("memory") is True:
        memory = _int_or_none(requested.get("memory_bytes"))
    return cpus, memory


def _cpu_quota(record: Mapping) -> float | None:
    prof = record.get("profile")
    enforced = prof.get("enforced") if isinstance(prof, Mapping) else None
    entry = enforced.get("cpu_quota") if isinstance(enforced, Mapping) else None
    if isinstance(entry, Mapping) and entry.get("enforced"):
        value = entry.get("value")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return round(float(value), 3)
    return None


def fingerprint(machine_info: Mapping) -> dict:
    """The fingerprint of a run from its ``machine_info`` (pytest-benchmark's, with ``cpu`` from
    py-cpuinfo and the suite's ``continuum`` record): ``id`` (12 hex digits of the SHA-256 of the
    fields), ``version`` and the fields. A field the run did not record is None. ValueError naming
    the field when ``machine_info``, ``machine_info.cpu`` or ``machine_info.continuum`` is not an object."""
    if not isinstance(machine_info, Mapping):
        raise ValueError(f"machine_info must be an object, got {type(machine_info).__name__}")
    mi = machine_info
    cpu = _mapping(mi.get("cpu"), "machine_info.cpu")
    record = _mapping(mi.get("continuum"), "machine_info.continuum")
    flags = cpu.get("flags") or []
    if not isinstance(flags, (list, tuple)):
        raise ValueError(f"machine_info.cpu.flags must be a list of flag names, got {type(flags).__name__}")
    have = {_flag(f) for f in flags}
    cpus, memory = _profile_limits(record, cpu.get("count"))
    fields = {
        "vendor": cpu.get("vendor_id_raw") or cpu.get("vendor_id") or None,
        "brand": cpu.get("brand_raw") or cpu.get("brand") or None,
        "family": _int_or_none(cpu.get("family")),
        "model": _int_or_none(cpu.get("model")),
        "arch": cpu.get("arch") or mi.get("machine") or None,
        "isa": [name for name, shown_by in ISA_FEATURES.items() if have.intersection(shown_by)],
        "cpus": cpus,
        "memory_bytes": memory,
        "cpu_quota": _cpu_quota(record),
        "virtualised": "hypervisor" in have,
    }
    digest = hashlib.sha256(json.dumps([VERSION, fields], sort_keys=True).encode()).hexdigest()
    return {"id": digest[:ID_LENGTH], "version": VERSION, **fields}


def run_fingerprint(machine_info: Mapping) -> dict:
    """The fingerprint stored with the run (``machine_info.continuum.fingerprint``, this version), else
    the one computed from what the run recorded: how readers group runs."""
    record = machine_info.get("continuum") if isinstance(machine_info, Mapping) else None
    stored = record.get(RECORD_KEY) if isinstance(record, Mapping) else None
    if isinstance(stored, Mapping) and isinstance(stored.get("id"), str) and stored.get("version") == VERSION:
        return dict(stored)
    return fingerprint(machine_info)


def describe(fp: Mapping) -> str:
    """One line for people: brand, CPUs, memory limit, CPU quota, the widest ISA feature, VM or bare metal."""
    memory = fp.get("memory_bytes")
    mem = "no memory limit" if memory is None else f"{memory / 2**30:.3g} GiB"
    isa = fp.get("isa") or []
    parts = [fp.get("brand") or fp.get("vendor") or "unknown CPU", f"{fp.get('cpus') or '?'} CPUs", mem]
    if fp.get("cpu_quota") is not None:
        parts.append(f"CPU quota {fp['cpu_quota']:g}")
    if isa:
        parts.append(isa[-1] if len(isa) == 1 else "+".join(isa[-2:]))
    parts.append("VM" if fp.get("virtualised") else "bare metal")
    return ", ".join(parts)


def library_versions(machine_info: Mapping) -> dict[str, str | None]:
    """TensorFlow, LiteRT and numpy versions the run recorded (``machine_info.continuum.versions``)."""
    record = machine_info.get("continuum") if isinstance(machine_info, Mapping) else None
    versions = record.get("versions") if isinstance(record, Mapping) else None
    versions = versions if isinstance(versions, Mapping) else {}
    return {label: versions.get(package) for label, package in LIBRARIES.items()}
