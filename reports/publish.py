"""``continuum-bench publish``: a static dashboard of a history tree of many machines and profiles.

Input: a history tree, ``results/history/<profile>/[<hostname>/]<machine-id>/NNNN_*.json``
(:mod:`reports.storage`'s layout; a single profile's storage folder also works), and the gate's
verdict records beside it (``<profile>/verdicts/``, :mod:`reports.verdicts`).

Output: one folder that opens from disk (no server, nothing fetched): ``index.html`` (the page and
its script), ``data.js`` (the numbers). Per case, per machine and profile, it plots the median of
each commit (or each day) and its spread, marks the gate's verdicts where it judged, filters by
operation, profile, machine and case, and links every point to its run's JSON (a path relative to
the folder, so keep the folder beside the history or publish again).

Machines are hardware fingerprints (:mod:`harness.fingerprint`), not host names: two hosts of the
same hardware and limits are one machine; a host whose hardware changed becomes a second one.
A point is the median of the medians of the runs of one commit (or day) on one machine, its spread
the lowest first quartile to the highest third quartile of those runs' rounds (``stats.data``;
none when a run kept no rounds).

Why it scales: the page never holds a row per point. ``data.js`` carries, per series (machine,
profile, case), the medians and quartiles of every run as 16-bit codes on a log scale (steps of
at most 0.01 %), base64 in three strings; the page decodes the series it draws, a page of cases
at a time, on canvas. The runs are read through :mod:`reports.storage` (the one parser) by one
process per CPU, a host folder each; with a cache folder (``--cache``) each run's reading is
kept, keyed by its size and modification time, and publishing again reads only new runs.

Left out: counted runs (``counts``: instructions, not times), runs whose background load died and
runs with an injected slowdown (``allow_invalid`` shows the invalid ones; injected never); each is
named in the notes.
"""
from __future__ import annotations

import base64
import concurrent.futures
import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from harness.contract import OPERATIONS, PROFILES

from . import verdicts as V
from harness.fingerprint import describe, library_versions, run_fingerprint
from .model import COUNTS_PROFILE, ResultsError
from .storage import ENTRY_NAME, host_folders, parse_run, read_document

DATA_FILE = "data.js"
PAGE_FILE = "index.html"
ASSETS = Path(__file__).with_name("publish_assets")
MISSING = 0xFFFF  # the code of a run without the case
MAX_CODE = 0xFFFE
MIN_STEP = 1e-4  # log step of a code: 0.01 % of the value
#: verdict -> its code in data.js (the page's legend follows this order)
VERDICT_CODES = {"within noise": 0, "regression": 1, "improvement": 2, "not significant": 3,
                 "within threshold": 0}
#: host folders of fewer runs than this are read in this process: a pool costs more than it saves
POOL_MIN_FILES = 200
#: bumped when what read_entry returns changes: an older cache is read again from the runs
CACHE_VERSION = 1


class PublishError(ResultsError):
    """A history that cannot be published (none there, nothing readable, an output that is not a folder)."""


# ---- reading: one host folder of one profile's storage ------------------------------------

@dataclasses.dataclass
class FolderSummary:
    """What one host folder holds, reduced to what the page draws (times in seconds)."""

    storage: str
    host: str
    paths: list  # per run
    meta: list  # per run: (profile, commit, datetime, fingerprint, versions)
    keys: list  # case keys in first-seen order: (key, name, operation)
    median: np.ndarray  # [run, case], NaN where the run lacks the case
    q1: np.ndarray
    q3: np.ndarray
    problems: list  # (path, why left out)


def _quartiles(data) -> tuple[float, float]:
    """First and third quartile (linear interpolation, numpy's default) of raw round times."""
    n = len(data)
    if n < 2:
        return math.nan, math.nan
    s = sorted(data)

    def at(p):
        x = p * (n - 1)
        i = int(x)
        return s[i] if i + 1 >= n else s[i] + (s[i + 1] - s[i]) * (x - i)
    return at(0.25), at(0.75)


