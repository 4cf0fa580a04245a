"""Where a main job's wall time went, from each profile session's own record.

Every benchmark session saves its split (``machine_info.continuum_timing``,
written by ``harness/timing.py``): start-up, its session fixtures (TensorFlow's
import, the dataset, the base model, the background load) and per operation the
timed seconds against the set-up around them. This module puts the sessions of
one job side by side, adds them up and, when the sessions ran back to back (as
``tox -e device,edge-idle,edge-loaded`` runs them), names the time between them:
tox creating the next environment (the installs) and starting its process.
Pure: reads :class:`reports.model.Run` objects, returns lines; only the command
line prints them.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence

#: Session fixtures shown on their own line, with what they spend their time on.
FIXTURE_ROWS = (
    ("threads", "TensorFlow import"),
    ("dataset", "dataset"),
    ("base", "base model"),
    ("background_load", "background load start"),
)
#: The most seconds between one session's end and the next one's start that still count as one job.
BACK_TO_BACK_S = 600.0


def _timing(run) -> Mapping | None:
    timing = run.machine_info.get("continuum_timing") if isinstance(run.machine_info, Mapping) else None
    return timing if isinstance(timing, Mapping) and isinstance(timing.get("total_s"), (int, float)) else None


def _end(run) -> _dt.datetime | None:
    """When the session wrote its JSON (pytest-benchmark's ``datetime``, UTC)."""
    try:
        end = _dt.datetime.fromisoformat(str(run.datetime))
    except (TypeError, ValueError):
        return None
    return end if end.tzinfo else end.replace(tzinfo=_dt.timezone.utc)


def job_time_lines(runs: Sequence) -> list[str]:
    """Lines saying where each profile session's time went, and the job's, [s].

    Runs without a ``continuum_timing`` record (older files, counted runs) are left out;
    no line at all when none has one.
    """
    timed = [(run, _timing(run)) for run in runs]
    timed = [(run, t) for run, t in timed if t is not None]
    if not timed:
        return []
    timed.sort(key=lambda rt: _end(rt[0]) or _dt.datetime.max.replace(tzinfo=_dt.timezone.utc))
    names = [str(run.profile or run.source) for run, _ in timed]
    width = max(12, *(len(n) + 2 for n in names))
    header = f"  {'':<34}" + "".join(f"{n:>{width}}" for n in names) + f"{'all':>{width}}"
    lines = ["where the job's time went [s wall] (each session's machine_info.continuum_timing):", header]

    def row(label: str, values: list[float | None]) -> None:
        cells = "".join(f"{'-' if v is None else f'{v:.1f}':>{width}}" for v in values)
        known = [v for v in values if v is not None]
        lines.append(f"  {label:<34}{cells}" + (f"{sum(known):>{width}.1f}" if known else ""))

    row("session, process start to end", [t["total_s"] for _, t in timed])
    row("start-up (Python, pytest, profile)", [t.get("start_up_s") for _, t in timed])
    for key, label in FIXTURE_ROWS:
        values = [(t.get("fixtures_s") or {}).get(key) for _, t in timed]
        if any(v for v in values):
            row(label, values)
    operations: list[str] = []
    for _, t in timed:
        operations += [op for op in (t.get("operations") or {}) if op not in operations]
    for op in operations:
        entries = [(t.get("operations") or {}).get(op) or {} for _, t in timed]
        row(f"{op} timed", [e.get("timed_s") for e in entries])
        row(f"{op} set-up", [e.get("setup_s") for e in entries])
    row("other (teardown, results)", [t.get("other_s") for _, t in timed])

    gaps = _gaps(timed)
    if gaps is not None:
        lines.append(f"  between sessions (tox: the next environment's install, process start): "
                     f"{', '.join(f'{g:.1f}' for g in gaps)} s")
        first_start = _end(timed[0][0]) - _dt.timedelta(seconds=timed[0][1]["total_s"])
        span = (_end(timed[-1][0]) - first_start).total_seconds()
        lines.append(f"  first session's start to last session's end: {span:.1f} s "
                     f"(the first environment's install and the report: tox's summary lines)")
    elif len(timed) > 1:
        lines.append("  the sessions did not run back to back: no job span")
    return lines


def _gaps(timed) -> list[float] | None:
    """Seconds from each session's end to the next one's start, when all ran back to back."""
    ends = [_end(run) for run, _ in timed]
    if len(timed) < 2 or any(e is None for e in ends):
        return None
    gaps = []
    for end, (_, following), next_end in zip(ends, timed[1:], ends[1:]):
        gap = (next_end - _dt.timedelta(seconds=following["total_s"]) - end).total_seconds()
        if not 0 <= gap <= BACK_TO_BACK_S:
            return None
        gaps.append(gap)
    return gaps


__all__ = ["BACK_TO_BACK_S", "job_time_lines"]
