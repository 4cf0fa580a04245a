"""Saved runs of a profile on a host: list them, and one benchmark's median across them.

pytest-benchmark's file storage (``--benchmark-storage=file://./results/history/<profile>``
with ``--benchmark-autosave`` or ``--benchmark-save=NAME``) writes one JSON per run
as ``<storage>/<machine-id>/NNNN_<commit>_<datetime>[_uncommitted-changes].json``;
``<machine-id>`` is ``<system>-<implementation>-<python X.Y>-<bits>``, so histories of
different hosts (and profiles, one storage per profile) never mix.
"""

from __future__ import annotations

import json
import platform
import socket
from dataclasses import dataclass
from pathlib import Path

from .compare import EXIT_BAD_INPUT, EXIT_OK, CompareError, Outcome, Run, parse_run
from .figures import history_figure, save_figure
from .results import STORAGE_FILE as ENTRY_NAME  # NNNN_<anything>.json; group 1: the number


class HistoryError(CompareError):
    """A history folder or entry that is missing, empty or unreadable."""


@dataclass(frozen=True)
class HistoryEntry:
    """One saved run: ``id`` is its 4-digit number within the machine-id folder."""

    id: str
    path: Path
    machine_id: str
    commit: str | None
    datetime: str | None
    profile: str | None
    presets: tuple[str, ...]
    n_benchmarks: int
    run: Run

    @property
    def label(self) -> str:
        return f"{self.id}_{(self.commit or 'nocommit')[:7]}"


def current_machine_id() -> str:
    """This host's pytest-benchmark machine id (``pytest_benchmark.utils.get_machine_id``)."""
    return "{}-{}-{}-{}".format(platform.system(), platform.python_implementation(),
                                ".".join(platform.python_version_tuple()[:2]), platform.architecture()[0])


def current_host_keys() -> tuple[str, ...]:
    """This host's folder under a profile storage, most specific first: ``<hostname>/<machine-id>``
    (the suite's conftest adds the hostname) and plain ``<machine-id>``."""
    return (f"{socket.gethostname() or 'unknown-host'}/{current_machine_id()}", current_machine_id())


def profile_storage(storage: Path | str, profile: str | None = None) -> Path:
    """The storage folder of ``profile``: ``storage/<profile>`` where it exists, else ``storage``."""
    root = Path(storage)
    if profile and (root / profile).is_dir():
        return root / profile
    return root


def _has_entries(folder: Path) -> bool:
    return any(ENTRY_NAME.match(p.name) for p in folder.glob("*.json"))


def machine_ids(storage: Path | str) -> list[str]:
    """Host folders holding saved runs, relative to ``storage``: ``<machine-id>`` as pytest-benchmark
    writes them, or ``<hostname>/<machine-id>`` as the suite's conftest does."""
    root = Path(storage)
    if not root.is_dir():
        return []
    found = [p for p in root.glob("*") if p.is_dir() and _has_entries(p)]
    found += [p for p in root.glob("*/*") if p.is_dir() and _has_entries(p)]
    return sorted(p.relative_to(root).as_posix() for p in found)


def select_host(storage: Path | str, machine_id: str | None = None) -> str:
    """The host folder to read: ``machine_id`` (a machine id, a hostname, or ``hostname/machine-id``),
    else the only one, else this host's. HistoryError listing the hosts otherwise."""
    root = Path(storage)
    hosts = machine_ids(root)
    if not hosts:
        raise HistoryError(f"{root}: no saved runs (expected [<hostname>/]<machine-id>/NNNN_*.json; "
                           "save one with --benchmark-autosave)")
    if machine_id is not None:
        match = [h for h in hosts if machine_id in (h, h.split("/")[0], h.split("/")[-1])]
    elif len(hosts) == 1:
        match = hosts
    else:
        match = next(([h] for key in current_host_keys() for h in hosts if h == key), [])
    if len(match) != 1:
        asked = f"host {machine_id}" if machine_id else "this host"
        raise HistoryError(f"{root}: {'no' if not match else 'several'} saved run folders for {asked} "
                           f"(hosts with runs: {', '.join(hosts)}); choose one with --machine-id")
    return match[0]


def _read_entry(path: Path, machine_id: str) -> HistoryEntry:
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise HistoryError(f"{path}: malformed JSON ({exc.msg} at line {exc.lineno})") from exc
    run = parse_run(doc, str(path))
    return HistoryEntry(ENTRY_NAME.match(path.name)[1], path, machine_id, run.commit, run.datetime,
                        run.profile, run.presets, len(run.benchmarks), run)


def list_runs(storage: Path | str, *, profile: str | None = None,
              machine_id: str | None = None) -> list[HistoryEntry]:
    """Saved runs, oldest first, of one host (see :func:`select_host`).

    ``storage`` is the profile's storage folder or its parent (then ``storage/<profile>``).
    Entries recorded for another profile than ``profile`` are an error naming the file.
    """
    root = profile_storage(storage, profile)
    if not root.is_dir():
        raise HistoryError(f"{root}: history folder not found")
    host = select_host(root, machine_id)
    files = sorted(p for p in (root / host).glob("*.json") if ENTRY_NAME.match(p.name))
    entries = [_read_entry(p, host) for p in files]
    if profile:
        other = [e for e in entries if e.profile != profile]
        if other:
            raise HistoryError(f"{other[0].path}: recorded for profile {other[0].profile!r}, not {profile!r}")
    return entries