def read_entry(path: Path, allow_invalid: bool = False) -> tuple:
    """One history entry through :func:`reports.storage.parse_run`: ``("run", meta, cases)`` with meta
    (profile, commit, datetime, fingerprint, versions) and cases [(key, name, operation, median, q1, q3)],
    or ``("left out", why)``."""
    try:
        run = parse_run(read_document(path), str(path))
        fp = run_fingerprint(run.machine_info)
    except ValueError as exc:  # ResultsError, or a machine_info the fingerprint cannot read
        return ("left out", str(exc))
    why = ("a counted run (instructions, not times)" if run.counted or run.profile == COUNTS_PROFILE else
           "injected slowdown: " + ", ".join(f"{k}={v:g}" for k, v in sorted(run.injected.items()))
           if run.injected else None if allow_invalid or not run.invalid else "; ".join(run.invalid))
    if why:
        return ("left out", why)
    meta = (run.profile, run.commit, run.datetime, fp, library_versions(run.machine_info))
    return ("run", meta, [(b.key, b.name, b.operation, b.median_s, *_quartiles(b.data)) for b in run.benchmarks])


def _cache_file(cache: Path, folder: Path, allow_invalid: bool) -> Path:
    tag = f"{CACHE_VERSION}|{folder.resolve()}|{allow_invalid}"
    return cache / f"{hashlib.sha256(tag.encode()).hexdigest()[:24]}.json"


