"""Progress a person can watch while a long case runs."""

from __future__ import annotations

import contextlib

import pytest


@contextlib.contextmanager
def live_output(config: pytest.Config):
    """Let what runs inside reach the terminal (pytest captures it otherwise): progress of
    the base model's training, of fine-tuning epochs, of the background load's start."""
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        yield
        return
    with capture.global_and_fixture_disabled():
        yield
