"""Regression gate: the current run against the latest saved run of the same profile on this host.

CI use (see docs/reports.md): on the main branch save a baseline with
``--benchmark-autosave --benchmark-storage=file://./results/history/<profile>``; on a
change run the same cases with ``--benchmark-json=<current>`` and call
``python -m costmodel gate --profile <profile> --storage results/history --current <current>``.

Exit 0: no significant slowdown beyond the factor; 1: at least one; 2: no baseline,
unreadable input, or a current run from another profile or preset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .compare import (EXIT_BAD_INPUT, RENDERERS, CompareError, Comparison, Outcome, add_gate_options,
                      check_format, compare_runs, comparison_dict, gate_config, load_run)
from .history import ENTRY_NAME, HistoryEntry, HistoryError, list_runs, profile_storage


@dataclass(frozen=True)
class GateResult:
    baseline: HistoryEntry
    comparison: Comparison


def _machine_id_of(current: Path, root: Path) -> str | None:
    """The host folder (``[hostname/]machine-id``) ``current`` sits in, if it is a history entry under ``root``."""
    try:
        rel = current.resolve().relative_to(root.resolve())
    except ValueError:
        return None
    if len(rel.parts) in (2, 3) and ENTRY_NAME.match(rel.parts[-1]):
        return "/".join(rel.parts[:-1])
    return None


def latest_baseline(storage: Path | str, profile: str, machine_id: str | None = None,
                    exclude: Path | None = None) -> HistoryEntry:
    """The newest saved run of ``profile`` on ``machine_id`` (other than ``exclude``)."""
    root = profile_storage(storage, profile)
    try:
        entries = list_runs(root, profile=profile, machine_id=machine_id)
    except HistoryError as exc:
        raise HistoryError(f"no baseline for profile {profile!r}: {exc}") from exc
    if exclude is not None:
        entries = [e for e in entries if e.path.resolve() != exclude.resolve()]
    if not entries:
        raise HistoryError(f"no baseline for profile {profile!r} in {root}: the only saved run is the current one")
    return entries[-1]


def gate(profile: str, storage: Path | str, current: Path | str, *, machine_id: str | None = None,
         config=None) -> GateResult:
    """Compare ``current`` with the latest baseline; raises CompareError on bad input."""
    current_run = load_run(current)
    if current_run.profile != profile:
        raise CompareError(f"{current}: recorded for profile {current_run.profile!r}, not {profile!r}")
    root = profile_storage(storage, profile)
    if machine_id is None:
        machine_id = _machine_id_of(Path(current), root)
    baseline = latest_baseline(root, profile, machine_id, exclude=Path(current))
    return GateResult(baseline, compare_runs(baseline.run, current_run, config))


def run_gate(profile: str, storage: str, current: str, *, machine_id: str | None = None,
             config: str | None = None, factor: float | None = None, alpha: float | None = None,
             min_rounds: int | None = None, format: str = "text") -> Outcome:
    """``gate`` without argparse."""
    check_format(format)
    try:
        cfg = gate_config(config, factor, alpha, min_rounds)
        result = gate(profile, storage, current, machine_id=machine_id, config=cfg)
    except (CompareError, ValueError) as exc:
        return Outcome((), EXIT_BAD_INPUT, f"gate: {exc}")
    comparison = result.comparison
    if format == "json":
        doc = {"baseline": {"id": result.baseline.id, "path": str(result.baseline.path),
                            "machine_id": result.baseline.machine_id}, **comparison_dict(comparison)}
        lines = json.dumps(doc, indent=2, default=str).splitlines()
    else:
        lines = [f"gate: profile {profile}, baseline {result.baseline.id} ({result.baseline.machine_id})",
                 *RENDERERS["text"](comparison)]
    return Outcome(tuple(lines), comparison.exit_code)


def add_parser(subparsers) -> None:
    """Register ``gate`` on the costmodel CLI."""
    p = subparsers.add_parser("gate", help="fail on a significant slowdown against the latest saved run")
    p.add_argument("--profile", required=True, help="profile of the current run (required)")
    p.add_argument("--storage", required=True,
                   help="history storage: results/history or results/history/<profile> (required)")
    p.add_argument("--current", required=True, help="pytest-benchmark JSON of the run under test (required)")
    p.add_argument("--machine-id", default=None,
                   help="host folder of the baseline: machine id, hostname or hostname/machine-id "
                        "(default: the current entry's, the only one, else this host's)")
    add_gate_options(p)


def run(args) -> Outcome:
    return run_gate(args.profile, args.storage, args.current, machine_id=args.machine_id, config=args.config,
                    factor=args.factor, alpha=args.alpha, min_rounds=args.min_rounds, format=args.format)
