"""Compare two benchmark runs, as ``asv compare`` does, and decide whether one regressed.

A run is a pytest-benchmark JSON document: a ``--benchmark-json`` file or a
history entry ``<storage>/<machine-id>/NNNN_*.json`` (``--benchmark-storage``),
addressed by its path or by its number (``0003``) within a storage folder.

Per benchmark (matched by ``fullname``, else ``name``) the comparison gives the
median ratio B/A, a two-sided Mann-Whitney U test on the raw round times
(``stats.data``, saved with ``--benchmark-save-data``) and a mark:

====  =====================================================================
mark  meaning
====  =====================================================================
``+`` slower beyond the factor and significant: a regression
``-`` faster beyond the factor and significant: an improvement
``~`` beyond the factor either way, but not significant
`` `` within the factor
``?`` not enough data (fewer than ``min_rounds`` rounds, or no raw data)
``!`` runs from different profiles/presets compared on request: ratio only
====  =====================================================================

Only ``+`` fails a comparison. The factor defaults to 1.10 and may be set per
operation (``extra_info["operation"]``) in ``pyproject.toml``::

    [tool.continuum-bench.gate]
    factor = 1.10
    alpha = 0.05
    min_rounds = 5

    [tool.continuum-bench.gate.factors]
    inference = 1.05
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Mapping

import numpy as np
from scipy import stats as sps

DEFAULT_FACTOR = 1.10
DEFAULT_ALPHA = 0.05
DEFAULT_MIN_ROUNDS = 5
DEFAULT_BASELINE_RUNS = 5
DEFAULT_MIN_BASELINE_RUNS = 3
CONFIG_TABLE = ("tool", "continuum-bench", "gate")
HISTORY_ID = re.compile(r"^\d{4}$")

MARK_SLOWER = "+"
MARK_FASTER = "-"
MARK_NOT_SIGNIFICANT = "~"
MARK_SAME = " "
MARK_NO_DATA = "?"
MARK_MISMATCH = "!"

#: Exit codes of the compare and gate commands.
EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_BAD_INPUT = 2


class CompareError(ValueError):
    """A run that cannot be read or compared; the message says which and why."""


class MismatchError(CompareError):
    """Two runs from different profiles or presets compared without ``allow_mismatch``."""


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of a comparison.

    factor: median ratio B/A beyond which a change counts [unitless, > 1]
    alpha: significance level of the Mann-Whitney U test [0 < alpha < 1]
    min_rounds: fewest rounds in either run for a verdict [>= 2]
    factors: per-operation factor overriding ``factor`` (e.g. ``{"inference": 1.05}``)
    baseline_runs: the gate's baseline, the newest saved runs of the profile [>= 2]
    min_baseline_runs: fewest baseline runs for a gate verdict [2 <= n <= baseline_runs]
    """

    factor: float = DEFAULT_FACTOR
    alpha: float = DEFAULT_ALPHA
    min_rounds: int = DEFAULT_MIN_ROUNDS
    factors: Mapping[str, float] = field(default_factory=dict)
    baseline_runs: int = DEFAULT_BASELINE_RUNS
    min_baseline_runs: int = DEFAULT_MIN_BASELINE_RUNS

    def __post_init__(self) -> None:
        for name, value in [("factor", self.factor), *((f"factors.{k}", v) for k, v in self.factors.items())]:
            if not isinstance(value, (int, float)) or not value > 1.0:
                raise ValueError(f"gate {name} must be a number > 1, got {value!r}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"gate alpha must be in (0, 1), got {self.alpha!r}")
        if not isinstance(self.min_rounds, int) or self.min_rounds < 2:
            raise ValueError(f"gate min_rounds must be an integer >= 2, got {self.min_rounds!r}")
        if not isinstance(self.min_baseline_runs, int) or self.min_baseline_runs < 2:
            raise ValueError(f"gate min_baseline_runs must be an integer >= 2 (one run cannot show the "
                             f"between-run noise), got {self.min_baseline_runs!r}")
        if not isinstance(self.baseline_runs, int) or self.baseline_runs < self.min_baseline_runs:
            raise ValueError(f"gate baseline_runs must be an integer >= min_baseline_runs "
                             f"({self.min_baseline_runs}), got {self.baseline_runs!r}")

    def factor_for(self, operation: str | None) -> float:
        return float(self.factors.get(operation, self.factor)) if operation else float(self.factor)


def load_gate_config(pyproject: Path | str | None = None) -> GateConfig:
    """Read ``[tool.continuum-bench.gate]`` from ``pyproject`` (default: ./pyproject.toml).

    A missing file or table gives the defaults; unknown keys are a ValueError.
    """
    path = Path(pyproject) if pyproject is not None else Path("pyproject.toml")
    if not path.is_file():
        if pyproject is not None:
            raise CompareError(f"{path}: configuration file not found")
        return GateConfig()
    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise CompareError(f"{path}: not valid TOML ({exc})") from exc
    table = doc
    for key in CONFIG_TABLE:
        table = table.get(key, {})
    allowed = {"factor", "alpha", "min_rounds", "factors", "baseline_runs", "min_baseline_runs"}
    unknown = set(table) - allowed
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {sorted(unknown)} in [{'.'.join(CONFIG_TABLE)}]; allowed: {sorted(allowed)}")
    return GateConfig(**table)


# --------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class Run:
    """One benchmark run: where it came from and its benchmarks by key."""

    source: str
    profile: str | None
    presets: tuple[str, ...]
    commit: str | None
    datetime: str | None
    benchmarks: Mapping[str, dict]
    machine_info: Mapping

    @property
    def label(self) -> str:
        return self.source


def resolve_run_path(ref: str | Path, storage: Path | str | None = None) -> Path:
    """Path of a run given as a file path or as a history id (``0003``) within ``storage``.

    ``storage`` is a pytest-benchmark storage folder (holding ``[<hostname>/]<machine-id>/``
    folders) or one such host folder.
    """
    path = Path(ref)
    if path.is_file():
        return path
    if HISTORY_ID.match(str(ref)):
        if storage is None:
            raise CompareError(f"{ref!r} looks like a history id: give the storage folder with --storage")
        root = Path(storage)
        if not root.is_dir():
            raise CompareError(f"{root}: history storage folder not found")
        found = sorted({p for pattern in (f"{ref}_*.json", f"*/{ref}_*.json", f"*/*/{ref}_*.json")
                        for p in root.glob(pattern)})
        if not found:
            raise CompareError(f"history entry {ref} not found under {root}")
        if len(found) > 1:
            listing = ", ".join(str(p) for p in found)
            raise CompareError(f"history entry {ref} is ambiguous under {root} ({listing}): give its path")
        return found[0]
    if path.exists():
        raise CompareError(f"{path}: not a file")
    raise CompareError(f"{path}: run not found (neither a file nor a history id like 0003)")


def benchmark_key(bench: Mapping) -> str:
    return str(bench.get("fullname") or bench.get("name"))


def parse_run(doc: Mapping, source: str) -> Run:
    """Validate a pytest-benchmark document and index its benchmarks."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("benchmarks"), list):
        raise CompareError(f"{source}: not a pytest-benchmark JSON document (no 'benchmarks' list)")
    if not doc["benchmarks"]:
        raise CompareError(f"{source}: holds no benchmarks")
    benchmarks: dict[str, dict] = {}
    for i, bench in enumerate(doc["benchmarks"]):
        if not isinstance(bench, Mapping) or not (bench.get("fullname") or bench.get("name")):
            raise CompareError(f"{source}: benchmarks[{i}] has no name")
        if not isinstance(bench.get("stats"), Mapping) or "median" not in bench["stats"]:
            raise CompareError(f"{source}: benchmark {benchmark_key(bench)!r} has no stats.median")
        benchmarks[benchmark_key(bench)] = dict(bench)
    machine_info = doc.get("machine_info") or {}
    continuum = machine_info.get("continuum") or {}
    profile = (continuum.get("profile") or {}).get("name")
    presets = sorted({str(b.get("extra_info", {}).get("preset")) for b in benchmarks.values()
                      if b.get("extra_info", {}).get("preset") is not None})
    commit = (doc.get("commit_info") or {}).get("id")
    return Run(source, profile, tuple(presets), commit, doc.get("datetime"), benchmarks, machine_info)


def load_run(ref: str | Path, storage: Path | str | None = None) -> Run:
    """Read a run from a path or a history id; errors name the file."""
    path = resolve_run_path(ref, storage)
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CompareError(f"{path}: malformed JSON ({exc.msg} at line {exc.lineno})") from exc
    except OSError as exc:
        raise CompareError(f"{path}: cannot read ({exc.strerror})") from exc
    return parse_run(doc, str(path))


# --------------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class BenchmarkComparison:
    """One benchmark in both runs. Times in seconds; ratio = median_b / median_a."""

    name: str
    operation: str | None
    median_a_s: float | None
    median_b_s: float | None
    ratio: float | None
    p_value: float | None
    rounds_a: int
    rounds_b: int
    factor: float
    mark: str
    verdict: str  # regression, improvement, not significant, no change, not enough data, no verdict, only in A, only in B


@dataclass(frozen=True)
class Comparison:
    a: Run
    b: Run
    config: GateConfig
    rows: tuple[BenchmarkComparison, ...]
    mismatch: tuple[str, ...] = ()

    @property
    def regressions(self) -> tuple[BenchmarkComparison, ...]:
        return tuple(r for r in self.rows if r.verdict == "regression")

    @property
    def failed(self) -> bool:
        return bool(self.regressions)

    @property
    def exit_code(self) -> int:
        return EXIT_REGRESSION if self.failed else EXIT_OK


def run_mismatch(a: Run, b: Run) -> tuple[str, ...]:
    """Why two runs are not comparable (different profile or preset); empty when they are."""
    reasons = []
    if a.profile != b.profile:
        reasons.append(f"profile {a.profile!r} in A vs {b.profile!r} in B")
    if a.presets != b.presets:
        reasons.append(f"preset {', '.join(a.presets) or None!r} in A vs {', '.join(b.presets) or None!r} in B")
    return tuple(reasons)


def _raw_rounds(bench: Mapping) -> np.ndarray:
    data = bench.get("stats", {}).get("data")
    return np.asarray(data if data else [], dtype=float)


def mann_whitney_p(a: np.ndarray, b: np.ndarray, alternative: str = "two-sided") -> float:
    """Mann-Whitney U p-value (``alternative="greater"``: ``a`` tends to be larger than ``b``);
    1.0 where both samples are one constant."""
    if np.ptp(np.concatenate([a, b])) == 0.0:
        return 1.0
    p = float(sps.mannwhitneyu(a, b, alternative=alternative).pvalue)
    return 1.0 if math.isnan(p) else p


def compare_benchmark(name: str, bench_a: Mapping | None, bench_b: Mapping | None,
                      config: GateConfig, *, verdict_allowed: bool = True) -> BenchmarkComparison:
    """Compare one benchmark; either side may be missing."""
    info = (bench_b or bench_a or {}).get("extra_info", {})
    operation = info.get("operation")
    factor = config.factor_for(operation)
    data_a = _raw_rounds(bench_a) if bench_a else np.array([])
    data_b = _raw_rounds(bench_b) if bench_b else np.array([])
    med_a = float(bench_a["stats"]["median"]) if bench_a else None
    med_b = float(bench_b["stats"]["median"]) if bench_b else None
    rounds_a = int(bench_a["stats"].get("rounds", data_a.size)) if bench_a else 0
    rounds_b = int(bench_b["stats"].get("rounds", data_b.size)) if bench_b else 0
    common = dict(name=name, operation=operation, median_a_s=med_a, median_b_s=med_b,
                  rounds_a=rounds_a, rounds_b=rounds_b, factor=factor)
    if bench_a is None or bench_b is None:
        return BenchmarkComparison(**common, ratio=None, p_value=None, mark=" ",
                                   verdict="only in B" if bench_a is None else "only in A")
    ratio = med_b / med_a if med_a > 0 else math.inf
    if not verdict_allowed:
        return BenchmarkComparison(**common, ratio=ratio, p_value=None, mark=MARK_MISMATCH, verdict="no verdict")
    if min(data_a.size, data_b.size) < config.min_rounds:
        return BenchmarkComparison(**common, ratio=ratio, p_value=None, mark=MARK_NO_DATA, verdict="not enough data")
    p = mann_whitney_p(data_a, data_b)
    significant = p < config.alpha
    if ratio > factor:
        mark, verdict = (MARK_SLOWER, "regression") if significant else (MARK_NOT_SIGNIFICANT, "not significant")
    elif ratio < 1.0 / factor:
        mark, verdict = (MARK_FASTER, "improvement") if significant else (MARK_NOT_SIGNIFICANT, "not significant")
    else:
        mark, verdict = MARK_SAME, "no change"
    return BenchmarkComparison(**common, ratio=ratio, p_value=p, mark=mark, verdict=verdict)


def compare_runs(a: Run, b: Run, config: GateConfig | None = None, *, allow_mismatch: bool = False) -> Comparison:
    """Compare run B against run A (A is the baseline).

    Runs from different profiles or presets raise MismatchError unless
    ``allow_mismatch``; then every row has a ratio and no verdict.
    """
    config = config or GateConfig()
    mismatch = run_mismatch(a, b)
    if mismatch and not allow_mismatch:
        raise MismatchError(
            f"refusing to compare {a.source} with {b.source}: {'; '.join(mismatch)}. "
            "Pass --allow-mismatch to see the ratios without a verdict."
        )
    names = list(a.benchmarks) + [n for n in b.benchmarks if n not in a.benchmarks]
    rows = tuple(compare_benchmark(n, a.benchmarks.get(n), b.benchmarks.get(n), config,
                                   verdict_allowed=not mismatch) for n in names)
    if not any(r.ratio is not None for r in rows):
        raise CompareError(f"{a.source} and {b.source} have no benchmark in common")
    return Comparison(a, b, config, rows, mismatch)


# --------------------------------------------------------------------------- renderers


def _fmt_time(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(value) >= scale:
            return f"{value / scale:.3f} {unit}"
    return f"{value / 1e-9:.1f} ns"


def _short_name(name: str) -> str:
    return name.rsplit("::", 1)[-1]


def format_table(rows: list[tuple[str, ...]], left: tuple[int, ...]) -> list[str]:
    """Rows of cells as aligned text lines: columns in ``left`` left-aligned, the others right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) if i in left else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(row, widths))).rstrip() for row in rows]