def _read_cache(path: Path) -> dict:
    """The cached readings of a folder (JSON: a cache folder others can write must not run code when read)."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return {}  # no cache yet, or one this version cannot read: read the runs again
    if not isinstance(found, dict):
        return {}
    return {name: (tuple(v[0]), v[1]) for name, v in found.items()
            if isinstance(v, list) and len(v) == 2 and isinstance(v[0], list) and isinstance(v[1], list)}


def read_folder(storage: str, host: str, allow_invalid: bool = False, cache: str | None = None) -> FolderSummary:
    """Every history entry of ``storage/host``. With ``cache`` (a folder), an entry whose size and
    modification time match the cached reading is not read again; the cache is then brought up to date."""
    folder = Path(storage) / host
    files = sorted((p for p in folder.glob("*.json") if ENTRY_NAME.match(p.name)),
                   key=lambda p: int(ENTRY_NAME.match(p.name).group(1)))
    cache_path = _cache_file(Path(cache), folder, allow_invalid) if cache else None
    cached = _read_cache(cache_path) if cache_path else {}
    readings = {}
    for path in files:
        st = path.stat()
        sig = (st.st_size, st.st_mtime_ns)
        hit = cached.get(path.name)
        readings[path.name] = hit if hit is not None and hit[0] == sig else (sig, read_entry(path, allow_invalid))
    if cache_path and (readings.keys() != cached.keys() or any(readings[k] is not cached[k] for k in readings)):
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_path.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(json.dumps(readings))
            os.replace(tmp, cache_path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    paths, meta, rows, problems = [], [], [], []
    index: dict[str, int] = {}
    keys: list = []
    for path in files:
        reading = readings[path.name][1]
        if reading[0] != "run":
            problems.append((str(path), reading[1]))
            continue
        row = {}
        for key, name, operation, *values in reading[2]:
            if key not in index:
                index[key] = len(keys)
                keys.append((key, name, operation))
            row[index[key]] = values
        paths.append(str(path))
        meta.append(reading[1])
        rows.append(row)
    arrays = [np.full((len(rows), len(keys)), np.nan) for _ in range(3)]
    for r, row in enumerate(rows):
        for c, values in row.items():
            for a, v in zip(arrays, values):
                a[r, c] = v
    return FolderSummary(storage, host, paths, meta, keys, *arrays, problems)


def profile_storages(history: Path) -> list[Path]:
    """The profile storage folders of a history tree: ``history/<profile>``, else ``history`` itself."""
    found = [history / p for p in PROFILES + (COUNTS_PROFILE,) if (history / p).is_dir()]
    return found or [history]


def read_history(history: Path | str, *, workers: int | None = None, allow_invalid: bool = False,
                 cache: Path | str | None = None) -> tuple[list[FolderSummary], list[dict]]:
    """Every host folder's summary (in a pool of ``workers`` processes, default one per CPU; with
    ``cache``, runs read before and unchanged since are not read again) and every verdict record of the tree."""
    history = Path(history)
    if not history.is_dir():
        raise PublishError(f"{history}: history folder not found")
    jobs = [(str(s), h) for s in profile_storages(history) for h in host_folders(s)]
    if not jobs:
        raise PublishError(f"{history}: no saved runs (expected <profile>/[<hostname>/]<machine-id>/NNNN_*.json)")
    records = []
    for s in profile_storages(history):
        try:
            records += V.read_records(s)
        except V.VerdictError as exc:
            raise PublishError(str(exc)) from None
    n_files = sum(1 for s, h in jobs for p in (Path(s) / h).glob("*.json") if ENTRY_NAME.match(p.name))
    workers = workers or os.cpu_count() or 1
    if workers <= 1 or n_files < POOL_MIN_FILES or len(jobs) == 1:
        return [read_folder(s, h, allow_invalid, cache) for s, h in jobs], records
    with concurrent.futures.ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        futures = [pool.submit(read_folder, s, h, allow_invalid, cache) for s, h in jobs]
        return [f.result() for f in futures], records


# ---- the data the page draws --------------------------------------------------------------

def _unix(stamp: str | None, path: str) -> float | None:
    """Seconds since the epoch of a run's ``datetime``, else of its file's modification (when it was
    saved); None when neither can be read."""
    try:
        moment = dt.datetime.fromisoformat(str(stamp))
        return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).timestamp()
    except ValueError:
        pass
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return None


def log_scale(values: np.ndarray) -> tuple[float, float]:
    """(lo, step) of the codes of ``values`` [s]: the smallest log value and the finest step (at least
    :data:`MIN_STEP`) that reaches the largest within :data:`MAX_CODE` codes."""
    logs = np.log(values[np.isfinite(values) & (values > 0)])
    if not logs.size:
        return 0.0, MIN_STEP
    lo = float(logs.min())
    return lo, max(MIN_STEP, (float(logs.max()) - lo) / MAX_CODE)


def encode(values: np.ndarray, lo: float, step: float) -> np.ndarray:
    """uint16 codes of ``values`` [s] on the log scale ``lo + code * step``; NaN -> MISSING."""
    with np.errstate(divide="ignore", invalid="ignore"):
        codes = np.rint((np.log(values) - lo) / step)
    codes = np.where(np.isfinite(codes), np.clip(codes, 0, MAX_CODE), MISSING)
    return codes.astype("<u2")


def decode(codes: np.ndarray, lo: float, step: float) -> np.ndarray:
    """Inverse of :func:`encode` (NaN for MISSING)."""
    out = np.exp(lo + codes.astype(float) * step)
    out[codes == MISSING] = np.nan
    return out


@dataclasses.dataclass(frozen=True)
class Dashboard:
    """What :func:`build` made: the data the page embeds and the notes beside it."""

    data: dict
    problems: tuple  # (path, why left out)
    unplaced_verdicts: int

    @property
    def counts(self) -> dict:
        d = self.data
        return {"machines": len(d["machines"]), "profiles": len(d["profiles"]), "cases": len(d["cases"]),
                "runs": len(d["runs"]["t"]), "series": len(d["series"]["g"]), "verdicts": len(d["verdicts"]["s"])}


def build(summaries: list[FolderSummary], records: list[dict], *, history: Path, out: Path,
          title: str = "continuum-bench dashboard") -> Dashboard:
    """The page's data from the folders' summaries and the verdict records."""
    # runs -> groups (profile, fingerprint)
    machines: dict[str, dict] = {}
    hosts: list[str] = []
    host_index: dict[str, int] = {}
    commits_first: dict[str, float] = {}
    group_runs: dict[tuple, list] = {}
    for fs_i, fs in enumerate(summaries):
        host = fs.host.split("/")[0] if "/" in fs.host else fs.host
        for r, (path, (profile, commit, stamp, fp, versions)) in enumerate(zip(fs.paths, fs.meta)):
            m = machines.setdefault(fp["id"], {"id": fp["id"], "label": describe(fp), "fingerprint": fp,
                                               "hosts": [], "versions": {}})
            if host not in m["hosts"]:
                m["hosts"].append(host)
            for k, v in versions.items():
                if v and v not in m["versions"].setdefault(k, []):
                    m["versions"][k].append(v)
            if host not in host_index:
                host_index[host] = len(hosts)
                hosts.append(host)
            t = _unix(stamp, path) or 0.0
            commit = commit or "unknown"
            commits_first[commit] = min(t, commits_first.get(commit, math.inf))
            group_runs.setdefault((profile, fp["id"]), []).append((t, path, commit, host_index[host], fs_i, r))
    if not group_runs:
        raise PublishError(f"{history}: no run to publish" + (
            f" ({len([p for fs in summaries for p in fs.problems])} left out; first: "
            f"{next(f'{p}: {w}' for fs in summaries for p, w in fs.problems)})"
            if any(fs.problems for fs in summaries) else ""))
    machine_ids = sorted(machines, key=lambda k: (machines[k]["label"], k))
    m_index = {k: i for i, k in enumerate(machine_ids)}
    profiles = [p for p in PROFILES if any(g[0] == p for g in group_runs)] + sorted(
        {g[0] for g in group_runs} - set(PROFILES))
    p_index = {p: i for i, p in enumerate(profiles)}
    commits = sorted(commits_first, key=lambda c: (commits_first[c], c))
    c_index = {c: i for i, c in enumerate(commits)}
    case_info: dict[str, tuple] = {}
    for fs in summaries:
        for key, name, op in fs.keys:
            case_info.setdefault(key, (name, op))
    op_order = {op: i for i, op in enumerate(OPERATIONS)}
    case_keys = sorted(case_info, key=lambda k: (op_order.get(case_info[k][1], 99), case_info[k][0], k))
    k_index = {k: i for i, k in enumerate(case_keys)}
    case_cols = [np.array([k_index[k] for k, _, _ in fs.keys], dtype=int) for fs in summaries]

    run_t, run_c, run_h, run_path, groups = [], [], [], [], []
    series = {"g": [], "c": [], "o": [], "lo": [], "step": []}
    chunks = {"m": [], "q1": [], "q3": []}
    offset = 0
    where_run: dict[tuple, int] = {}  # (group, commit, datetime) -> run index
    for (profile, fp_id), runs in sorted(group_runs.items(), key=lambda kv: (p_index[kv[0][0]], m_index[kv[0][1]])):
        runs.sort()
        g = len(groups)
        start = len(run_t)
        n = len(runs)
        groups.append({"p": p_index[profile], "m": m_index[fp_id], "start": start, "n": n})
        full = {a: np.full((len(case_keys), n), np.nan) for a in chunks}
        for j, (t, path, commit, h, fs_i, r) in enumerate(runs):
            run_t.append(round(t))
            run_c.append(c_index[commit])
            run_h.append(h)
            run_path.append(Path(os.path.relpath(os.path.abspath(path), out)).as_posix())
            fs = summaries[fs_i]
            cols = case_cols[fs_i]
            for a, arr in (("m", fs.median), ("q1", fs.q1), ("q3", fs.q3)):
                full[a][cols, j] = arr[r]
            where_run[g, commit, fs.meta[r][2]] = start + j
        present = np.flatnonzero(np.isfinite(full["m"]).any(axis=1))
        for c in present:
            lo, step = log_scale(np.concatenate([full["m"][c], full["q1"][c], full["q3"][c]]))
            series["g"].append(g)
            series["c"].append(int(c))
            series["o"].append(offset)
            series["lo"].append(lo)
            series["step"].append(step)
            for a in chunks:
                chunks[a].append(encode(full[a][c], lo, step))
            offset += n
    s_index = {(g, c): i for i, (g, c) in enumerate(zip(series["g"], series["c"]))}
    group_of = {(profiles[gr["p"]], machine_ids[gr["m"]]): i for i, gr in enumerate(groups)}

    verdicts = {"s": [], "r": [], "v": [], "y": [], "t": []}
    unplaced = 0
    for rec in records:
        g = group_of.get((rec["profile"], rec["fingerprint"]))
        cur = rec["current"]
        run = where_run.get((g, cur.get("commit") or "unknown", cur.get("datetime")))
        for row in rec["rows"]:
            code = VERDICT_CODES.get(row["verdict"])
            s = s_index.get((g, k_index.get(row["name"], -1)))
            if code is None:
                continue  # not enough data, only in baseline or current: the gate did not judge it
            when = _unix(cur.get("datetime"), cur.get("source") or "") if run is None else run_t[run]
            if s is None or (run is None and (when is None or not isinstance(row.get("current_s"), (int, float)))):
                unplaced += 1
                continue
            verdicts["s"].append(s)
            verdicts["r"].append(-1 if run is None else run)
            verdicts["v"].append(code)
            verdicts["y"].append(row.get("current_s"))
            verdicts["t"].append(round(when))

    def b64(parts):
        return base64.b64encode(np.concatenate(parts).astype("<u2").tobytes() if parts else b"").decode("ascii")

    data = {
        "format": "continuum-bench-dashboard", "version": 1, "title": title,
        "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "history": str(history), "profiles": profiles, "operations": [o for o in OPERATIONS if any(
            case_info[k][1] == o for k in case_keys)],
        "machines": [{k: machines[i][k] for k in ("id", "label", "hosts", "versions", "fingerprint")}
                     for i in machine_ids],
        "hosts": hosts, "commits": commits,
        "cases": [{"key": k, "name": case_info[k][0], "op": case_info[k][1]} for k in case_keys],
        "groups": groups,
        "runs": {"t": run_t, "c": run_c, "h": run_h, "path": run_path},
        "series": series, "missing": MISSING,
        "codes": {a: b64(chunks[a]) for a in chunks},
        "verdicts": verdicts, "verdict_names": ["within noise", "regression", "improvement", "not significant"],
    }
    problems = tuple(p for fs in summaries for p in fs.problems)
    data["notes"] = [f"{p}: left out ({why})" for p, why in problems[:200]] + (
        [f"... and {len(problems) - 200} more left out"] if len(problems) > 200 else []) + (
        [f"{unplaced} gate verdict(s) on a machine, profile or case this history does not hold (or of a run "
         f"with neither a time nor a median): not shown"]
        if unplaced else [])
    return Dashboard(data, problems, unplaced)


def write(dashboard: Dashboard, out: Path | str) -> list[Path]:
    """``out/index.html`` and ``out/data.js`` (the folder is created; other files in it are left alone)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise PublishError(f"{out}: not a folder (--out names the dashboard's folder)")
    out.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(dashboard.data, separators=(",", ":"), allow_nan=False)
    data_path = out / DATA_FILE
    data_path.write_text(f"window.DASHBOARD_DATA={payload};\n", encoding="utf-8")
    page = (ASSETS / "page.html").read_text(encoding="utf-8")
    page = (page.replace("/*STYLE*/", (ASSETS / "style.css").read_text(encoding="utf-8"))
                .replace("/*SCRIPT*/", (ASSETS / "app.js").read_text(encoding="utf-8"))
                .replace("__TITLE__", _escape(dashboard.data["title"])))
    page_path = out / PAGE_FILE
    page_path.write_text(page, encoding="utf-8")
    return [page_path, data_path]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclasses.dataclass(frozen=True)
