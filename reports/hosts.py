"""Several machines side by side: one profile's history, grouped by hardware fingerprint.

A machine here is a fingerprint (:mod:`harness.fingerprint`: CPU, the ISA features that change
kernels, the CPUs, memory limit and CPU quota the profile enforced, VM or not), not a hostname: CI
runners share names, and one host under two names is still one machine. Every host folder of the
profile's storage is read (:func:`reports.storage.store_entries`: a bad file skipped with a warning,
the same run copied twice counted once), and its runs grouped by fingerprint.

Per machine, the runs compared are its newest ``runs`` (default 5) of the preset and case set of
its newest run. Per case, each machine shows the median of its run medians and the between-run
spread (the geometric standard deviation of the run medians, as a percentage), and its ratio to the
reference machine (``--baseline``; default the machine with most runs) with a 95 % interval from
both machines' between-run variances (:func:`reports.stats.machine_ratio`). What is not the same
workload is marked and never silently compared: another preset has no ratio; another case set or
other library versions (TensorFlow, LiteRT, numpy) keep their ratios, marked.

Loading is :mod:`reports.storage`'s; this module compares loaded entries (:func:`compare_hosts`),
formats them (:data:`RENDERERS`) and draws one figure per operation (:func:`hosts_figures`).
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from harness.fingerprint import describe, library_versions

from .model import HistoryEntry, ResultsError
from .render import fmt_time, format_table, short_name
from .stats import DEFAULT_CONFIDENCE, MachineRatio, machine_ratio
from .storage import fingerprint_collisions, group_by_fingerprint

DEFAULT_RUNS = 5
CASE_MARKERS = ("o", "s", "^", "D")


def _case_color(i: int):
    from matplotlib import colormaps

    return colormaps["tab20"](i)


class OneMachine(ResultsError):
    """The history holds the runs of one machine only: nothing to put side by side."""


@dataclass(frozen=True)
class Machine:
    """One fingerprint's runs: ``entries`` the newest ones compared, ``total`` all it has."""

    id: str
    fingerprint: Mapping
    hosts: tuple[str, ...]
    entries: tuple[HistoryEntry, ...]
    total: int
    preset: str
    versions: Mapping

    @property
    def description(self) -> str:
        return describe(self.fingerprint)


@dataclass(frozen=True)
class Cell:
    """One case on one machine: ``medians_s`` its run medians; ``ratio`` against the reference."""

    case: str
    operation: str
    machine: str
    medians_s: tuple[float, ...]
    ratio: MachineRatio | None
    marks: tuple[str, ...]

    @property
    def median_s(self) -> float | None:
        return float(np.median(self.medians_s)) if self.medians_s else None

    @property
    def spread(self) -> float | None:
        """Geometric standard deviation of the run medians less one (0.05: runs differ by ~5 %)."""
        if len(self.medians_s) < 2:
            return None
        return math.exp(float(np.std(np.log(self.medians_s), ddof=1))) - 1


@dataclass(frozen=True)
class HostsComparison:
    profile: str | None
    reference: str
    machines: tuple[Machine, ...]
    cells: tuple[Cell, ...]
    warnings: tuple[str, ...]
    confidence: float


def _machine(fid: str, entries: list[HistoryEntry], runs: int) -> Machine:
    newest = entries[-1].run
    same = [e for e in entries if e.run.presets == newest.presets and e.run.case_set == newest.case_set]
    chosen = tuple(same[-runs:])
    return Machine(fid, newest.fingerprint, tuple(sorted({e.machine_id for e in entries})), chosen, len(entries),
                   ",".join(newest.presets) or "-", library_versions(newest.machine_info))


def pick_reference(machines: Sequence[Machine], baseline: str | None) -> Machine:
    """The machine named by ``baseline`` (its fingerprint id, a unique prefix of it, or a host folder or
    hostname only its runs use), else the one with most runs. ResultsError naming the machines otherwise."""
    if baseline is None:
        return max(machines, key=lambda m: (m.total, -machines.index(m)))
    found = [m for m in machines if m.id.startswith(baseline)
             or any(baseline in (h, h.split("/")[0]) for h in m.hosts)]
    if len(found) == 1:
        return found[0]
    known = "; ".join(f"{m.id} ({', '.join(m.hosts)}: {m.description})" for m in machines)
    what = "no machine" if not found else f"{len(found)} machines"
    raise ResultsError(f"--baseline {baseline}: {what} in this history match; the machines are: {known}")


def _medians(m: Machine) -> tuple[dict[str, list[float]], dict[str, str]]:
    """case -> the run medians [s] of machine ``m``, and case -> operation."""
    medians: dict[str, list[float]] = {}
    operations: dict[str, str] = {}
    for e in m.entries:
        for b in e.run.benchmarks:
            medians.setdefault(b.key, []).append(b.median_s)
            operations[b.key] = b.operation
    return medians, operations


