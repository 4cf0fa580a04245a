"""The gate's verdicts, kept beside the history so that the dashboard can mark where the gate judged.

A verdict record is one JSON file per gate run, in ``<profile storage>/verdicts/`` (for example
``results/history/device/verdicts/verdict-20261127T081000-0123abcd-1a2b3c.json``; the name never
matches a history entry's ``NNNN_*.json``, so the history readers pass over it)::

    {"format": "continuum-bench-verdicts", "version": 1,
     "profile": "device", "host": "<hostname>/<machine-id>", "fingerprint": "<12 hex digits>",
     "current": {"commit": ..., "datetime": ..., "source": ...},
     "outcome": "ok" | "regression" | "no verdict", "baselines": ["0003", ...],
     "rows": [{"name", "operation", "verdict", "mark", "metric", "ratio", "limit", "current_s",
               "reference_s"}, ...]}

``host`` is the history folder whose runs formed the baseline, ``fingerprint`` the judged run's
(:mod:`harness.fingerprint`): readers place a verdict on the run of that machine, commit and time.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Iterable, Mapping

from harness.fingerprint import run_fingerprint

FORMAT = "continuum-bench-verdicts"
VERSION = 1
FOLDER = "verdicts"
ROW_FIELDS = ("name", "operation", "verdict", "mark", "metric", "ratio", "limit", "current_s", "reference_s")
#: the verdicts a dashboard marks, and the ones it leaves unmarked (the gate judged and saw nothing)
MARKED = ("regression", "improvement", "not significant")


class VerdictError(ValueError):
    """A verdict record that is unreadable or not one; the message names the file and the field."""


def _finite(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) else None


def verdict_record(*, profile: str, host: str, machine_info: Mapping, commit: str | None, datetime: str | None,
                   source: str, outcome: str, baselines: Iterable[str], rows: Iterable[Mapping]) -> dict:
    """A verdict record from plain values (``rows``: mappings with :data:`ROW_FIELDS`)."""
    return {"format": FORMAT, "version": VERSION, "profile": profile, "host": host,
            "fingerprint": run_fingerprint(machine_info)["id"],
            "current": {"commit": commit, "datetime": datetime, "source": source},
            "outcome": outcome, "baselines": list(baselines),
            "rows": [{f: (_finite(r.get(f)) if f in ("ratio", "limit", "current_s", "reference_s") else r.get(f))
                      for f in ROW_FIELDS} for r in rows]}


def gate_record(result, profile: str) -> dict:
    """The record of a :class:`reports.gate.GateResult`."""
    from dataclasses import asdict

    current = result.current
    return verdict_record(profile=profile, host=result.baselines[-1].machine_id, machine_info=current.machine_info,
                          commit=current.commit, datetime=current.datetime, source=current.source,
                          outcome=result.outcome, baselines=[e.id for e in result.baselines],
                          rows=[asdict(r) for r in result.rows])


def record_name(record: Mapping) -> str:
    """``verdict-<datetime>-<commit>-<host hash>.json``: one file per judged run and host."""
    cur = record["current"]
    stamp = re.sub(r"[^0-9T]", "", str(cur.get("datetime") or "").split(".")[0].split("+")[0]) or "undated"
    commit = re.sub(r"[^0-9A-Za-z]", "", str(cur.get("commit") or "nocommit"))[:10]
    host = hashlib.sha256(str(record["host"]).encode()).hexdigest()[:6]
    return f"verdict-{stamp}-{commit}-{host}.json"


def write_record(record: Mapping, storage: Path | str) -> Path:
    """Write ``record`` to ``<storage>/verdicts/`` (``storage``: the profile's history folder)."""
    folder = Path(storage) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / record_name(record)
    # a new file renamed into place: a link planted at the name in a shared history is replaced, not followed
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".verdict-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(record, indent=1, allow_nan=False))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_gate_verdicts(result, storage: Path | str, profile: str) -> Path:
    """Keep a gate run's verdicts beside the history it judged against; returns the file written.
    ``storage`` is the profile's storage folder (``results/history/<profile>``)."""
    return write_record(gate_record(result, profile), storage)


def read_record(path: Path | str) -> dict:
    """One verdict record, checked; VerdictError naming the file and field otherwise."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise VerdictError(f"{path}: cannot read ({e.strerror})") from None
    except json.JSONDecodeError as e:
        raise VerdictError(f"{path}: malformed JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise VerdictError(f"{path}: not a verdict record (field 'format' is not {FORMAT!r})")
    if doc.get("version") != VERSION:
        raise VerdictError(f"{path}: field 'version' is {doc.get('version')!r}; this reader knows {VERSION}")
    for field, kind in (("profile", str), ("host", str), ("fingerprint", str), ("current", dict), ("rows", list)):
        if not isinstance(doc.get(field), kind):
            raise VerdictError(f"{path}: field {field!r} missing or not a {kind.__name__}")
    for i, row in enumerate(doc["rows"]):
        if not isinstance(row, dict) or not isinstance(row.get("name"), str) or not isinstance(row.get("verdict"), str):
            raise VerdictError(f"{path}: rows[{i}] needs a 'name' and a 'verdict'")
    return doc


def read_records(storage: Path | str) -> list[dict]:
    """Every verdict record under ``<storage>/verdicts/``, oldest name first ([] when there is none)."""
    folder = Path(storage) / FOLDER
    return [read_record(p) for p in sorted(folder.glob("verdict-*.json"))] if folder.is_dir() else []
