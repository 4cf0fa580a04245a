"""The paired gate's orchestration: ``continuum-bench gate --against REF``.

1. REF is checked out into a temporary git worktree under ``<work>/ref-<pid>`` (removed
   afterwards on every exit path: normal end, an error, Ctrl-C, SIGTERM);
2. REF gets its own environment (``uv venv`` + ``uv pip install -r pyproject.toml --extra
   bench``), so a dependency bump is judged too; it is kept in ``<work>/envs/<key>`` and
   reused while REF's ``pyproject.toml`` (the pins) and the Python version are the same;
   REF's own code comes from the worktree (``PYTHONPATH``);
3. one measuring process per side (harness/paired_worker.py run by that side's Python
   in that side's checkout; a REF older than the worker gets the candidate's copy of the
   worker file, recorded in the result) applies the same profile to itself, builds its
   models and answers block requests; the candidate is the current checkout;
4. the blocks alternate ABBA, BAAB, ... per case, the cases round-robin within each quad
   round, after one discarded warm-up quad per case; every block is recorded in order;
   before each quad the cases of the runtimes in ``renew`` (LiteRT) get fresh runners on
   both sides (untimed): two interpreters of one model in one process differed by up to
   3 % per call (where their arenas landed), a difference one pair of processes would
   otherwise carry through every quad (an A/A run measured B/A 0.968 [0.963, 0.973]);
5. each case is judged by reports.paired on its quads.

No TensorFlow here: the coordinator only waits on its workers' pipes, so it does not
compete with them for the profile's CPU.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from reports import paired as P

WORKER_MODULE = "harness.paired_worker"
WORKER_FILE = Path("harness/paired_worker.py")
#: Where a checkout keeps its paired worker, this layout's first: (file, module).
WORKER_LOCATIONS = ((WORKER_FILE, WORKER_MODULE), (Path("benchmarks/paired_worker.py"), "benchmarks.paired_worker"))
#: Lines of a dead worker's stderr quoted in the error.
STDERR_TAIL_LINES = 25
#: Seconds a worker gets to exit after ``quit`` (then SIGTERM, then SIGKILL).
QUIT_GRACE_S = 10.0
#: Environment of both workers: tfmot needs Keras 2, chosen before Python starts.
WORKER_ENV = {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}
ENV_COMPLETE_MARKER = ".continuum-bench-env-complete"


def default_work() -> Path:
    """Where the REF's worktree and environments go unless ``--work`` says: ``<cache>/paired``."""
    from fixtures.cache import cache_root

    return cache_root() / "paired"


class PairedRunError(RuntimeError):
    """The paired run could not be made (bad REF, environment, a worker that died); the message says which."""


@dataclass(frozen=True)
class PairedRequest:
    """What to run. ``repo``: the candidate checkout; ``work``: where worktree and environments go."""

    against: str
    repo: Path
    work: Path
    config: P.PairedConfig
    profile: str = "device"
    profile_set: tuple[str, ...] = ()
    allow_unenforced: bool = False
    preset: str = "quick"
    inject_slowdown: tuple[str, ...] = ()
    #: the baseline's Python, instead of building its environment (REF's dependencies must be installed in it)
    baseline_python: str | None = None


@dataclass(frozen=True)
class Side:
    label: str  # "A" (baseline, REF) or "B" (candidate)
    root: Path
    python: str
    commit: str
    worker: str = WORKER_MODULE  # the module the side's worker runs


@dataclass(frozen=True)
class PairedResult:
    against: str
    ref_commit: str
    candidate_commit: str
    verdicts: tuple[P.PairedVerdict, ...]
    calls_per_block: dict
    blocks: tuple[dict, ...]  # every timed block in the order taken: quad, case, side, calls, seconds
    info: dict  # per side: what the worker said at start
    seconds: dict  # env, prepare, measure, total [s]
    notes: tuple[str, ...] = ()
    other_clock: str | None = None  # the clock that did not judge, and its verdicts on the same blocks
    other_verdicts: tuple[P.PairedVerdict, ...] = ()

    @property
    def outcome(self) -> str:
        return P.outcome(self.verdicts)


# ---- git and environments -----------------------------------------------------------------

def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise PairedRunError(f"git {' '.join(args)} (in {repo}) failed: {done.stderr.strip()}")
    return done.stdout.strip()


def resolve_commit(repo: Path, ref: str) -> str:
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except PairedRunError:
        raise PairedRunError(f"--against {ref!r}: not a commit in {repo} (try a branch, tag or sha; "
                             f"for origin/main run git fetch first)") from None