def _workload_marks(m: Machine, ref: Machine) -> list[str]:
    """How machine ``m``'s workload differs from the reference's: preset, case set, library versions."""
    marks = []
    if m.preset != ref.preset:
        marks.append(f"preset {m.preset}, reference {ref.preset}: not compared")
    if m.entries[-1].run.case_set != ref.entries[-1].run.case_set:
        marks.append("case set differs from the reference's")
    differ = [f"{k} {m.versions.get(k)} vs {ref.versions.get(k)}" for k in m.versions
              if m.versions.get(k) != ref.versions.get(k)]
    if differ:
        marks.append("library versions differ: " + ", ".join(differ))
    return marks


def compare_hosts(entries: list[HistoryEntry], *, profile: str | None = None, baseline: str | None = None,
                  runs: int = DEFAULT_RUNS, warnings: Sequence[str] = (),
                  confidence: float = DEFAULT_CONFIDENCE) -> HostsComparison:
    """Every machine of ``entries`` (oldest first) against the reference machine, case by case.
    :class:`OneMachine` when they hold one fingerprint; ResultsError for a ``baseline`` that names none."""
    if runs < 1:
        raise ResultsError(f"--runs must be at least 1, got {runs}")
    groups = group_by_fingerprint(entries)
    if not groups:
        raise ResultsError("no saved runs to compare")
    warnings = list(warnings) + fingerprint_collisions(groups)
    machines = [_machine(fid, members, runs) for fid, members in groups.items()]
    if len(machines) == 1:
        m = machines[0]
        raise OneMachine("; ".join([f"one machine only in this history: {m.id} ({m.description}; {m.total} run(s) "
                                    f"under {', '.join(m.hosts)}): nothing to compare it with"] + warnings))
    ref = pick_reference(machines, baseline)
    machines = [ref] + [m for m in machines if m is not ref]
    ref_medians, _ = _medians(ref)
    cells = []
    for m in machines:
        medians_by_case, operations = _medians(m)
        common = [] if m is ref else _workload_marks(m, ref)
        for case, medians in medians_by_case.items():
            marks, ratio = list(common), None
            if m is ref:
                pass  # the reference against itself is no comparison: its spread says its noise
            elif case not in ref_medians:
                marks.append("not on the reference machine")
            elif m.preset == ref.preset and any(v > 0 for v in medians) and any(v > 0 for v in ref_medians[case]):
                ratio = machine_ratio(medians, ref_medians[case], confidence)
            cells.append(Cell(case, operations[case], m.id, tuple(medians), ratio, tuple(marks)))
    return HostsComparison(profile, ref.id, tuple(machines), tuple(cells), tuple(warnings), confidence)


# ---- formatting -------------------------------------------------------------------------------

def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _ratio(r: MachineRatio | None) -> tuple[str, str]:
    if r is None:
        return "-", "-"
    interval = "-" if r.low is None else f"{r.low:.3f}-{r.high:.3f}"
    return f"{r.ratio:.3f}", interval


def _machine_rows(cmp: HostsComparison) -> list[tuple[str, ...]]:
    rows = [("machine", "reference", "runs used/all", "preset", "hosts", "hardware", "TensorFlow/LiteRT/numpy")]
    for m in cmp.machines:
        rows.append((m.id, "yes" if m.id == cmp.reference else "", f"{len(m.entries)}/{m.total}", m.preset,
                     ", ".join(m.hosts), m.description, "/".join(str(v or "-") for v in m.versions.values())))
    return rows


def _cell_rows(cmp: HostsComparison) -> list[tuple[str, ...]]:
    level = f"{100 * cmp.confidence:g} % interval"
    rows = [("case", "machine", "runs", "median", "between-run spread", "ratio", level, "marks")]
    for c in sorted(cmp.cells, key=lambda c: (c.operation, c.case)):
        ratio, interval = _ratio(c.ratio)
        rows.append((short_name(c.case), c.machine, str(len(c.medians_s)), fmt_time(c.median_s), _pct(c.spread),
                     ratio, interval, "; ".join(c.marks)))
    return rows


def format_text(cmp: HostsComparison) -> list[str]:
    head = (f"profile {cmp.profile or '-'}: {len(cmp.machines)} machines; ratio = time on the machine / time on "
            f"reference {cmp.reference} (ratio of geometric means of run medians, Welch t interval)")
    lines = [head, ""] + format_table(_machine_rows(cmp), left=tuple(range(7))) + [""]
    lines += format_table(_cell_rows(cmp), left=(0, 1, 7))
    return lines + [f"warning: {w}" for w in cmp.warnings]


