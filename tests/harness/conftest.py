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
    """One cache for the module: the tiny base model is trained once, by the first session that needs it."""
    return tmp_path_factory.mktemp("cache")


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