def find_entry(entries: list[HistoryEntry], entry_id: str) -> HistoryEntry:
    for e in entries:
        if e.id == entry_id:
            return e
    raise HistoryError(f"history entry {entry_id} not found (have {', '.join(e.id for e in entries)})")


def median_series(entries: list[HistoryEntry], benchmark: str) -> list[tuple[HistoryEntry, float]]:
    """(entry, median round time [s]) of ``benchmark`` (fullname or name) in each entry holding it."""
    out = []
    for e in entries:
        for key, bench in e.run.benchmarks.items():
            if benchmark in (key, bench.get("name")):
                out.append((e, float(bench["stats"]["median"])))
                break
    if not out:
        names = sorted({b.get("name") for e in entries for b in e.run.benchmarks.values()})
        raise HistoryError(f"no saved run holds benchmark {benchmark!r}; known: {', '.join(names)}")
    return out


def format_text(entries: list[HistoryEntry]) -> list[str]:
    rows = [("id", "commit", "datetime", "profile", "preset", "benchmarks", "file")]
    for e in entries:
        rows.append((e.id, (e.commit or "-")[:10], e.datetime or "-", e.profile or "-",
                     ",".join(e.presets) or "-", str(e.n_benchmarks), e.path.name))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    head = f"{len(entries)} saved run(s) on {entries[0].machine_id} in {entries[0].path.parent}"
    return [head] + ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def format_json(entries: list[HistoryEntry]) -> list[str]:
    doc = [{"id": e.id, "path": str(e.path), "machine_id": e.machine_id, "commit": e.commit,
            "datetime": e.datetime, "profile": e.profile, "presets": list(e.presets),
            "benchmarks": e.n_benchmarks} for e in entries]
    return json.dumps(doc, indent=2).splitlines()


RENDERERS = {"text": format_text, "json": format_json}


def plot_median_history(entries: list[HistoryEntry], benchmark: str, out: Path | str) -> list[Path]:
    """PNG (and SVG) of ``benchmark``'s median across ``entries``; returns the paths written."""
    series = median_series(entries, benchmark)
    profile = entries[0].profile or "?"
    fig = history_figure([e.label for e, _ in series], [m for _, m in series], benchmark,
                         title=f"{benchmark} -- profile {profile}, {entries[0].machine_id}")
    out = Path(out)
    if out.suffix in (".png", ".svg"):
        return save_figure(fig, out.with_suffix(""), [out.suffix.lstrip(".")])
    return save_figure(fig, out, ["png"])


def run_history(storage: str, *, profile: str | None = None, machine_id: str | None = None,
                benchmark: str | None = None, plot: str | None = None, format: str = "text"):
    """``history`` without argparse: list runs; with ``benchmark`` and ``plot``, also write the PNG."""
    if format not in RENDERERS:
        raise ValueError(f"format must be one of {sorted(RENDERERS)}, got {format!r}")
    if plot and not benchmark:
        return Outcome((), EXIT_BAD_INPUT, "--plot needs --benchmark NAME")
    try:
        entries = list_runs(storage, profile=profile, machine_id=machine_id)
        lines = list(RENDERERS[format](entries))
        if benchmark:
            series = median_series(entries, benchmark)
            if format == "text":
                lines += ["", f"median of {benchmark}:"]
                lines += [f"  {e.label}  {m * 1e3:.3f} ms" for e, m in series]
            if plot:
                paths = plot_median_history(entries, benchmark, plot)
                if format == "text":
                    lines.append("wrote " + ", ".join(str(p) for p in paths))
    except (CompareError, ValueError) as exc:
        return Outcome((), EXIT_BAD_INPUT, str(exc))
    return Outcome(tuple(lines), EXIT_OK)


def add_parser(subparsers) -> None:
    """Register ``history`` on the costmodel CLI."""
    p = subparsers.add_parser("history", help="list a profile's saved runs on a host; plot one benchmark's median")
    p.add_argument("--storage", required=True,
                   help="pytest-benchmark storage folder (results/history or results/history/<profile>) (required)")
    p.add_argument("--profile", default=None, help="profile whose runs to list (default: whatever storage holds)")
    p.add_argument("--machine-id", default=None,
                   help="host folder: a machine id (Linux-CPython-3.11-64bit), a hostname or both as "
                        "hostname/machine-id (default: the only one, else this host's)")
    p.add_argument("--benchmark", default=None, help="benchmark name or fullname to follow (default: none)")
    p.add_argument("--plot", default=None, help="write its median across runs to this PNG (default: no plot)")
    p.add_argument("--format", choices=sorted(RENDERERS), default="text", help="output format (default: text)")


def run(args):
    return run_history(args.storage, profile=args.profile, machine_id=args.machine_id,
                       benchmark=args.benchmark, plot=args.plot, format=args.format)