@contextlib.contextmanager
def ref_worktree(repo: Path, commit: str, work: Path) -> Iterator[Path]:
    """A detached worktree of ``commit`` under ``work``; removed (and pruned) on every exit path."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"ref-{os.getpid()}"
    if path.exists():
        shutil.rmtree(path)
    _git(repo, "worktree", "add", "--detach", "--quiet", str(path), commit)
    try:
        yield path
    finally:
        done = subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(path)],
                              capture_output=True, text=True)
        if path.exists():
            shutil.rmtree(path)
        subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True)
        if done.returncode != 0 and path.exists():
            raise PairedRunError(f"could not remove the worktree {path}: {done.stderr.strip()}")


def find_uv() -> list[str]:
    uv = shutil.which("uv")
    if uv:
        return [uv]
    probe = subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True)
    if probe.returncode == 0:
        return [sys.executable, "-m", "uv"]
    raise PairedRunError("uv not found on PATH nor as a module of this Python: install it (pip install uv); "
                         "the baseline's environment is built with uv")


def env_key(worktree: Path) -> str:
    pyproject = worktree / "pyproject.toml"
    try:
        pins = pyproject.read_bytes()
    except OSError as err:
        raise PairedRunError(f"{pyproject}: the baseline has no readable pyproject.toml ({err})") from None
    digest = hashlib.sha256(pins + f"{sys.version_info.major}.{sys.version_info.minor}".encode())
    return digest.hexdigest()[:16]


def ref_environment(worktree: Path, work: Path, progress: Callable[[str], None]) -> tuple[str, bool]:
    """The Python of REF's environment (its dependencies; its code comes from the worktree) and whether it
    was reused. Built in a temporary folder and renamed into place, so a half-built one is never used."""
    envs = work / "envs"
    envs.mkdir(parents=True, exist_ok=True)
    env = envs / env_key(worktree)
    python = env / "bin" / "python"
    if (env / ENV_COMPLETE_MARKER).is_file():
        return str(python), True
    uv = find_uv()
    tmp = Path(tempfile.mkdtemp(prefix=f".{env.name}.", dir=envs))
    try:
        progress(f"[paired] building the baseline's environment ({worktree / 'pyproject.toml'}) with uv")
        for command in ([*uv, "venv", "--quiet", "--allow-existing", "--python", sys.executable, str(tmp)],
                        [*uv, "pip", "install", "--quiet", "--python", str(tmp / "bin" / "python"),
                         "-r", str(worktree / "pyproject.toml"), "--extra", "bench"]):
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                raise PairedRunError(f"{' '.join(command)} failed (exit {done.returncode}):\n"
                                     + "\n".join(done.stderr.strip().splitlines()[-STDERR_TAIL_LINES:]))
        (tmp / ENV_COMPLETE_MARKER).write_text(f"{worktree / 'pyproject.toml'}\n")
        if env.exists():
            shutil.rmtree(env)
        # only bin/python is used (python -m ...): it and pyvenv.cfg do not name the folder, so it can move
        os.replace(tmp, env)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return str(python), False


# ---- workers --------------------------------------------------------------------------------

class Worker:
    """One measuring process (harness/paired_worker.py) and its JSON-line pipe."""

    def __init__(self, side: Side, args: list[str], stderr_dir: Path) -> None:
        self.side = side
        self.stderr_path = stderr_dir / f"worker-{side.label}.stderr"
        self._stderr = open(self.stderr_path, "w+b")
        env = {**os.environ, **WORKER_ENV, "PYTHONPATH": str(side.root)}
        env.pop("VIRTUAL_ENV", None)
        # its own session: a Ctrl-C on the terminal reaches the coordinator, which stops the workers itself
        self.process = subprocess.Popen([side.python, "-m", side.worker, *args], cwd=side.root, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                        text=True, bufsize=1, start_new_session=True)
        self.info: dict = {}

    def stderr_tail(self) -> str:
        self._stderr.flush()
        with open(self.stderr_path, "rb") as f:
            tail = deque(f.read().decode(errors="replace").splitlines(), maxlen=STDERR_TAIL_LINES)
        return "\n".join(f"    {line}" for line in tail)

    def _failed(self, doing: str) -> PairedRunError:
        code = self.process.poll()
        if code is None:
            self.process.kill()
            code = self.process.wait()
        return PairedRunError(f"worker {self.side.label} ({self.side.python} in {self.side.root}, commit "
                              f"{self.side.commit[:12]}) died {doing} (exit {code}); the tail of its stderr:\n"
                              f"{self.stderr_tail()}")

    def receive(self, doing: str) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise self._failed(doing)
        try:
            return json.loads(line)
        except ValueError:
            raise PairedRunError(f"worker {self.side.label} answered {line.strip()!r} {doing}: not a JSON line "
                                 f"(something in it wrote to the protocol's stdout)") from None

    def ask(self, request: dict) -> dict:
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise self._failed(f"before {request}") from None
        return self.receive(f"answering {request}")

    def ready(self) -> dict:
        answer = self.receive("while preparing its models")
        if not answer.get("ready"):
            raise PairedRunError(f"worker {self.side.label}: expected a ready line, got {answer}")
        self.info = answer["info"]
        return self.info

    def stop(self) -> None:
        """Ask it to quit; SIGTERM then SIGKILL its process group if it does not. Idempotent."""
        if self.process.poll() is None:
            with contextlib.suppress(BrokenPipeError, OSError, ValueError):
                self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.process.stdin.close()
            try:
                self.process.wait(timeout=QUIT_GRACE_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout=QUIT_GRACE_S)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait()
        self._stderr.close()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt here (restored afterwards), so the clean-up of Ctrl-C runs for it too."""
    def stop(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def worker_args(request: PairedRequest, inject: bool) -> list[str]:
    args = ["--profile", request.profile, "--preset", request.preset]
    args += [a for item in request.profile_set for a in ("--profile-set", item)]
    args += ["--allow-unenforced"] if request.allow_unenforced else []
    args += [a for case in request.config.cases for a in ("--case", case)]
    if inject:
        args += [a for item in request.inject_slowdown for a in ("--inject-slowdown", item)]
    return args


# ---- the run ----------------------------------------------------------------------------------

def measure(workers: dict[str, Worker], config: P.PairedConfig,
            progress: Callable[[str], None]) -> tuple[dict, list[dict], dict]:
    """Calibrate the calls per block, take one warm-up quad per case, then ``config.pairs`` quads per case,
    cases round-robin within each quad round. Returns (calls per block, every block in order, quads per clock
    and case: both clocks of the same blocks)."""
    calls = {}
    for case in config.cases:
        per_call = min(workers[s].ask({"op": "probe", "case": case})["seconds"] for s in "AB")
        calls[case] = max(1, math.ceil(config.block_s / per_call)) if per_call > 0 else 1
    blocks: list[dict] = []
    quads: dict[str, dict[str, list]] = {clock: {case: [] for case in config.cases} for clock in P.CLOCKS}
    started = time.perf_counter()
    renewing = [case for case in config.cases if case.rsplit("-", 1)[-1] in config.renew
                and all("renew" in workers[s].info.get("ops", ()) for s in "AB")]
    for q in range(-1, config.pairs):  # quad -1: warm-up, discarded
        order = P.QUAD_ORDERS[q % 2]
        for case in config.cases:
            if q >= 0 and case in renewing:  # fresh runners on both sides: an arena's placement is per-quad noise
                for side in "AB":
                    workers[side].ask({"op": "renew", "case": case})
            times = {clock: {"A": [], "B": []} for clock in P.CLOCKS}
            for side in order:
                answer = workers[side].ask({"op": "block", "case": case, "calls": calls[case]})
                times["wall"][side].append(answer["seconds"] / calls[case])
                times["cpu"][side].append(answer["cpu_seconds"] / calls[case])
                blocks.append({"quad": q, "case": case, "side": side, "calls": calls[case],
                               "seconds": answer["seconds"], "cpu_seconds": answer["cpu_seconds"]})
            if q >= 0:
                for clock in P.CLOCKS:
                    quads[clock][case].append((tuple(times[clock]["A"]), tuple(times[clock]["B"])))
        if q >= 0 and (q + 1) % 10 == 0:
            progress(f"[paired] {q + 1}/{config.pairs} quads of {len(config.cases)} case(s), "
                     f"{time.perf_counter() - started:.0f} s")
    return calls, blocks, quads


def run_paired(request: PairedRequest, progress: Callable[[str], None] = lambda line: None) -> PairedResult:
    """Check REF out, build its environment, measure both sides alternately, judge every case."""
    t0 = time.perf_counter()
    repo = request.repo.resolve()
    ref_commit = resolve_commit(repo, request.against)
    candidate_commit = _git(repo, "rev-parse", "HEAD")
    dirty = _git(repo, "status", "--porcelain", "--untracked-files=no")
    notes = [f"candidate: the working tree of {repo} (HEAD {candidate_commit[:12]}"
             + (", with uncommitted changes)" if dirty else ")")]
    seconds: dict = {}
    with sigterm_as_interrupt(), ref_worktree(repo, ref_commit, request.work) as tree, \
            tempfile.TemporaryDirectory(prefix="paired-", dir=request.work) as logs:
        ref_worker = next((module for file, module in WORKER_LOCATIONS if (tree / file).is_file()), None)
        if ref_worker is None:
            (tree / WORKER_FILE).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / WORKER_FILE, tree / WORKER_FILE)
            ref_worker = WORKER_MODULE
            notes.append(f"baseline {request.against} has no {WORKER_FILE}: the candidate's copy of it ran there")
        if request.baseline_python:
            python = request.baseline_python
            notes.append(f"baseline environment given: {python} (REF's pins not installed by this run)")
        else:
            python, reused = ref_environment(tree, request.work, progress)
            notes.append(f"baseline environment {'reused' if reused else 'built'}: {Path(python).parent.parent}")
        seconds["env"] = time.perf_counter() - t0
        sides = {"A": Side("A", tree, python, ref_commit, ref_worker), "B": Side("B", repo, sys.executable, candidate_commit)}
        workers: dict[str, Worker] = {}
        try:
            for label, side in sides.items():
                workers[label] = Worker(side, worker_args(request, inject=label == "B"), Path(logs))
            progress(f"[paired] preparing {len(request.config.cases)} case(s) on both sides "
                     f"(profile {request.profile}, preset {request.preset})")
            t1 = time.perf_counter()
            info = {label: w.ready() for label, w in workers.items()}
            seconds["prepare"] = time.perf_counter() - t1
            t2 = time.perf_counter()
            calls, blocks, quads = measure(workers, request.config, progress)
            seconds["measure"] = time.perf_counter() - t2
        finally:
            for worker in workers.values():
                worker.stop()
    judged = {clock: tuple(P.judge_case(case, "inference", quads[clock][case], request.config)
                           for case in request.config.cases) for clock in P.CLOCKS}
    other = next(c for c in P.CLOCKS if c != request.config.clock)
    seconds["total"] = time.perf_counter() - t0
    return PairedResult(request.against, ref_commit, candidate_commit, judged[request.config.clock], calls,
                        tuple(blocks), info, seconds, tuple(notes), other_clock=other, other_verdicts=judged[other])