def format_markdown(cmp: HostsComparison) -> list[str]:
    def table(rows):
        return ["| " + " | ".join(c.replace("|", "\\|") for c in rows[0]) + " |",
                "|" + "|".join("---" for _ in rows[0]) + "|"] + [
            "| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows[1:]]
    lines = [f"Profile {cmp.profile or '-'}: {len(cmp.machines)} machines, reference {cmp.reference}.", ""]
    lines += table(_machine_rows(cmp)) + [""] + table(_cell_rows(cmp))
    return lines + ([""] + [f"- warning: {w}" for w in cmp.warnings] if cmp.warnings else [])


def result_dict(cmp: HostsComparison) -> dict:
    return {
        "profile": cmp.profile, "reference": cmp.reference, "confidence": cmp.confidence,
        "machines": [{"id": m.id, "fingerprint": dict(m.fingerprint), "hosts": list(m.hosts),
                      "runs_used": len(m.entries), "runs": m.total, "preset": m.preset, "versions": dict(m.versions),
                      "entries": [str(e.path) for e in m.entries]} for m in cmp.machines],
        "cases": [{"case": c.case, "operation": c.operation, "machine": c.machine, "medians_s": list(c.medians_s),
                   "median_s": c.median_s, "spread": c.spread,
                   "ratio": None if c.ratio is None else c.ratio.ratio,
                   "low": None if c.ratio is None else c.ratio.low,
                   "high": None if c.ratio is None else c.ratio.high, "marks": list(c.marks)} for c in cmp.cells],
        "warnings": list(cmp.warnings),
    }


def format_json(cmp: HostsComparison) -> list[str]:
    return json.dumps(result_dict(cmp), indent=2).splitlines()


def format_csv(cmp: HostsComparison) -> list[str]:
    """One row per case and machine; warnings first, as ``#`` comment lines."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["case", "operation", "machine", "reference", "runs", "median_s", "spread", "ratio", "low", "high",
                "marks"])
    for c in cmp.cells:
        r = c.ratio
        w.writerow([c.case, c.operation, c.machine, cmp.reference, len(c.medians_s), c.median_s,
                    "" if c.spread is None else c.spread, "" if r is None else r.ratio,
                    "" if r is None or r.low is None else r.low, "" if r is None or r.high is None else r.high,
                    "; ".join(c.marks)])
    return [f"# warning: {x}" for x in cmp.warnings] + buf.getvalue().splitlines()


RENDERERS = {"text": format_text, "markdown": format_markdown, "csv": format_csv, "json": format_json}


# ---- figures ----------------------------------------------------------------------------------

def hosts_figures(cmp: HostsComparison) -> dict:
    """operation -> Figure: each machine's ratio to the reference per case, machines on the x axis, the
    interval as an error bar (a case without an interval is a hollow marker), log y axis, 1 dashed."""
    from matplotlib.figure import Figure

    figures = {}
    machines = [m.id for m in cmp.machines]
    for op in sorted({c.operation for c in cmp.cells}):
        cases = sorted({c.case for c in cmp.cells if c.operation == op})
        fig = Figure(figsize=(max(4.0, 1.6 * len(machines)) + 3.5, 4.6), dpi=120)
        fig.subplots_adjust(left=0.1, right=0.58, bottom=0.2, top=0.9)
        ax = fig.add_subplot()
        width = 0.7 / max(1, len(cases))
        for i, case in enumerate(cases):
            labelled = False
            style = dict(color=_case_color(i % 20), marker=CASE_MARKERS[(i // 20) % len(CASE_MARKERS)])
            for j, mid in enumerate(machines):
                cell = next((c for c in cmp.cells if c.case == case and c.machine == mid), None)
                if cell is None or cell.ratio is None:
                    continue
                x = j - 0.35 + (i + 0.5) * width
                r = cell.ratio
                if r.low is None:
                    ax.plot([x], [r.ratio], mfc="none", linestyle="none", **style)
                else:
                    ax.errorbar([x], [r.ratio], yerr=[[r.ratio - r.low], [r.high - r.ratio]], linestyle="none",
                                capsize=2, label=None if labelled else short_name(case), **style)
                    labelled = True
        ax.axhline(1.0, color="black", linestyle="--", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xticks(range(len(machines)), [f"{m}\n(reference)" if m == cmp.reference else m for m in machines],
                      fontsize=7)
        ax.set_xlabel("machine (fingerprint)")
        ax.set_ylabel(f"time / reference time ({100 * cmp.confidence:g} % interval)")
        ax.set_title(f"{op}: machines against {cmp.reference} -- profile {cmp.profile or '-'}", fontsize=9)
        ax.grid(True, alpha=0.3, which="both")
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            fig.legend(handles, labels, loc="center left", bbox_to_anchor=(0.6, 0.5), fontsize=6, frameon=False)
        figures[op] = fig
    return figures
