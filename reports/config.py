"""The one reader of the suite's configuration in ``pyproject.toml``.

Tables (each optional; a missing table gives the defaults of its dataclass)::

    [tool.continuum-bench.gate]            -> compare.GateConfig (+ .factors: operation -> factor)
    [tool.continuum-bench.counts]          -> countrule.CountRule (+ .thresholds: operation -> threshold)
    [tool.continuum-bench.paired]          -> paired.PairedConfig (+ .factors: operation -> factor)

Errors are :class:`ConfigError` (a ValueError), one style for every table: the file, then the
table, then the key and what is wrong with its value (the dataclass's own check), e.g.
``pyproject.toml: [tool.continuum-bench.gate]: gate factor must be a number > 1, got 0.9``;
an unknown key is named with the keys the table allows. A file given explicitly must exist;
without one, ``./pyproject.toml`` is read when present.
"""
from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Mapping

from .compare import GateConfig
from .countrule import CountRule
from .paired import PairedConfig

GATE_TABLE = ("tool", "continuum-bench", "gate")
COUNTS_TABLE = ("tool", "continuum-bench", "counts")
PAIRED_TABLE = ("tool", "continuum-bench", "paired")
GATE_KEYS = frozenset({"factor", "alpha", "min_rounds", "factors", "baseline_runs", "min_baseline_runs"})
COUNTS_KEYS = frozenset({"threshold", "thresholds", "min_baseline_runs"})
PAIRED_KEYS = frozenset({"factor", "factors", "confidence", "min_pairs", "pairs", "block_s", "cases", "clock",
                         "renew", "processes"})
#: Keys that are tables of operation -> value.
_SUBTABLES = ("factors", "thresholds")
#: Keys whose TOML array becomes a tuple of the dataclass.
_TUPLE_KEYS = ("cases", "renew")
DEFAULT_FILE = Path("pyproject.toml")


class ConfigError(ValueError):
    """A configuration file that is missing, not TOML, or holds an unknown key or a bad value."""


def _name(table: tuple[str, ...]) -> str:
    return ".".join(table)


def read_document(pyproject: Path | str | None) -> tuple[Path, dict]:
    """(the file, its parsed TOML); ``{}`` when no file was given and ./pyproject.toml is absent."""
    path = Path(pyproject) if pyproject is not None else DEFAULT_FILE
    if not path.is_file():
        if pyproject is not None:
            raise ConfigError(f"{path}: configuration file not found")
        return path, {}
    try:
        return path, tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def table_of(doc: Mapping, table: tuple[str, ...], allowed, path: Path) -> dict:
    """The table ``table`` of a parsed document ({} when absent); an unknown key is a ConfigError."""
    found = doc
    for key in table:
        found = found.get(key, {})
    unknown = set(found) - set(allowed)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {sorted(unknown)} in [{_name(table)}]; allowed: {sorted(allowed)}")
    out = dict(found)
    for key in _SUBTABLES:
        if key in out and not isinstance(out[key], Mapping):
            raise ConfigError(f"{path}: [{_name(table)}]: {key} must be a table [{_name(table)}.{key}] of "
                              f"operation = value, got {out[key]!r}")
    for key in _TUPLE_KEYS:
        if isinstance(out.get(key), list):
            out[key] = tuple(out[key])
    return out


def build(cls, values: Mapping, table: tuple[str, ...], path: Path):
    """``cls(**values)``; its ValueError (naming the key) becomes a ConfigError naming the file and table."""
    try:
        return cls(**values)
    except (TypeError, ValueError, AttributeError) as err:
        raise ConfigError(f"{path}: [{_name(table)}]: {err}") from None


def load_gate_config(pyproject: Path | str | None = None) -> GateConfig:
    """``[tool.continuum-bench.gate]`` with the count rule of ``[tool.continuum-bench.counts]``."""
    path, doc = read_document(pyproject)
    gate = table_of(doc, GATE_TABLE, GATE_KEYS, path)
    rule = build(CountRule, table_of(doc, COUNTS_TABLE, COUNTS_KEYS, path), COUNTS_TABLE, path)
    return build(GateConfig, {**gate, "counts": rule}, GATE_TABLE, path)


def gate_config(path: str | None = None, factor: float | None = None, alpha: float | None = None,
                min_rounds: int | None = None, **gate_keys: int | None) -> GateConfig:
    """The file's gate configuration (:func:`load_gate_config`) with command-line overrides
    (``gate_keys``: ``baseline_runs``, ``min_baseline_runs``); a bad override is a ValueError naming it."""
    config = load_gate_config(path)
    changes = {k: v for k, v in (("factor", factor), ("alpha", alpha), ("min_rounds", min_rounds),
                                 *gate_keys.items()) if v is not None}
    return with_flags(config, changes)


def with_flags(config, changes: Mapping):
    """``config`` with command-line values, one at a time, so that a refused value is a
    ValueError naming the flag the user typed (``--min-rounds 0: ...``), not the file."""
    for key, value in changes.items():
        try:
            config = dataclasses.replace(config, **{key: value})
        except (TypeError, ValueError) as err:
            raise ValueError(f"--{key.replace('_', '-')} {value}: {err}") from None
    return config


def load_paired_config(pyproject: Path | str | None = None, **overrides) -> PairedConfig:
    """``[tool.continuum-bench.paired]``, then the non-None ``overrides`` (command-line values)."""
    path, doc = read_document(pyproject)
    table = table_of(doc, PAIRED_TABLE, PAIRED_KEYS, path)
    return with_flags(build(PairedConfig, table, PAIRED_TABLE, path),
                      {k: v for k, v in overrides.items() if v is not None})
