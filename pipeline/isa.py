"""The ISA extensions XNNPACK's x86 kernels dispatch on, read from CPU flags (no TensorFlow).

pipeline/quantize.py records them beside an int8 measurement; the benchmark session
records them in ``machine_info.continuum.isa_features`` from the same flags its hardware
fingerprint reads (harness/record.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

#: /proc/cpuinfo flags XNNPACK's x86 kernel dispatch depends on, by the name recorded.
ISA_FLAGS = {
    "avx2": "avx2",
    "fma": "fma",
    "avx512f": "avx512f",
    "avx512bw": "avx512bw",
    "avx512_vnni": "avx512_vnni",
    "avx_vnni": "avx_vnni",
    "amx_tile": "amx_tile",
    "amx_int8": "amx_int8",
}
CPUINFO = Path("/proc/cpuinfo")


def _normal(flag) -> str:
    # py-cpuinfo writes some flags without the underscore /proc/cpuinfo has (avx512vnni)
    return str(flag).lower().replace("_", "").replace(".", "")


def features_from_flags(flags: Iterable[str] | None) -> dict:
    """``{"avx2": True, "amx_int8": False, ...}`` (keys: :data:`ISA_FLAGS`) from a list of CPU flags,
    compared without ``_`` and ``.``; every value None when ``flags`` is None (flags unknown)."""
    if flags is None:
        return {name: None for name in ISA_FLAGS}
    present = {_normal(flag) for flag in flags}
    return {name: _normal(flag) in present for name, flag in ISA_FLAGS.items()}


def isa_features(cpuinfo: Path | str = CPUINFO) -> dict:
    """:func:`features_from_flags` of ``cpuinfo``'s first ``flags`` line; every value None when
    the file is missing or has no ``flags`` line (not Linux on x86)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        text = ""
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), None)
    return features_from_flags(flags)


__all__ = ["CPUINFO", "ISA_FLAGS", "features_from_flags", "isa_features"]
