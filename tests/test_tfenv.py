"""The project's TensorFlow code refuses to start without Keras 2, saying what to set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def import_in_child(env_value: str | None, module: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    if env_value is not None:
        env["TF_USE_LEGACY_KERAS"] = env_value
    code = f"import {module}; print('imported')"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_without_legacy_keras_the_import_fails_at_once_naming_the_variable():
    result = import_in_child(None, "pipeline.prune")
    assert result.returncode != 0
    assert "LegacyKerasRequired" in result.stderr
    assert "TF_USE_LEGACY_KERAS=1" in result.stderr


def test_with_legacy_keras_tf_keras_is_keras_2():
    result = import_in_child("1", "fixtures.tfenv as t; assert t.keras.Model.__module__.startswith('tf_keras.')")
    assert result.returncode == 0, result.stderr
    assert "imported" in result.stdout