class Published:
    paths: list
    dashboard: Dashboard
    seconds: float

    def lines(self) -> list[str]:
        c = self.dashboard.counts
        size = sum(p.stat().st_size for p in self.paths)
        out = [f"wrote {self.paths[0]} ({c['machines']} machines, {c['profiles']} profiles, {c['cases']} cases, "
               f"{c['runs']} runs, {c['verdicts']} verdicts; {size / 2**20:.1f} MiB) in {self.seconds:.1f} s"]
        out += [f"note: {n}" for n in self.dashboard.data["notes"][:20]]
        return out


def publish(history: Path | str, out: Path | str, *, workers: int | None = None, allow_invalid: bool = False,
            title: str = "continuum-bench dashboard", cache: Path | str | None = None) -> Published:
    """Read ``history``, write the dashboard to ``out``; PublishError (a ResultsError) on bad input.
    ``cache``: a folder keeping each run's reading, so that publishing again reads only new runs."""
    start = time.perf_counter()
    history, out = Path(history), Path(out)
    if cache is not None and Path(cache).exists() and not Path(cache).is_dir():
        raise PublishError(f"{cache}: not a folder (--cache names a folder)")
    summaries, records = read_history(history, workers=workers, allow_invalid=allow_invalid,
                                      cache=None if cache is None else str(cache))
    dashboard = build(summaries, records, history=history, out=out.resolve() if out.exists() else
                      Path(os.path.abspath(out)), title=title)
    paths = write(dashboard, out)
    return Published(paths, dashboard, time.perf_counter() - start)


