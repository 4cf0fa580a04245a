"""The paired gate's orchestration: ``continuum-bench gate --against REF``.

1. REF is checked out into a temporary git worktree under ``<work>/ref-<pid>`` (removed
   afterwards on every exit path: normal end, an error, Ctrl-C, SIGTERM, SIGHUP; one left by
   a coordinator killed outright is removed by the next run);
2. REF gets its own environment (``uv venv`` + ``uv pip install -r pyproject.toml --extra
   bench``), so a dependency bump is judged too; it is kept in ``<work>/envs/<key>`` and
   reused while REF's pin files (:data:`PIN_FILES`) and the Python version are the same, as
   the hash recorded in its marker says; REF's own code comes from the worktree (``PYTHONPATH``);
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
5. the result is a :class:`PairedMeasurement` (every block, the quads per clock and case);
   reports.paired judges it.

Trust: REF's code runs with this process's rights (its worker, fixtures, emulation and
pipeline, and the packages its pyproject.toml names are installed): name only a REF whose
code you would run. The workers die with the coordinator (harness/children.py).

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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Protocol

from .children import die_with_parent, termination_as_interrupt
from .contract import CLOCKS, QUAD_ORDERS

WORKER_MODULE = "harness.paired_worker"
WORKER_FILE = Path("harness/paired_worker.py")
#: Where a checkout keeps its paired worker, this layout's first: (file, module).
WORKER_LOCATIONS = ((WORKER_FILE, WORKER_MODULE), (Path("benchmarks/paired_worker.py"), "benchmarks.paired_worker"))
#: Lines of a dead worker's stderr quoted in the error.
STDERR_TAIL_LINES = 25
#: Seconds a worker gets to exit after ``quit`` (then SIGTERM, then SIGKILL).
QUIT_GRACE_S = 10.0
#: The same after an interrupt: the user is waiting, and SIGTERM releases a worker's profile just as well.
INTERRUPT_GRACE_S = 1.0
#: Environment of both workers: tfmot needs Keras 2, chosen before Python starts.
WORKER_ENV = {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}
ENV_COMPLETE_MARKER = ".continuum-bench-env-complete"
#: REF's files whose bytes (with the Python version) key its environment; the first is required.
PIN_FILES = ("pyproject.toml", "uv.lock")


def default_work() -> Path:
    """Where the REF's worktree and environments go unless ``--work`` says: ``<cache>/paired``."""
    from fixtures.cache import cache_root

    return cache_root() / "paired"


class PairedRunError(RuntimeError):
    """The paired run could not be made (bad REF, environment, a worker that died); the message says which."""


class BlockPlan(Protocol):
    """What measuring needs of the paired gate's settings (reports.paired.PairedConfig is one).

    cases: case ids; pairs: quads per case; block_s: target wall time of a block [s];
    renew: runtimes whose runners are rebuilt on both sides before every quad
    """

    @property
    def cases(self) -> tuple[str, ...]: ...
    @property
    def pairs(self) -> int: ...
    @property
    def block_s(self) -> float: ...
    @property
    def renew(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class PairedRequest:
    """What to run. ``repo``: the candidate checkout; ``work``: where worktree and environments go."""

    against: str
    repo: Path
    work: Path
    plan: BlockPlan
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
class PairedMeasurement:
    """What a paired run measured; judged by reports.paired. Times in seconds."""

    against: str
    ref_commit: str
    candidate_commit: str
    calls_per_block: dict  # case -> calls per block
    blocks: tuple[dict, ...]  # every timed block in the order taken: quad, case, side, calls, seconds, cpu_seconds
    quads: dict  # clock -> case -> [((a1, a2), (b1, b2)), ...] per-call times of the quads (warm-up left out)
    info: dict  # per side: what the worker said at start
    seconds: dict  # env, prepare, measure, total [s]
    notes: tuple[str, ...] = ()
    profile: str = "device"
    preset: str = "quick"
    inject_slowdown: tuple[str, ...] = ()
    loadavg_end: tuple[float, ...] = ()  # the host's load average when measuring ended


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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _stale_pid(folder: Path) -> int | None:
    """The pid in a folder's name ``ref-<pid>`` or ``paired-<pid>-*``, when that folder is this user's and
    that coordinator is gone; else None. A pid reused since is taken as alive: the folder then waits."""
    parts = folder.name.split("-")
    if len(parts) < 2 or not parts[1].isdigit() or folder.is_symlink() or not folder.is_dir():
        return None
    pid = int(parts[1])
    if pid == os.getpid() or folder.lstat().st_uid != os.geteuid() or _pid_alive(pid):
        return None
    return pid


def remove_stale(repo: Path, work: Path) -> list[Path]:
    """Remove the worktrees (``ref-<pid>``) and worker logs (``paired-<pid>-*``) under ``work`` that a
    coordinator killed outright (SIGKILL: no clean-up ran) left, then prune git's list of worktrees.
    Returns the folders removed."""
    removed = []
    if work.is_dir():
        for folder in sorted([*work.glob("ref-*"), *work.glob("paired-*")]):
            if _stale_pid(folder) is None:
                continue
            if folder.name.startswith("ref-"):
                subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(folder)],
                               capture_output=True)
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True)
    return removed


