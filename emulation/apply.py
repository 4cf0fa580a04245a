"""Apply a profile to this process before TensorFlow starts, read it back, undo it.

    applied = apply_profile(get_profile("device"), allow_unenforced=False)
    ...                                  # then import TensorFlow, run the benchmarks
    emulation.threads.configure_tensorflow_threads(applied)  # after TF import, before its first op
    machine_info["continuum"] = {"profile": applied.record(), ...}
    applied.release()                      # idempotent; also runs at exit and on SIGINT/SIGTERM/SIGHUP

What is applied: CPU affinity (the last ``cpus`` CPUs of the allowed set, for
every thread of the process), a cgroup CPU quota and memory limit (a child group
``continuum-bench-<pid>`` below the process's own group, per controller), and
the thread-pool environment variables. Each is read back from the OS; a limit
that was requested but could not be applied raises :class:`ProfileNotEnforced`
unless ``allow_unenforced`` is true, and then the record says ``enforced: false``
with the reason. A limit not requested is recorded as ``requested: false``.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from emulation import cgroups, stale, threads
from emulation.guard import ExitGuard
from emulation.profiles import Profile, ProfileNotEnforced


class ProfileNotHeld(RuntimeError):
    """What was enforced at the start no longer holds (``problems``: limit -> what changed)."""

    def __init__(self, profile: str, problems: dict[str, str]):
        self.profile = profile
        self.problems = dict(problems)
        lines = "\n".join(f"  - {k}: {v}" for k, v in self.problems.items())
        super().__init__(f"profile {profile!r} did not hold for the whole session:\n{lines}\n"
                         f"What was measured since is not under the profile the results claim.")


@dataclass
class _Group:
    place: cgroups.ControllerPlace
    path: Path
    moved: bool = False


@dataclass
class AppliedProfile:
    """What apply_profile did; :meth:`record` for machine_info, :meth:`release` to undo."""

    profile: Profile
    allow_unenforced: bool
    enforced: dict
    environment: dict
    _groups: dict[str, _Group] = field(default_factory=dict)
    _previous_affinity: set[int] | None = None
    _previous_env: dict | None = None
    _guard: ExitGuard | None = None
    _released: dict | None = None
    _noted: bool = False

    @property
    def cpus(self) -> list[int]:
        """The CPUs the process is pinned to (the read-back affinity)."""
        return list(self.enforced["affinity"].get("value", []))

    @property
    def groups(self) -> dict[str, str]:
        """controller -> path of the group this run created (empty after release)."""
        return {c: str(g.path) for c, g in self._groups.items()}

    def unenforced(self) -> dict[str, str]:
        """limit -> reason for each requested limit that is not enforced."""
        out = {}
        for key, entry in self.enforced.items():
            if key == "threads":
                for sub, e in entry.items():
                    if e.get("requested", True) and e.get("enforced") is False:
                        out[f"threads.{sub}"] = e.get("reason", "read back differs from the request")
            elif entry.get("requested", True) and not entry.get("enforced"):
                out[key] = entry.get("reason", "not enforced")
        return out

    def held_problems(self) -> dict[str, str]:
        """limit -> what changed, for each enforced limit that no longer reads back as applied.

        Affinity of every thread, membership of this process in each created
        group, the group's quota or memory limit, and OOM kills the memory limit
        made in the group (a worker or child killed while this process survives).
        Empty once released (nothing is held then).
        """
        if self._released is not None:
            return {}
        out = {}
        affinity = self.enforced.get("affinity", {})
        if affinity.get("enforced"):
            want = set(affinity["value"])
            for tid in _task_ids():
                try:
                    got = os.sched_getaffinity(tid)
                except ProcessLookupError:
                    continue  # the thread ended meanwhile
                if not got <= want:  # a library may pin its threads to a subset; none may leave the set
                    out["affinity"] = f"thread {tid} may run on CPUs {sorted(got)}, outside {sorted(want)}"
                    break
        for controller, group in self._groups.items():
            key = "cpu_quota" if controller == "cpu" else "memory_limit"
            entry = self.enforced.get(key, {})
            if not entry.get("enforced"):
                continue
            try:
                if os.getpid() not in cgroups.group_pids(group.path):
                    out[key] = f"this process is no longer in {group.path}"
                    continue
                if controller == "cpu":
                    quota_us, _ = cgroups.read_cpu_quota(group.place, group.path)
                    if quota_us != entry["quota_us"]:
                        out[key] = f"{group.path} reads back a quota of {quota_us} us, not {entry['quota_us']}"
                    continue
                limit = cgroups.read_memory_limit(group.place, group.path)
                if limit != entry["value"]:
                    out[key] = f"{group.path} reads back a memory limit of {limit} B, not {entry['value']}"
                kills = cgroups.oom_kills(group.place, group.path)
                if kills:
                    out[key] = (f"the memory limit ({entry['value'] / 2**20:.0f} MiB) killed {kills} process(es) of "
                                f"this run: oom_kill {kills} in {group.path}")
            except (OSError, ValueError) as exc:
                out[key] = f"cannot read {group.path} back: {exc}"
        return out

    def check_held(self) -> None:
        """Raise :class:`ProfileNotHeld` when :meth:`held_problems` finds anything."""
        problems = self.held_problems()
        if problems:
            raise ProfileNotHeld(self.profile.name, problems)

    def record(self) -> dict:
        """JSON-serialisable record: requested, enforced (read back from the OS), environment."""
        return {
            "name": self.profile.name,
            "requested": self.profile.to_dict(),
            "enforced": self.enforced,
            "all_enforced": not self.unenforced(),
            "allow_unenforced": self.allow_unenforced,
            "environment": self.environment,
            "released": self._released,
        }

    def release(self) -> dict:
        """Move this process back to its groups, remove the created ones, restore affinity and env.

        Idempotent. Background workers in the groups must have been stopped and
        reaped first; a group that still holds processes is left in place and
        reported (OSError), never emptied by force.
        """
        if self._released is not None:
            return self._released
        errors = []
        removed = []
        for controller, group in list(self._groups.items()):
            try:
                if group.moved:
                    cgroups.move_pid(group.place, group.place.own_group, os.getpid())
                cgroups.remove_group(group.path)
                removed.append(str(group.path))
                del self._groups[controller]
            except OSError as exc:
                errors.append(f"{controller}: {exc}")
        if self._previous_affinity is not None:
            _set_affinity_all_threads(self._previous_affinity)
        if self._previous_env is not None:
            threads.restore_thread_env(self._previous_env)
        if self._noted and not self._groups:
            stale.remove_note()
            self._noted = False
        self._released = {"at_unix_s": time.time(), "groups_removed": removed, "errors": errors}
        if self._guard is not None:
            self._guard.disarm()
        if errors:
            raise OSError("could not remove every cgroup this run created: " + "; ".join(errors))
        return self._released


def _task_ids() -> list[int]:
    try:
        return sorted(int(t) for t in os.listdir("/proc/self/task"))
    except OSError:
        return [0]


def _set_affinity_all_threads(cpus: set[int]) -> None:
    for tid in _task_ids():
        try:
            os.sched_setaffinity(tid, cpus)
        except ProcessLookupError:
            continue  # the thread ended meanwhile


def choose_cpus(allowed: set[int], n: int) -> list[int]:
    """The last ``n`` CPUs of ``allowed``, sorted (deterministic; CPU 0 takes most interrupts)."""
    return sorted(allowed)[-n:]


def _apply_affinity(profile: Profile, applied: AppliedProfile) -> None:
    if not hasattr(os, "sched_setaffinity"):
        applied.enforced["affinity"] = {"requested": True, "enforced": False, "reason": "os.sched_setaffinity is not available on this platform"}
        return
    allowed = os.sched_getaffinity(0)
    chosen = choose_cpus(allowed, profile.cpus)
    if len(chosen) < profile.cpus:
        applied.enforced["affinity"] = {"requested": True, "enforced": False, "requested_cpus": profile.cpus,
                                        "reason": f"only {len(allowed)} CPUs allowed: {sorted(allowed)}"}
        return
    applied._previous_affinity = allowed
    try:
        _set_affinity_all_threads(set(chosen))
    except OSError as exc:
        applied.enforced["affinity"] = {"requested": True, "enforced": False, "reason": f"sched_setaffinity: {exc}"}
        return
    per_thread = {}
    for tid in _task_ids():
        try:
            per_thread[tid] = sorted(os.sched_getaffinity(tid))
        except ProcessLookupError:
            continue
    ok = all(v == chosen for v in per_thread.values())
    entry = {"requested": True, "enforced": ok, "value": sorted(os.sched_getaffinity(0)),
             "requested_cpus": chosen, "allowed_before": sorted(allowed), "threads_checked": len(per_thread)}
    if not ok:
        entry["reason"] = f"read-back affinity per thread differs from {chosen}: {per_thread}"
    applied.enforced["affinity"] = entry


def _apply_cgroup_limit(kind: str, value, applied: AppliedProfile, cgroup_root) -> None:
    key = "cpu_quota" if kind == "cpu" else "memory_limit"
    if value is None:
        applied.enforced[key] = {"requested": False, "enforced": False, "reason": "not requested by the profile"}
        return
    entry: dict = {"requested": True, "enforced": False}
    applied.enforced[key] = entry
    if not sys.platform.startswith("linux"):
        entry["reason"] = f"cgroups need Linux, this is {sys.platform}"
        return
    try:
        place = cgroups.locate_controller(kind, cgroup_root)
    except (cgroups.CgroupUnavailable, OSError) as exc:
        entry["reason"] = str(exc)
        return
    entry["cgroup_version"] = place.version
    try:
        path = cgroups.create_group(place)
    except cgroups.CgroupUnavailable as exc:
        entry["reason"] = str(exc)
        return
    group = _Group(place, path)
    applied._groups[kind] = group
    entry["group"] = str(path)
    try:
        if kind == "cpu":
            cgroups.write_cpu_quota(place, path, value)
        else:
            cgroups.write_memory_limit(place, path, value)
        cgroups.move_pid(place, path, os.getpid())
        group.moved = True
    except OSError as exc:
        entry["reason"] = f"writing {path}: {exc.strerror or exc}"
        return
    in_group = os.getpid() in cgroups.group_pids(path)
    if kind == "cpu":
        quota_us, period_us = cgroups.read_cpu_quota(place, path)
        want_us = max(1000, round(value * period_us))
        entry.update(quota_us=quota_us, period_us=period_us,
                     value=None if quota_us is None else quota_us / period_us,
                     effective=cgroups.effective_limit(place, path, "cpu"))
        ok = quota_us == want_us
    else:
        limit = cgroups.read_memory_limit(place, path)
        entry.update(value=limit, effective=cgroups.effective_limit(place, path, "memory"))
        ok = limit is not None and abs(limit - value) < cgroups.PAGE_BYTES
    entry["process_in_group"] = in_group
    entry["enforced"] = bool(ok and in_group)
    if not entry["enforced"]:
        entry["reason"] = f"read back {entry['value']!r} (process in group: {in_group}) for a request of {value!r}"


def _read_text(path: str) -> str | None:
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return None


def host_contention() -> dict:
    """What else competes for the CPUs: load average [runnable tasks] and the scheduler's autogroup.

    With ``sched_autogroup_enabled`` = 1 the kernel shares CPU time fairly
    between sessions first, so on a shared host a profile's limits are upper
    bounds and a timing reflects the other sessions' load too.
    """
    return {
        "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "sched_autogroup_enabled": _read_text("/proc/sys/kernel/sched_autogroup_enabled"),
        "autogroup": _read_text("/proc/self/autogroup"),
        "host_cpu_count": os.cpu_count(),
    }


def apply_profile(
    profile: Profile,
    allow_unenforced: bool = False,
    *,
    cgroup_root: Path | str | None = None,
) -> AppliedProfile:
    """Apply ``profile`` to this process; call before TensorFlow (and numpy) are imported.

    ``cgroup_root`` (default: the mounted hierarchies) exists for tests. Raises
    :class:`ProfileNotEnforced` (after undoing what was applied) when a requested
    limit could not be applied and ``allow_unenforced`` is false.
    Raises :class:`emulation.stale.NoteNotWritable` (a ValueError naming the
    path) before any group exists when the run's note cannot be written.
    """
    applied = AppliedProfile(profile=profile, allow_unenforced=allow_unenforced, enforced={}, environment={})
    applied.environment = {
        "platform": sys.platform,
        "pid": os.getpid(),
        "cpus_allowed_before": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "modules_loaded_before": sorted(m for m in threads.POOL_MODULES if m in sys.modules),
        **host_contention(),
    }
    applied.environment["stale_groups"] = stale.remove_stale_groups(cgroup_root)
    applied.environment["stale_load_dirs"] = stale.remove_stale_load_dirs()
    try:
        _apply_affinity(profile, applied)
        if profile.cpu_quota is not None or profile.memory_bytes is not None:
            # before any group exists: should the note fail, nothing is left to clean; should this
            # run be killed, the next start can name its profile
            stale.write_note(profile.name, profile.memory_bytes)
            applied._noted = True
        _apply_cgroup_limit("cpu", profile.cpu_quota, applied, cgroup_root)
        _apply_cgroup_limit("memory", profile.memory_bytes, applied, cgroup_root)
        applied._previous_env = threads.set_thread_env(profile.threads)
        applied.enforced["threads"] = threads.read_back_thread_env(profile.threads)
        applied.enforced["threads"]["tensorflow"] = {
            "requested": True, "enforced": None, "intra_op": profile.threads.tf_intra_op,
            "inter_op": profile.threads.tf_inter_op,
            "reason": "pending: emulation.threads.configure_tensorflow_threads(applied) sets them after TF is imported",
        }
        applied.enforced["threads"]["litert"] = {
            "requested": True, "enforced": None, "num_threads": profile.threads.litert,
            "reason": "passed by the caller as LiteRTRunner(num_threads=...); not observable from the OS",
        }
    except BaseException:
        applied.release()
        raise
    missing = applied.unenforced()
    if missing and not allow_unenforced:
        applied.release()
        raise ProfileNotEnforced(profile.name, missing)
    applied._guard = ExitGuard(applied.release, f"profile {profile.name}")
    applied.environment["signal_handlers"] = applied._guard.signals_handled
    return applied