def format_text(comparison: Comparison) -> list[str]:
    """The comparison as an asv-style text table, one line per benchmark, then a summary."""
    a, b = comparison.a, comparison.b
    lines = [f"A: {a.source} (profile {a.profile}, commit {(a.commit or '-')[:10]}, {a.datetime or '-'})",
             f"B: {b.source} (profile {b.profile}, commit {(b.commit or '-')[:10]}, {b.datetime or '-'})"]
    if comparison.mismatch:
        lines.append("MISMATCH: " + "; ".join(comparison.mismatch) + " -- ratios only, no verdict")
    rows = [("", "median A", "median B", "ratio", "p", "rounds", "factor", "verdict", "benchmark")]
    for r in comparison.rows:
        rows.append((r.mark, _fmt_time(r.median_a_s), _fmt_time(r.median_b_s),
                     "-" if r.ratio is None else f"{r.ratio:.3f}",
                     "-" if r.p_value is None else f"{r.p_value:.3g}",
                     f"{r.rounds_a}/{r.rounds_b}", f"{r.factor:.2f}", r.verdict, _short_name(r.name)))
    lines += format_table(rows, left=(0, 7, 8))
    counts = {}
    for r in comparison.rows:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    lines.append("")
    lines.append("summary: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())))
    if comparison.failed:
        lines.append(f"FAILED: {len(comparison.regressions)} significant slowdown(s) beyond the factor "
                     f"(alpha {comparison.config.alpha})")
    elif comparison.mismatch:
        lines.append("no verdict: the runs are from different profiles or presets")
    else:
        lines.append("OK: no significant slowdown beyond the factor")
    return lines


def comparison_dict(comparison: Comparison) -> dict:
    cfg = comparison.config
    return {
        "a": {"source": comparison.a.source, "profile": comparison.a.profile,
              "presets": list(comparison.a.presets), "commit": comparison.a.commit},
        "b": {"source": comparison.b.source, "profile": comparison.b.profile,
              "presets": list(comparison.b.presets), "commit": comparison.b.commit},
        "config": {"factor": cfg.factor, "alpha": cfg.alpha, "min_rounds": cfg.min_rounds,
                   "factors": dict(cfg.factors)},
        "mismatch": list(comparison.mismatch),
        "failed": comparison.failed,
        "rows": [asdict(r) for r in comparison.rows],
    }


def format_json(comparison: Comparison) -> list[str]:
    return json.dumps(comparison_dict(comparison), indent=2, allow_nan=False,
                      default=str).splitlines()


RENDERERS = {"text": format_text, "json": format_json}


# --------------------------------------------------------------------------- command


@dataclass(frozen=True)
class Outcome:
    """What a command produced: lines for stdout, an error for stderr, an exit code."""

    lines: tuple[str, ...]
    exit_code: int
    error: str | None = None


def gate_config(path: str | None = None, factor: float | None = None, alpha: float | None = None,
                min_rounds: int | None = None, **gate_keys: int | None) -> GateConfig:
    """The configuration file's thresholds (see :func:`load_gate_config`), with command-line overrides
    (``gate_keys``: ``baseline_runs``, ``min_baseline_runs``)."""
    config = load_gate_config(path)
    changes = {k: v for k, v in (("factor", factor), ("alpha", alpha), ("min_rounds", min_rounds),
                                 *gate_keys.items()) if v is not None}
    return replace(config, **changes) if changes else config


def check_format(format: str) -> None:
    if format not in RENDERERS:
        raise ValueError(f"format must be one of {sorted(RENDERERS)}, got {format!r}")


def run_compare(a: str, b: str, *, storage: str | None = None, allow_mismatch: bool = False,
                config: str | None = None, factor: float | None = None, alpha: float | None = None,
                min_rounds: int | None = None, format: str = "text") -> Outcome:
    """``compare A B`` without argparse. Exit 0 ok, 1 significant slowdown, 2 bad input or refused."""
    check_format(format)
    try:
        cfg = gate_config(config, factor, alpha, min_rounds)
        comparison = compare_runs(load_run(a, storage), load_run(b, storage), cfg, allow_mismatch=allow_mismatch)
    except (CompareError, ValueError) as exc:
        return Outcome((), EXIT_BAD_INPUT, str(exc))
    return Outcome(tuple(RENDERERS[format](comparison)), comparison.exit_code)


def add_gate_options(parser) -> None:
    parser.add_argument("--config", default=None,
                        help="TOML file with [tool.continuum-bench.gate] (default: ./pyproject.toml if present)")
    parser.add_argument("--factor", type=float, default=None,
                        help="median ratio beyond which a change counts, all operations (default: config, else 1.10)")
    parser.add_argument("--alpha", type=float, default=None,
                        help="significance level of the Mann-Whitney U test; for the gate also the chance "
                             "that an unchanged commit fails it (default: config, else 0.05)")
    parser.add_argument("--min-rounds", type=int, default=None,
                        help="fewest rounds in either run for a verdict (default: config, else 5)")
    parser.add_argument("--format", choices=sorted(RENDERERS), default="text", help="output format (default: text)")


def add_parser(subparsers) -> None:
    """Register ``compare`` on the costmodel CLI."""
    p = subparsers.add_parser("compare", help="compare two runs: median ratio, Mann-Whitney U, verdict",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("a", help="baseline run: a pytest-benchmark JSON file or a history id like 0003")
    p.add_argument("b", help="run compared with the baseline: a JSON file or a history id")
    p.add_argument("--storage", default=None,
                   help="pytest-benchmark storage folder where history ids are looked up (default: none)")
    p.add_argument("--allow-mismatch", action="store_true",
                   help="compare runs of different profiles or presets: ratios only, no verdict (default: refuse)")
    add_gate_options(p)


def run(args) -> Outcome:
    """CLI adapter: argparse namespace in, Outcome out (the caller prints and exits)."""
    return run_compare(args.a, args.b, storage=args.storage, allow_mismatch=args.allow_mismatch,
                       config=args.config, factor=args.factor, alpha=args.alpha,
                       min_rounds=args.min_rounds, format=args.format)