def result_dict(result: PairedResult, config: P.PairedConfig) -> dict:
    """The JSON record of a paired run: verdicts, every block in the order taken, both sides' start info."""
    from dataclasses import asdict

    return {"against": result.against, "ref_commit": result.ref_commit,
            "candidate_commit": result.candidate_commit, "outcome": result.outcome,
            "config": {**asdict(config), "factors": dict(config.factors)},
            "verdicts": [asdict(v) for v in result.verdicts],
            "other_clock": result.other_clock, "other_verdicts": [asdict(v) for v in result.other_verdicts],
            "calls_per_block": result.calls_per_block,
            "sides": result.info, "seconds": result.seconds, "notes": list(result.notes),
            "loadavg_end": list(os.getloadavg()), "blocks": list(result.blocks)}


def format_result(result: PairedResult, request: PairedRequest) -> list[str]:
    header = [f"paired gate: baseline A = {request.against} ({result.ref_commit[:12]}), candidate B = this checkout "
              f"({result.candidate_commit[:12]}); profile {request.profile}, preset {request.preset}; "
              f"{request.config.pairs} quads (ABBA/BAAB) per case, blocks of ~{request.config.block_s * 1e3:.0f} ms, "
              f"{request.config.confidence:.0%} Hodges-Lehmann interval of B/A, judged on {request.config.clock} time"]
    if request.inject_slowdown:
        header.append(f"injected on the candidate only: {', '.join(request.inject_slowdown)}")
    header += [f"note: {n}" for n in result.notes]
    s = result.seconds
    footer = [f"time: {s['total']:.0f} s (baseline environment {s['env']:.0f} s, workers' preparation "
              f"{s.get('prepare', 0):.0f} s, measuring {s.get('measure', 0):.0f} s); load average at the end "
              + " ".join(f"{x:.2f}" for x in os.getloadavg()),
              "counted cases (LiteRT instructions per call) are judged by the count gate: tox -e counts-gate"]
    other = [f"  {v.name}: {P.format_change(v)}" for v in result.other_verdicts]
    if other:
        footer = [f"the same blocks on {result.other_clock} time (not judged; --clock {result.other_clock}):",
                  *other, *footer]
    return P.format_verdicts(result.verdicts, header) + footer
