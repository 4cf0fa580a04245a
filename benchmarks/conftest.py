"""Session fixtures of the benchmark suite: the preset, the dataset, the base model,
the chain of models, the thread counts and -- for edge-loaded -- the background load.
The hooks (options, profile, case order, results) are harness/plugin.py's."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

from fixtures.presets import Preset, get_preset
from harness.plugin import stop_unless_still_valid
from harness.progress import live_output
from harness.stash import APPLIED_KEY, BASE_INFO_KEY, GC_PHASE_KEY, LOAD_KEY
from harness.timing import OPERATION_MARKER
from pipeline.chain import ModelChain

@pytest.fixture(scope="session")
def preset(pytestconfig: pytest.Config) -> Preset:
    return get_preset(pytestconfig.getoption("preset"))


@pytest.fixture(scope="session")
def threads(pytestconfig: pytest.Config) -> dict:
    """Thread counts of this run: the profile's, or None (library defaults) without a profile.

    TensorFlow's pools are set here, before the first TensorFlow op of the session.
    """
    applied = pytestconfig.stash.get(APPLIED_KEY, None)
    if applied is None:
        return {"tensorflow_intra_op": None, "tensorflow_inter_op": None, "litert": None}
    from emulation.threads import configure_tensorflow_threads

    return configure_tensorflow_threads(applied)


@pytest.fixture(scope="session")
def dataset(pytestconfig: pytest.Config, preset: Preset, threads: dict):
    from fixtures.dataset import dataset_for

    data_dir = pytestconfig.getoption("data_dir")
    return dataset_for(preset, Path(data_dir) if data_dir else None)


@pytest.fixture(scope="session")
def base(pytestconfig: pytest.Config, preset: Preset, dataset):
    """The trained base MobileNet v1 (cached on disk), or the user's --weights.

    Weights that do not fit the model end the session here, before any case is
    timed, with the file and the shapes named.
    """
    weights = pytestconfig.getoption("weights")
    weights = Path(weights) if weights else None
    try:
        if weights is not None:
            # A file that does not fit is refused before TensorFlow is imported (seconds): its arrays say it.
            from fixtures.weights import check_preset_fit, read_weights_file

            check_preset_fit(read_weights_file(weights), preset_name=preset.name, alpha=preset.alpha,
                             input_size=preset.input_size)
        from fixtures.model import load_base_model

        with live_output(pytestconfig):
            model, info = load_base_model(preset, dataset, weights=weights)
    except ValueError as err:
        pytest.exit(f"--weights: {err}", returncode=pytest.ExitCode.USAGE_ERROR)
    pytestconfig.stash[BASE_INFO_KEY] = info
    return model


@pytest.fixture(scope="session")
def chain(pytestconfig: pytest.Config, preset: Preset, dataset, base) -> ModelChain:
    return ModelChain(preset, dataset, base, base_sha256=pytestconfig.stash[BASE_INFO_KEY].sha256)


@pytest.fixture(scope="session")
def sample(dataset):
    """One test image as a batch of one (the study's batch-1 inference)."""
    return dataset.x_test[:1].copy()


@pytest.fixture(scope="session", autouse=True)
def background_load(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """For a profile with a background load: N inference workers running the base model,
    started (behind a readiness barrier) before the first benchmark, stopped at session end."""
    config = request.config
    applied = config.stash.get(APPLIED_KEY, None)
    if applied is None or not applied.profile.load_workers:
        yield None
        return
    from emulation.load import BackgroundLoad

    chain = request.getfixturevalue("chain")
    model_path = tmp_path_factory.mktemp("load") / "load_model.tflite"
    model_path.write_bytes(chain.tflite(0, None))
    load = BackgroundLoad.from_profile(applied, model_path)
    config.stash[LOAD_KEY] = load
    with live_output(config):
        print(f"\n[continuum-bench] starting the background load: {applied.profile.load_workers} workers", file=sys.stderr)
        load.start()
        print(f"[continuum-bench] background load ready: {load.describe()}", file=sys.stderr)
    yield load
    load.stop()


@pytest.fixture(autouse=True)
def _collect_garbage(request: pytest.FixtureRequest):
    """Collect before every case, outside its timing. The timed rounds run with the garbage
    collector off (harness/plugin.py sets --benchmark-disable-gc): with TensorFlow's and
    Keras' objects in the process a collection costs milliseconds and lands in random rounds:
    on the CI VM one LiteRT interpreter's median moved 7-9 % (SD) between 1-second blocks of
    rounds with the collector on, 2-3 % with it off (docs/reports.md, the gate).

    A full collection walks every object in the process: ~400,000 after TensorFlow's import
    alone, 0.3-0.8 s per collection, 75 s of a 460-s device session at one per case (py-spy,
    this suite). So the first case of each operation collects everything and then freezes
    what survives (``gc.freeze``: the imports, the dataset, the chain's models), and the
    cases after it collect only what was made since, and freeze what survives of that too: a
    case's survivors (a fine-tuned model, a traced graph) were otherwise walked again by every
    later case of the operation (89 collections took 12.6 s of a device session on the loaded
    VM). The next operation unfreezes first, so nothing that died meanwhile outlives one operation."""
    marker = request.node.get_closest_marker(OPERATION_MARKER)
    phase = marker.args[0] if marker else request.node.name
    if request.config.stash.get(GC_PHASE_KEY, None) != phase:
        gc.unfreeze()
        request.config.stash[GC_PHASE_KEY] = phase
    gc.collect()
    gc.freeze()
    yield


@pytest.fixture(autouse=True)
def _still_valid_after_the_case(request: pytest.FixtureRequest, background_load):
    """Checked after each case: one that ran while a worker died errors, with the message."""
    yield
    if not request.session.shouldfail:  # already stopped (and said why) before the call
        stop_unless_still_valid(request.config, request.session)
