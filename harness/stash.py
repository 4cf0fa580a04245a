"""Keys of the per-session state kept in ``config.stash`` (shared by harness/plugin.py and benchmarks/conftest.py)."""

from __future__ import annotations

import pytest

APPLIED_KEY = pytest.StashKey[object]()  # emulation.apply.AppliedProfile of this session
LOAD_KEY = pytest.StashKey[object]()  # emulation.load.BackgroundLoad, when the profile has one
JSON_KEY = pytest.StashKey[object]()  # pathlib.Path given as --benchmark-json (harness.commit writes it)
RESULTS_KEY = pytest.StashKey[object]()  # harness.commit.SessionResults, when the session writes results
BASE_INFO_KEY = pytest.StashKey[object]()  # fixtures.model.BaseModelInfo of the session's base model
GC_PHASE_KEY = pytest.StashKey[object]()  # the operation whose objects the garbage collector has frozen (benchmarks/conftest.py)
CLOCK_KEY = pytest.StashKey[object]()  # harness.timing.SessionClock of the session
KERNEL_PATH_KEY = pytest.StashKey[object]()  # "xnnpack" or "builtin": the kernels the LiteRT inference cases ran on