@contextlib.contextmanager
def ref_worktree(repo: Path, commit: str, work: Path) -> Iterator[Path]:
    """A detached worktree of ``commit`` under ``work``; removed (and pruned) on every exit path."""
    work.mkdir(parents=True, exist_ok=True)
    remove_stale(repo, work)
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


def pins_digest(worktree: Path) -> str:
    """sha256 of REF's pin files (:data:`PIN_FILES`, each with its name) and this Python's version."""
    digest = hashlib.sha256(f"python {sys.version_info.major}.{sys.version_info.minor}\n".encode())
    for name in PIN_FILES:
        path = worktree / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            if name == PIN_FILES[0]:
                raise PairedRunError(f"{path}: the baseline has no pyproject.toml") from None
            continue
        except OSError as err:
            raise PairedRunError(f"{path}: not readable ({err})") from None
        digest.update(f"{name} {len(data)}\n".encode() + data)
    return digest.hexdigest()


def env_key(worktree: Path) -> str:
    return pins_digest(worktree)[:16]


def env_verified(env: Path, digest: str) -> bool:
    """Whether the environment ``env`` may be reused for pins of ``digest``: complete (its marker), this
    user's (the folder, its Python and the marker), and built from these pins (the marker's hash)."""
    marker = env / ENV_COMPLETE_MARKER
    try:
        if any(p.lstat().st_uid != os.geteuid() for p in (env, env / "bin", marker)) or marker.is_symlink():
            return False
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(recorded, dict) and recorded.get("pins_sha256") == digest and (env / "bin" / "python").exists()


def ref_environment(worktree: Path, work: Path, progress: Callable[[str], None]) -> tuple[str, bool]:
    """The Python of REF's environment (its dependencies; its code comes from the worktree) and whether it
    was reused. Built in a temporary folder and renamed into place, so a half-built one is never used; one
    whose marker does not record these pins' hash is rebuilt."""
    envs = work / "envs"
    envs.mkdir(parents=True, exist_ok=True)
    digest = pins_digest(worktree)
    env = envs / digest[:16]
    python = env / "bin" / "python"
    if env_verified(env, digest):
        return str(python), True
    if env.exists() or env.is_symlink():
        progress(f"[paired] {env}: not the environment of these pins (its marker's hash differs): rebuilding it")
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
        (tmp / ENV_COMPLETE_MARKER).write_text(json.dumps({"pins_sha256": digest, "pins": list(PIN_FILES),
                                                           "from": str(worktree)}) + "\n")
        if env.is_symlink() or env.is_file():
            env.unlink()
        elif env.exists():
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
        # its own session: a Ctrl-C on the terminal reaches the coordinator, which stops the workers itself;
        # a coordinator killed outright takes it along (parent-death signal)
        self.process = subprocess.Popen([side.python, "-m", side.worker, *args], cwd=side.root, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                        text=True, bufsize=1, start_new_session=True,
                                        preexec_fn=die_with_parent())
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

    def stop(self, grace_s: float = QUIT_GRACE_S) -> None:
        """Ask it to quit; SIGTERM then SIGKILL its process group if it does not, each after ``grace_s``
        [s]. Idempotent."""
        if self.process.poll() is None:
            with contextlib.suppress(BrokenPipeError, OSError, ValueError):
                self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.process.stdin.close()
            try:
                self.process.wait(timeout=grace_s)
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


def worker_args(request: PairedRequest, inject: bool) -> list[str]:
    args = ["--profile", request.profile, "--preset", request.preset]
    args += [a for item in request.profile_set for a in ("--profile-set", item)]
    args += ["--allow-unenforced"] if request.allow_unenforced else []
    args += [a for case in request.plan.cases for a in ("--case", case)]
    if inject:
        args += [a for item in request.inject_slowdown for a in ("--inject-slowdown", item)]
    return args


