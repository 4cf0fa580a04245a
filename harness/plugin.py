"""The suite's pytest plugin: every option, and each pytest hook implemented once.

The profile is applied in ``pytest_configure`` -- before any test module (and so
TensorFlow) is imported -- and released in ``pytest_unconfigure``; the
emulation package also releases it on SIGTERM/SIGINT and at exit. A session
that writes results first takes the checkout's run lock, and
:mod:`harness.commit` decides at its end whether they replace the last good
ones. The hooks hand their work to plain objects kept in ``config.stash``:
:class:`harness.commit.SessionResults` (the verdict), :class:`harness.timing.SessionClock`
(where the time went), :mod:`harness.inject` (``--inject-slowdown``). ``machine_info`` is
built in one place, :func:`pytest_benchmark_update_machine_info`. Loaded by the root
conftest.py (``pytest_plugins``), so its options exist whichever folder a session collects
(tests/harness/test_options.py runs ``--data-dir DIR`` from the checkout's root). This module
must not import TensorFlow.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from fixtures.presets import PRESETS, get_preset
from harness import inject
from harness.contract import QUANTIZATIONS
from harness.stash import APPLIED_KEY, BASE_INFO_KEY, CLOCK_KEY, JSON_KEY, KERNEL_PATH_KEY, LOAD_KEY, RESULTS_KEY
from harness.timing import OPERATION_MARKER, SessionClock

NO_PROFILE = "none"
#: Benchmark cases run in the order of the pipeline (by module), so each step can take the previous
#: one's output; parametrize order is kept inside a module.
OPERATION_ORDER = ("test_prune", "test_bn_recalibration", "test_finetune", "test_quantize", "test_inference",
                   "test_serialization", "test_encryption")


def _profile_names() -> list[str]:
    from emulation.profiles import PROFILES

    return sorted(PROFILES)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("continuum-bench")
    group.addoption(
        "--preset",
        default="quick",
        help=f"scale of the run: one of {', '.join(sorted(PRESETS))} (default: quick)",
    )
    group.addoption(
        "--profile",
        default=NO_PROFILE,
        help="hardware profile to emulate: device, edge-idle, edge-loaded, or none to run "
        "unconstrained (default: none)",
    )
    group.addoption(
        "--profile-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one field of the profile, e.g. cpus=2, cpu_quota=0.5, memory_bytes=8GiB, "
        "load_workers=8; repeatable (default: no override)",
    )
    group.addoption(
        "--allow-unenforced",
        action="store_true",
        default=False,
        help="run even where a limit of the profile cannot be applied; the JSON then records "
        "enforced: false with the reason (default: stop with an error)",
    )
    group.addoption(
        "--data-dir",
        default=None,
        help="ImageNet-style folder (one subfolder of images per class) to use instead of the "
        "embedded dataset; required by the paper preset (default: the embedded dataset)",
    )
    group.addoption(
        "--weights",
        default=None,
        help="local MobileNet v1 weights file (.h5): Keras' 1000-class classifier (restricted to a folder of "
        "WordNet ids), its backbone without top (a head is trained and cached), or a classifier of the preset's "
        "classes; docs/weights.md (default: train the base model, cached on disk)",
    )
    group.addoption(
        "--wait-for-run",
        action="store_true",
        default=False,
        help="when another session of this checkout holds its run lock (<cache>/run.lock), wait for it to "
        "end instead of stopping with its pid (default: stop)",
    )
    group.addoption(
        "--inference-order",
        choices=("interleaved", "sequential"),
        default="interleaved",
        help="how the inference cases' timed rounds are taken: round-robin across the cases "
        "(interleaved, the default) or each case's rounds one after another (sequential, the "
        "order before interleaving; for comparing the two, docs/paired.md)",
    )
    group.addoption(
        "--quantization",
        default=None,
        metavar="MODES",
        help="run only the cases of these quantizations, comma-separated: "
        f"{', '.join(QUANTIZATIONS)} (none: the float cases); cases without a quantization "
        "(pruning, encryption, ...) always run (default: every quantization)",
    )
    group.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run tests marked slow (default: skip them, with the reason)",
    )
    inject.add_option(parser)


def _validate_inputs(config: pytest.Config) -> None:
    """Refuse bad options before anything runs: preset, profile, weights (the data dir: below)."""
    try:
        preset = get_preset(config.getoption("preset"))
    except ValueError as err:
        raise pytest.UsageError(f"--preset: {err}") from None
    profile = config.getoption("profile")
    if profile != NO_PROFILE and profile not in _profile_names():
        raise pytest.UsageError(
            f"--profile: unknown profile {profile!r}; known profiles: {', '.join(_profile_names())}, {NO_PROFILE}"
        )
    data_dir = config.getoption("data_dir")
    if data_dir is None and not preset.embedded:
        raise pytest.UsageError(
            f"--preset {preset.name} needs --data-dir: a folder with one subfolder of images per class"
        )
    weights = config.getoption("weights")
    if weights is not None and not Path(weights).is_file():
        raise pytest.UsageError(f"--weights: no such file: {weights}")
    chosen_quantizations(config)


def chosen_quantizations(config: pytest.Config) -> tuple[str, ...] | None:
    """The quantizations ``--quantization`` selects (None: all); ``pytest.UsageError`` naming an
    unknown or empty value."""
    raw = config.getoption("quantization", None)
    if raw is None:
        return None
    modes = tuple(mode.strip() for mode in raw.split(","))
    for mode in modes:
        if mode not in QUANTIZATIONS:
            raise pytest.UsageError(
                f"--quantization: unknown quantization {mode!r} in {raw!r}; expected a comma-separated list of "
                f"{', '.join(QUANTIZATIONS)}"
            )
    return modes


def _validate_data_dir(config: pytest.Config) -> None:
    """Refuse a --data-dir whose layout is wrong or with an image that does not decode, before
    the first case (imports numpy: runs after the profile set the thread variables, which
    OpenBLAS reads once, at import)."""
    data_dir = config.getoption("data_dir")
    if data_dir is None:
        return
    from fixtures.dataset import DatasetError, check_image_folder, verify_images

    try:
        _, per_class = check_image_folder(Path(data_dir), get_preset(config.getoption("preset")).num_classes)
        verify_images(f for files in per_class for f in files)
    except DatasetError as err:
        raise pytest.UsageError(f"--data-dir: {err}") from None


def _redirect_outputs(config: pytest.Config) -> None:
    """Write --benchmark-json atomically (through a partial file beside it) and keep histories per host."""
    final = config.getoption("benchmark_json", default=None)
    if final:
        final = Path(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        # pytest-benchmark writes only to the partial file harness/commit.py creates at the end,
        # never to ``final`` (runs before pytest-benchmark's configure reads the option)
        config.option.benchmark_json = None
        config.stash[JSON_KEY] = final
    storage = config.getoption("benchmark_storage", default=None)
    if storage and storage.startswith("file://") and config.getoption("profile") != NO_PROFILE:
        # One history per profile *and* host: pytest-benchmark's own machine id
        # ("Linux-CPython-3.11-64bit") does not tell two hosts apart.
        from harness.contract import host_storage, unique_entry_name

        config.option.benchmark_storage = host_storage(storage)
        # pytest-benchmark numbers entries per folder: a run token keeps two machines' 0001 apart in one store
        for option in ("benchmark_autosave", "benchmark_save"):
            if config.getoption(option, default=None):
                setattr(config.option, option, unique_entry_name(config.getoption(option)))


def _start_results(config: pytest.Config) -> None:
    """For a session that writes results: the run lock, then the judge that commits them."""
    if config.stash.get(JSON_KEY, None) is None and not (
        config.getoption("benchmark_autosave", default=None) or config.getoption("benchmark_save", default=None)
    ):
        return
    from harness.commit import SessionResults
    from harness.runlock import RunLocked
    from fixtures.cache import cache_root

    try:
        results = SessionResults.start(config, cache_root(), wait=config.getoption("wait_for_run"))
    except RunLocked as err:
        raise pytest.UsageError(str(err)) from None
    config.stash[RESULTS_KEY] = results
    config.pluginmanager.register(ResultsHooks(results), "continuum-bench-results")


def _say_what_dead_runs_left(applied) -> None:
    """The next start says what a killed run left: an OOM kill by its memory limit first."""
    from emulation.stale import stale_messages

    env = applied.environment
    for line in stale_messages(env.get("stale_groups", []), env.get("stale_load_dirs", [])):
        print(f"continuum-bench: {line}", file=sys.stderr, flush=True)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Timed rounds never include a garbage collection (benchmarks/conftest.py collects before
    # each case); runs first, so pytest-benchmark's session reads it. Recorded per benchmark
    # in options.disable_gc of the JSON.
    config.option.benchmark_disable_gc = True
    config.stash[CLOCK_KEY] = SessionClock()
    _validate_inputs(config)
    inject.configure(config)  # refuses an injected run that would be saved, before the run lock
    _redirect_outputs(config)
    _start_results(config)  # before the profile: a refused second run touches nothing
    profile_name = config.getoption("profile")
    if profile_name == NO_PROFILE:
        _validate_data_dir(config)
        _take_signals(config)
        return
    if "tensorflow" in sys.modules:
        raise pytest.UsageError("TensorFlow was imported before the profile could be applied")
    from emulation.apply import apply_profile
    from emulation.profiles import ProfileNotEnforced, get_profile, parse_overrides

    try:
        profile = get_profile(profile_name, parse_overrides(config.getoption("profile_set")))
        applied = apply_profile(profile, allow_unenforced=config.getoption("allow_unenforced"))
    except ProfileNotEnforced as err:
        raise pytest.UsageError(str(err)) from None
    except ValueError as err:
        raise pytest.UsageError(f"--profile {profile_name}: {err}") from None
    config.stash[APPLIED_KEY] = applied
    _say_what_dead_runs_left(applied)
    try:
        _validate_data_dir(config)
    except pytest.UsageError:
        applied.release()
        raise
    _take_signals(config)


def _take_signals(config: pytest.Config) -> None:
    results = config.stash.get(RESULTS_KEY, None)
    if results is not None:
        results.install_signal_handlers()  # after the profile's guard: Ctrl-C/SIGTERM end the session cleanly


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        module = Path(str(item.fspath)).stem
        if item.get_closest_marker(OPERATION_MARKER) is None or module not in OPERATION_ORDER:
            return len(OPERATION_ORDER)
        return OPERATION_ORDER.index(module)

    items.sort(key=rank)  # stable: keeps parametrize order inside a module
    modes = chosen_quantizations(config)
    if modes is not None:
        kept, dropped = [], []
        for item in items:
            (dropped if case_quantization(item) not in (None, *modes) else kept).append(item)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept
    if config.getoption("run_slow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


#: Operations whose records carry a ``quantization`` (the others' cases run under any --quantization).
QUANTIZED_OPERATIONS = ("finetune", "quantize", "inference", "serialization")


def case_quantization(item: pytest.Item) -> str | None:
    """The quantization a benchmark case measures: its ``quantization`` parameter, ``int8-qat`` for an
    id ending so (the quantization-aware fine-tuning), ``none`` for the other cases of
    :data:`QUANTIZED_OPERATIONS`; None for a case of another operation or no case at all."""
    marker = item.get_closest_marker(OPERATION_MARKER)
    if marker is None or not marker.args or marker.args[0] not in QUANTIZED_OPERATIONS:
        return None
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "quantization" in callspec.params:
        return callspec.params["quantization"]
    return "int8-qat" if item.name.endswith("-int8-qat]") else "none"


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    load = config.stash.get(LOAD_KEY, None)
    if load is not None:
        load.stop()
    applied = config.stash.get(APPLIED_KEY, None)
    if applied is not None:
        applied.release()
    results = config.stash.get(RESULTS_KEY, None)
    if results is not None:
        results.close()  # last: signal handlers back, the run lock dropped


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    """The run's ``machine_info``: ``continuum`` (what ran, as enforced, and the session's verdict),
    ``continuum_timing``, ``injected_slowdown`` and, in a counted session, ``counts``."""
    from harness.record import add_fingerprint, add_quantization_info, machine_record

    continuum = machine_record(
        config,
        applied=config.stash.get(APPLIED_KEY, None),
        load=config.stash.get(LOAD_KEY, None),
        base_info=config.stash.get(BASE_INFO_KEY, None),
    )
    results = config.stash.get(RESULTS_KEY, None)
    if results is not None and results.record is not None:
        continuum["session"] = results.record
    machine_info["continuum"] = continuum
    add_quantization_info(machine_info, config.stash.get(KERNEL_PATH_KEY, None))
    add_fingerprint(machine_info)  # needs machine_info.cpu (pytest-benchmark's) and the profile record
    machine_info["continuum_timing"] = config.stash[CLOCK_KEY].breakdown()
    machine_info[inject.MACHINE_INFO_KEY] = inject.machine_info(config)
    from harness.counts import COUNTER_KEY, INPUTS_ENV_VARIABLE, counts_machine_info

    if os.environ.get(INPUTS_ENV_VARIABLE):
        machine_info["counts"] = counts_machine_info(config.stash.get(COUNTER_KEY, None))


# -- the session's results (harness/commit.py) -------------------------------------------------

def pytest_sessionstart(session: pytest.Session) -> None:
    results = session.config.stash.get(RESULTS_KEY, None)
    if results is not None:
        results.session_started(session)


def pytest_collection_finish(session: pytest.Session) -> None:
    results = session.config.stash.get(RESULTS_KEY, None)
    if results is not None:
        results.collected(session)


class ResultsHooks:
    """The results' hooks whose arguments do not reach the config; registered (in
    :func:`_start_results`) only in a session that writes results."""

    def __init__(self, results) -> None:
        self.results = results

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.results.logreport(report)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_keyboard_interrupt(self, excinfo):
        try:
            return (yield)
        except Exception as error:  # noqa: BLE001 -- any renderer failure; the interrupt itself goes on
            self.results.interrupt_not_rendered(excinfo, error)
            return None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int):
    """Judge before pytest-benchmark writes anything; commit or discard after it has."""
    results = session.config.stash.get(RESULTS_KEY, None)
    if results is None:
        return (yield)
    results.finishing(session, exitstatus)
    outcome = yield
    results.finished(session)
    return outcome


# -- where the time went (harness/timing.py) ---------------------------------------------------

@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    clock = request.config.stash[CLOCK_KEY]
    frame = clock.fixture_started(fixturedef)
    try:
        yield
    finally:
        clock.fixture_ended(fixturedef, frame)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    clock = item.config.stash[CLOCK_KEY]
    started = clock.case_started(item)
    yield
    clock.case_ended(item, started)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    clock = item.config.stash[CLOCK_KEY]
    clock.call_started()
    yield
    clock.call_ended(item)


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    for line in config.stash[CLOCK_KEY].summary_lines():
        terminalreporter.write_line(line)


# -- each timed call -----------------------------------------------------------------------------

@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):
    """Right before the call, after its fixtures were set up: stop unless the profile and the load
    still hold; then the call, with ``--inject-slowdown``'s proxy where it applies."""
    stop_unless_still_valid(pyfuncitem.config, pyfuncitem.session)
    with inject.injected_benchmark(pyfuncitem):
        return (yield)


def stop_unless_still_valid(config: pytest.Config, session: pytest.Session) -> None:
    """Raise, and stop the session, when the profile no longer holds (a limit lost, an OOM
    kill) or a load worker died: no further case is timed under conditions the results
    would misstate (harness/commit.py then keeps the last good results)."""
    applied = config.stash.get(APPLIED_KEY, None)
    load = config.stash.get(LOAD_KEY, None)
    if applied is None and load is None:
        return
    from emulation.apply import ProfileNotHeld
    from emulation.load import WorkerDied

    try:
        if applied is not None:
            applied.check_held()
        if load is not None:
            load.check()
    except (ProfileNotHeld, WorkerDied) as exc:
        session.shouldfail = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        raise
