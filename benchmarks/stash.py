"""Keys of the per-session state kept in ``config.stash`` (shared by both conftests)."""

from __future__ import annotations

import pytest

APPLIED_KEY = pytest.StashKey[object]()  # emulation.apply.AppliedProfile of this session
LOAD_KEY = pytest.StashKey[object]()  # emulation.load.BackgroundLoad, when the profile has one
JSON_KEY = pytest.StashKey[tuple]()  # (final, partial) paths of --benchmark-json
COMPLETED_KEY = pytest.StashKey[bool]()  # the session ended normally (not interrupted)
BASE_INFO_KEY = pytest.StashKey[object]()  # fixtures.model.BaseModelInfo of the session's base model
