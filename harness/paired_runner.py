"""The paired gate's orchestration: ``continuum-bench gate --against REF``.

1. REF is checked out into a temporary git worktree under ``<work>/ref-<pid>`` (removed
   afterwards on every exit path: normal end, an error, Ctrl-C, SIGTERM, SIGHUP; one left by
   a coordinator killed outright is removed by the next run);
2. REF gets its own environment (``uv venv`` + ``uv pip install -r pyproject.toml --extra
   bench``), so a dependency bump is judged too; it is kept in ``<work>/envs/<key>`` and
   reused while REF's pin files (:data:`PIN_FILES`) and the Python version are the same, as
   the hash recorded in its marker says; REF's own code comes from the worktree (``PYTHONPATH``);
3. each side builds its models once (harness/paired_worker.py ``--save-models``, that side's
   Python and code, both sides at once, no profile): the same model bytes for every worker
   of that side;
4. ``processes`` pairs of measuring processes, one pair after the other (harness/paired_worker.py
   run by each side's Python with that side's code on ``PYTHONPATH``; a REF whose worker is
   older than this protocol gets the candidate's copy of the worker file, recorded in the
   result). Where a process lands (its heap, its arenas, its stack's alignment) moved one
   process's time per call by several per cent against another's for the whole of its life,
   so one pair of processes is one sample of that difference, and the interval needs several
   (reports.stats.cluster_interval). Both workers of a pair start alike (:func:`worker_launch`):
   the same Python flags, working folders and code folders of the same length, the same hash
   seed and environment size; the seed and an extra padding of the environment are drawn
   afresh for each pair, so that over a run the layout of start-up varies as between users;
5. each pair applies the profile, loads the models, and takes one discarded warm-up quad per
   case, then its share of the ``pairs`` quads per case: ABBA, BAAB, ..., the cases round-robin
   within each quad round; every block is recorded in order with its pair. Before each quad
   the cases of the runtimes in ``renew`` (LiteRT) get fresh runners on both sides (untimed):
   two interpreters of one model in one process differed by up to 3 % per call (where their
   arenas landed), which a renewal turns into per-quad noise;
6. the result is a :class:`PairedMeasurement` (every block, the quads per clock and case and
   each quad's process pair); reports.paired judges it.

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
import random
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
#: Environment of every worker: tfmot needs Keras 2, chosen before Python starts.
WORKER_ENV = {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
#: Variables a worker does not inherit: a venv of the coordinator's, and a ban on bytecode files (each
#: of a run's ~20 worker starts would compile TensorFlow's source again, ~9 s; the workers keep theirs
#: under ``<work>/pycache`` instead, next to no source file).
WORKER_ENV_DROP = ("VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE")
#: The variable that pads both workers' environments of a pair to one size.
PAD_VARIABLE = "CONTINUUM_BENCH_PAD"
#: Extra padding drawn for each pair, up to this many bytes (the range over which Mytkowicz et al.,
#: ASPLOS 2009, saw the environment's size move run time by several per cent).
MAX_PAD_BYTES = 4096
#: A worker of this file offers ``--save-models``/``--models`` (an older REF's worker gets the candidate's copy).
MODELS_FEATURE = "--save-models"
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
    renew: runtimes whose runners are rebuilt on both sides before every quad;
    processes: pairs of worker processes the quads are spread over, one after the other
    """

    @property
    def cases(self) -> tuple[str, ...]: ...
    @property
    def pairs(self) -> int: ...
    @property
    def block_s(self) -> float: ...
    @property
    def renew(self) -> tuple[str, ...]: ...
    @property
    def processes(self) -> int: ...


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
    #: seed of the pairs' hash seeds and paddings (None: a fresh one, recorded in the result)
    seed: int | None = None


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
    blocks: tuple[dict, ...]  # every timed block in order: process, quad, case, side, calls, seconds, cpu_seconds
    quads: dict  # clock -> case -> [((a1, a2), (b1, b2)), ...] per-call times of the quads (warm-up left out)
    info: dict  # per side: what the first pair's worker said at start
    seconds: dict  # env, build, start, warmup, measure, total [s]
    notes: tuple[str, ...] = ()
    profile: str = "device"
    preset: str = "quick"
    inject_slowdown: tuple[str, ...] = ()
    loadavg_end: tuple[float, ...] = ()  # the host's load average when measuring ended
    quad_process: tuple[int, ...] = ()  # the process pair of each quad (the same for every case)
    processes: tuple[dict, ...] = ()  # per pair: index, hash_seed, pad, and per side pid and start seconds
    seed: int | None = None  # the seed the pairs' hash seeds and paddings were drawn from


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

    def __init__(self, side: Side, launch: "Launch", stderr_dir: Path, name: str = "") -> None:
        self.side = side
        self.stderr_path = stderr_dir / f"worker-{side.label}{name}.stderr"
        self._stderr = open(self.stderr_path, "w+b")
        # its own session: a Ctrl-C on the terminal reaches the coordinator, which stops the workers itself;
        # a coordinator killed outright takes it along (parent-death signal)
        self.process = subprocess.Popen(launch.argv, cwd=launch.cwd, env=launch.env,
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


@dataclass(frozen=True)
class Launch:
    """How one worker process starts: its command line, working folder and whole environment."""

    argv: tuple[str, ...]
    cwd: Path
    env: dict


def _start_bytes(argv, env: dict) -> int:
    """Bytes a process's command line and environment take at the top of its first stack (each string
    and its NUL; ``KEY=VALUE``): what moves the stack's alignment between two starts."""
    return sum(len(a) + 1 for a in argv) + sum(len(k) + len(v) + 2 for k, v in env.items())


def worker_launch(sides: dict[str, Side], args: dict[str, list[str]], folder: Path, hash_seed: int,
                  pad: int, pycache: Path) -> dict[str, Launch]:
    """Both workers of one pair, started alike: ``python -m MODULE`` with no other flag, code from
    ``folder/<label>`` (a link to the side's checkout: paths of one length), run in ``folder/<label>.cwd``,
    the same variables (``PYTHONHASHSEED`` = ``hash_seed``) and :data:`PAD_VARIABLE` making their
    command lines and environments the same size plus ``pad`` bytes."""
    base = {k: v for k, v in os.environ.items() if k not in WORKER_ENV_DROP and k != PAD_VARIABLE}
    draft = {}
    for label, side in sides.items():
        view, cwd = folder / label, folder / f"{label}.cwd"
        if not view.is_symlink():
            view.symlink_to(side.root.resolve(), target_is_directory=True)
        cwd.mkdir(exist_ok=True)
        env = {**base, **WORKER_ENV, "PYTHONHASHSEED": str(hash_seed), "PYTHONPATH": str(view),
               "PYTHONPYCACHEPREFIX": str(pycache), PAD_VARIABLE: ""}
        draft[label] = Launch((side.python, "-m", side.worker, *args[label]), cwd, env)
    size = max(_start_bytes(d.argv, d.env) for d in draft.values()) + pad
    return {label: Launch(d.argv, d.cwd, {**d.env, PAD_VARIABLE: "x" * (size - _start_bytes(d.argv, d.env))})
            for label, d in draft.items()}


# ---- the run ----------------------------------------------------------------------------------

def pair_shares(pairs: int, processes: int) -> list[int]:
    """Quads per case taken by each of ``processes`` pairs, ``pairs`` in all, as even as can be."""
    return [(i + 1) * pairs // processes - i * pairs // processes for i in range(processes)]


def measure(start_pair: Callable[[int], dict[str, Worker]], config: BlockPlan,
            progress: Callable[[str], None]) -> dict:
    """Per process pair (``start_pair(i)`` gives it ready; it is stopped after its quads): on the first,
    calibrate the calls per block; then one warm-up quad per case and the pair's share of ``config.pairs``
    quads per case, cases round-robin within each quad round. Returns calls (per block), blocks (every
    block in order), quads (per clock and case: both clocks of the same blocks), quad_process (each
    quad's pair), seconds (start, warmup, measure)."""
    calls: dict = {}
    blocks: list[dict] = []
    quads: dict[str, dict[str, list]] = {clock: {case: [] for case in config.cases} for clock in CLOCKS}
    quad_process: list[int] = []
    seconds = {"start": 0.0, "warmup": 0.0, "measure": 0.0}
    started = time.perf_counter()
    q_all = 0
    for index, share in enumerate(pair_shares(config.pairs, config.processes)):
        t0 = time.perf_counter()
        workers = start_pair(index)
        seconds["start"] += time.perf_counter() - t0
        if not calls:
            for case in config.cases:
                per_call = min(workers[s].ask({"op": "probe", "case": case})["seconds"] for s in "AB")
                calls[case] = max(1, math.ceil(config.block_s / per_call)) if per_call > 0 else 1
        renewing = [case for case in config.cases if case.rsplit("-", 1)[-1] in config.renew
                    and all("renew" in workers[s].info.get("ops", ()) for s in "AB")]
        for q in range(-1, share):  # quad -1: warm-up, discarded
            t1 = time.perf_counter()
            order = QUAD_ORDERS[(q_all + q) % 2]
            for case in config.cases:
                if q >= 0 and case in renewing:  # fresh runners on both sides: an arena's placement is per-quad noise
                    for side in "AB":
                        workers[side].ask({"op": "renew", "case": case})
                times = {clock: {"A": [], "B": []} for clock in CLOCKS}
                for side in order:
                    answer = workers[side].ask({"op": "block", "case": case, "calls": calls[case]})
                    times["wall"][side].append(answer["seconds"] / calls[case])
                    times["cpu"][side].append(answer["cpu_seconds"] / calls[case])
                    blocks.append({"process": index, "quad": q_all + q if q >= 0 else -1, "case": case,
                                   "side": side, "calls": calls[case], "seconds": answer["seconds"],
                                   "cpu_seconds": answer["cpu_seconds"]})
                if q >= 0:
                    for clock in CLOCKS:
                        quads[clock][case].append((tuple(times[clock]["A"]), tuple(times[clock]["B"])))
            if q >= 0:
                quad_process.append(index)
            seconds["warmup" if q < 0 else "measure"] += time.perf_counter() - t1
        q_all += share
        for worker in workers.values():
            worker.stop()
        progress(f"[paired] process pair {index + 1}/{config.processes}: {q_all}/{config.pairs} quads of "
                 f"{len(config.cases)} case(s), {time.perf_counter() - started:.0f} s")
    return {"calls": calls, "blocks": blocks, "quads": quads, "quad_process": quad_process, "seconds": seconds}


def build_models(sides: dict[str, Side], request: PairedRequest, folder: Path) -> dict[str, Path]:
    """Each side's models, built by its own worker code with ``--save-models`` (both sides at once; no
    profile: the bytes do not depend on it) into ``folder/models-<label>``. Returns label -> folder."""
    out, builders = {}, {}
    for label, side in sides.items():
        out[label] = folder / f"models-{label}"
        args = ["--profile", "none", "--preset", request.preset, "--save-models", str(out[label]),
                *(a for case in request.plan.cases for a in ("--case", case))]
        env = {**{k: v for k, v in os.environ.items() if k not in WORKER_ENV_DROP}, **WORKER_ENV,
               "PYTHONHASHSEED": "0", "PYTHONPATH": str(side.root), "PYTHONPYCACHEPREFIX": str(request.work / "pycache")}
        builders[label] = Worker(side, Launch((side.python, "-m", side.worker, *args), side.root, env), folder,
                                 name="-build")
    try:
        for label, builder in builders.items():
            if builder.process.wait() != 0:
                raise builder._failed("while building its models")
    finally:
        for builder in builders.values():
            builder.stop()
    return out


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
    seed = request.seed if request.seed is not None else random.SystemRandom().randrange(2 ** 32)
    rng = random.Random(seed)
    with termination_as_interrupt(), ref_worktree(repo, ref_commit, request.work) as tree, \
            tempfile.TemporaryDirectory(prefix=f"paired-{os.getpid()}-", dir=request.work) as logs_name:
        logs = Path(logs_name)
        ref_worker = next((module for file, module in WORKER_LOCATIONS if (tree / file).is_file()
                           and MODELS_FEATURE in (tree / file).read_text(errors="replace")), None)
        if ref_worker is None:
            (tree / WORKER_FILE).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / WORKER_FILE, tree / WORKER_FILE)
            ref_worker = WORKER_MODULE
            notes.append(f"baseline {request.against} has no {WORKER_FILE} that builds its models once: "
                         f"the candidate's copy of it ran there")
        if request.baseline_python:
            python = request.baseline_python
            notes.append(f"baseline environment given: {python} (REF's pins not installed by this run)")
        else:
            python, reused = ref_environment(tree, request.work, progress)
            notes.append(f"baseline environment {'reused' if reused else 'built'}: {Path(python).parent.parent}")
        seconds["env"] = time.perf_counter() - t0
        sides = {"A": Side("A", tree, python, ref_commit, ref_worker), "B": Side("B", repo, sys.executable, candidate_commit)}
        active: dict[str, Worker] = {}
        processes: list[dict] = []
        first_info: dict = {}
        try:
            progress(f"[paired] building {len(plan.cases)} case(s)' models on both sides (preset {request.preset})")
            t1 = time.perf_counter()
            models = build_models(sides, request, logs)
            seconds["build"] = time.perf_counter() - t1

            def start_pair(index: int) -> dict[str, Worker]:
                hash_seed, pad = rng.randrange(1, 2 ** 32), rng.randrange(MAX_PAD_BYTES)
                args = {label: [*worker_args(request, inject=label == "B"), "--models", str(models[label])]
                        for label in sides}
                launches = worker_launch(sides, args, logs, hash_seed, pad, request.work / "pycache")
                active.clear()
                for label in sides:
                    active[label] = Worker(sides[label], launches[label], logs, name=f"-{index}")
                ready = {label: w.ready() for label, w in active.items()}
                if not first_info:
                    first_info.update(ready)
                processes.append({"index": index, "hash_seed": hash_seed, "pad": pad,
                                  **{label: {"pid": info.get("pid"), "prepare_s": info.get("prepare_s")}
                                     for label, info in ready.items()}})
                return dict(active)

            progress(f"[paired] measuring {len(plan.cases)} case(s) in {plan.processes} process pair(s) "
                     f"(profile {request.profile}, preset {request.preset})")
            measured = measure(start_pair, plan, progress)
            seconds.update(measured["seconds"])
            loadavg = tuple(os.getloadavg())
        except KeyboardInterrupt:
            for worker in active.values():
                worker.stop(INTERRUPT_GRACE_S)
            raise
        finally:
            for worker in active.values():
                worker.stop()
    seconds["total"] = time.perf_counter() - t0
    return PairedMeasurement(request.against, ref_commit, candidate_commit, measured["calls"], tuple(measured["blocks"]),
                             measured["quads"], first_info, seconds, tuple(notes), profile=request.profile,
                             preset=request.preset, inject_slowdown=tuple(request.inject_slowdown),
                             loadavg_end=loadavg, quad_process=tuple(measured["quad_process"]),
                             processes=tuple(processes), seed=seed)
