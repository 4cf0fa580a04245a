"""The session tests' child suite over a previous run (tests/harness/sessions.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness.sessions import Previous, Session


@pytest.fixture
def previous_run(tmp_path) -> Previous:
    return Previous(tmp_path)


@pytest.fixture(scope="module")
def suite_cache(tmp_path_factory) -> Path:
    """One cache for the module, holding the tiny dataset and a tiny base model that is built, not
    trained: the sessions test the harness around the cases, not the model, and a child session
    that trained it spent ~10 s of the test command on it. The entry is a valid cache entry
    (fixtures/model.py writes it, manifest and hash), so the children load it as a trained one."""
    import fixtures.model as model_module
    from fixtures.dataset import dataset_for
    from fixtures.presets import get_preset

    root = tmp_path_factory.mktemp("cache")
    preset = get_preset("tiny")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(model_module, "_train", lambda preset, dataset, progress: (model_module.build_mobilenet(preset), 0.0))
        model_module.base_model_info(preset, dataset_for(preset, cache_root=root), cache_root=root, progress=False)
    return root


@pytest.fixture
def suite_session():
    started: list[Session] = []

    def start(*args, cache: Path) -> Session:
        s = Session(cache, *args)
        started.append(s)
        return s

    yield start
    for s in started:
        s.kill()