# ---- the run ----------------------------------------------------------------------------------

def measure(workers: dict[str, Worker], config: BlockPlan,
            progress: Callable[[str], None]) -> tuple[dict, list[dict], dict]:
    """Calibrate the calls per block, take one warm-up quad per case, then ``config.pairs`` quads per case,
    cases round-robin within each quad round. Returns (calls per block, every block in order, quads per clock
    and case: both clocks of the same blocks)."""
    calls = {}
    for case in config.cases:
        per_call = min(workers[s].ask({"op": "probe", "case": case})["seconds"] for s in "AB")
        calls[case] = max(1, math.ceil(config.block_s / per_call)) if per_call > 0 else 1
    blocks: list[dict] = []
    quads: dict[str, dict[str, list]] = {clock: {case: [] for case in config.cases} for clock in CLOCKS}
    started = time.perf_counter()
    renewing = [case for case in config.cases if case.rsplit("-", 1)[-1] in config.renew
                and all("renew" in workers[s].info.get("ops", ()) for s in "AB")]
    for q in range(-1, config.pairs):  # quad -1: warm-up, discarded
        order = QUAD_ORDERS[q % 2]
        for case in config.cases:
            if q >= 0 and case in renewing:  # fresh runners on both sides: an arena's placement is per-quad noise
                for side in "AB":
                    workers[side].ask({"op": "renew", "case": case})
            times = {clock: {"A": [], "B": []} for clock in CLOCKS}
            for side in order:
                answer = workers[side].ask({"op": "block", "case": case, "calls": calls[case]})
                times["wall"][side].append(answer["seconds"] / calls[case])
                times["cpu"][side].append(answer["cpu_seconds"] / calls[case])
                blocks.append({"quad": q, "case": case, "side": side, "calls": calls[case],
                               "seconds": answer["seconds"], "cpu_seconds": answer["cpu_seconds"]})
            if q >= 0:
                for clock in CLOCKS:
                    quads[clock][case].append((tuple(times[clock]["A"]), tuple(times[clock]["B"])))
        if q >= 0 and (q + 1) % 10 == 0:
            progress(f"[paired] {q + 1}/{config.pairs} quads of {len(config.cases)} case(s), "
                     f"{time.perf_counter() - started:.0f} s")
    return calls, blocks, quads


def run_paired(request: PairedRequest, progress: Callable[[str], None] = lambda line: None) -> PairedMeasurement:
    """Check REF out, build its environment, measure both sides alternately; reports.paired judges the result."""
    t0 = time.perf_counter()
    repo = request.repo.resolve()
    ref_commit = resolve_commit(repo, request.against)
    candidate_commit = _git(repo, "rev-parse", "HEAD")
    dirty = _git(repo, "status", "--porcelain", "--untracked-files=no")
    notes = [f"candidate: the working tree of {repo} (HEAD {candidate_commit[:12]}"
             + (", with uncommitted changes)" if dirty else ")")]
    seconds: dict = {}
    plan = request.plan
    with termination_as_interrupt(), ref_worktree(repo, ref_commit, request.work) as tree, \
            tempfile.TemporaryDirectory(prefix=f"paired-{os.getpid()}-", dir=request.work) as logs:
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
            progress(f"[paired] preparing {len(plan.cases)} case(s) on both sides "
                     f"(profile {request.profile}, preset {request.preset})")
            t1 = time.perf_counter()
            info = {label: w.ready() for label, w in workers.items()}
            seconds["prepare"] = time.perf_counter() - t1
            t2 = time.perf_counter()
            calls, blocks, quads = measure(workers, plan, progress)
            seconds["measure"] = time.perf_counter() - t2
            loadavg = tuple(os.getloadavg())
        except KeyboardInterrupt:
            for worker in workers.values():
                worker.stop(INTERRUPT_GRACE_S)
            raise
        finally:
            for worker in workers.values():
                worker.stop()
    seconds["total"] = time.perf_counter() - t0
    return PairedMeasurement(request.against, ref_commit, candidate_commit, calls, tuple(blocks), quads, info,
                             seconds, tuple(notes), profile=request.profile, preset=request.preset,
                             inject_slowdown=tuple(request.inject_slowdown), loadavg_end=loadavg)
