"""Saved runs of a profile on a host: list them, and one benchmark's median across them.

The layout of the saved runs is :mod:`reports.storage`'s (``list_entries``); this module
only formats and plots what it reads.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.fingerprint import describe

from .render import format_table
from .storage import fingerprint_collisions, group_by_fingerprint
from .model import HistoryEntry, ResultsError


def median_series(entries: list[HistoryEntry], benchmark: str) -> list[tuple[HistoryEntry, float]]:
    """(entry, median round time [s]) of ``benchmark`` (fullname or name) in each entry holding it."""
    out = []
    for e in entries:
        found = [b for b in e.run.benchmarks if benchmark in (b.key, b.name)]
        if found:
            out.append((e, found[0].median_s))
    if not out:
        names = sorted({b.name for e in entries for b in e.run.benchmarks})
        raise ResultsError(f"no saved run holds benchmark {benchmark!r}; known: {', '.join(names)}")
    return out


def format_text(entries: list[HistoryEntry]) -> list[str]:
    rows = [("id", "commit", "datetime", "profile", "preset", "machine", "benchmarks", "valid", "file")]
    for e in entries:
        flag = "INVALID" if e.run.invalid else ("unenforced" if e.run.unenforced else "")
        rows.append((e.id, (e.run.commit or "-")[:10], e.run.datetime or "-", e.profile or "-",
                     ",".join(e.presets) or "-", e.run.fingerprint["id"], str(len(e.run.benchmarks)), flag,
                     e.path.name))
    head = f"{len(entries)} saved run(s) on {entries[0].machine_id} in {entries[0].path.parent}"
    machines = {e.run.fingerprint["id"]: e.run.fingerprint for e in entries}
    notes = [f"machine {fid}: {describe(fp)}" for fid, fp in machines.items()]
    if len(machines) > 1:  # one host folder, several machines: the gate never pools them
        notes.append(f"{len(machines)} machines (hardware fingerprints) under one host folder: compare them with "
                     f"continuum-bench hosts")
    notes += [f"warning: {w}" for w in fingerprint_collisions(group_by_fingerprint(entries))]
    return [head] + format_table(rows, left=tuple(range(len(rows[0])))) + notes


def format_json(entries: list[HistoryEntry]) -> list[str]:
    doc = [{"id": e.id, "path": str(e.path), "machine_id": e.machine_id, "commit": e.run.commit,
            "datetime": e.run.datetime, "profile": e.profile, "presets": list(e.presets),
            "fingerprint": e.run.fingerprint,
            "benchmarks": len(e.run.benchmarks), "invalid": list(e.run.invalid),
            "unenforced": list(e.run.unenforced)} for e in entries]
    return json.dumps(doc, indent=2).splitlines()


RENDERERS = {"text": format_text, "json": format_json}


def plot_median_history(entries: list[HistoryEntry], benchmark: str, out: Path | str) -> list[Path]:
    """PNG (and SVG) of ``benchmark``'s median across ``entries``; returns the paths written."""
    from .figures import history_figure, save_figure

    series = median_series(entries, benchmark)
    profile = entries[0].profile or "?"
    fig = history_figure([e.label for e, _ in series], [m for _, m in series], benchmark,
                         title=f"{benchmark} -- profile {profile}, {entries[0].machine_id}")
    out = Path(out)
    if out.suffix in (".png", ".svg"):
        return save_figure(fig, out.with_suffix(""), [out.suffix.lstrip(".")])
    return save_figure(fig, out, ["png"])