def read_data(out: Path | str) -> dict:
    """The data a written dashboard embeds (``out/data.js``): what its tests and readers check."""
    text = (Path(out) / DATA_FILE).read_text(encoding="utf-8")
    prefix = "window.DASHBOARD_DATA="
    if not text.startswith(prefix):
        raise PublishError(f"{Path(out) / DATA_FILE}: not a dashboard's data file")
    return json.loads(text[len(prefix):].rstrip().rstrip(";"))


def series_values(data: dict, series: int) -> dict[str, np.ndarray]:
    """Median, first and third quartile [s] of every run of one series, decoded (NaN: the run lacks the case)."""
    n = data["groups"][data["series"]["g"][series]]["n"]
    o, lo, step = (data["series"][k][series] for k in ("o", "lo", "step"))
    out = {}
    for a in ("m", "q1", "q3"):
        raw = np.frombuffer(base64.b64decode(data["codes"][a]), dtype="<u2")
        out[a] = decode(raw[o:o + n], lo, step)
    return out


# ---- the command line (registered in reports.cli) -----------------------------------------

def add_arguments(p) -> None:
    p.add_argument("history", nargs="?", default="results/history",
                   help="history tree: results/history or one profile's storage folder (default: results/history)")
    p.add_argument("--out", default="results/dashboard",
                   help="folder of the dashboard: index.html and data.js (default: results/dashboard)")
    p.add_argument("--title", default="continuum-bench dashboard", help="page title (default: continuum-bench dashboard)")
    p.add_argument("--workers", type=int, default=None,
                   help="processes reading the runs, >= 1 (default: one per CPU)")
    p.add_argument("--cache", default=None,
                   help="folder keeping each run's reading: publishing again reads only new or changed runs "
                        "(default: read every run)")
    p.add_argument("--allow-invalid", action="store_true",
                   help="also plot runs whose background load died (default: leave them out, named in the notes)")


def run_publish(a) -> tuple[tuple[str, ...], int, str | None]:
    """(lines, exit code, error) of ``publish``: 0 written, 2 bad input."""
    if a.workers is not None and a.workers < 1:
        return (), 2, f"publish: --workers must be >= 1, got {a.workers}"
    try:
        done = publish(a.history, a.out, workers=a.workers, allow_invalid=a.allow_invalid, title=a.title,
                       cache=a.cache)
    except (ValueError, OSError) as exc:
        return (), 2, f"publish: {exc}"
    return tuple(done.lines()), 0, None
