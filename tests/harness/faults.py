"""Faults the session tests plant in a child suite: ``pytest benchmarks -p tests.harness.faults ...``.

``--fault-fail NAME``: the case named NAME fails in its call (the case itself does not run).
``--fault-escape NAME``: right after NAME's teardown the main thread's CPU affinity is widened back
to every CPU the process had before the profile pinned it -- the profile stops holding behind
the harness's back, as a library that resets affinity would make it; the case itself passes.
``--fault-hold NAME``: the case named NAME waits in its call until a signal ends the session (a
long case that a Ctrl-C lands in, without TensorFlow or a base model to make it long).
"""

from __future__ import annotations

import os
import time

import pytest

#: CPUs this process could use before the profile was applied (the plugin is imported first).
ALLOWED_CPUS = frozenset(os.sched_getaffinity(0))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fault-fail", metavar="NAME", help="fail the case NAME")
    parser.addoption("--fault-escape", metavar="NAME", help="widen the CPU affinity during NAME's call")
    parser.addoption("--fault-hold", metavar="NAME", help="hold the case NAME in its call until interrupted")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item):
    if item.name == item.config.getoption("fault_fail"):
        pytest.fail("failure planted by tests/harness/faults.py")
    if item.name == item.config.getoption("fault_hold"):
        while True:  # a signal's exception (KeyboardInterrupt, the harness's SIGTERM) ends it
            time.sleep(0.05)
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem):
    try:
        return (yield)
    finally:
        # past the checks before and after each case: only the session's verdict can still see it
        if item.name == item.config.getoption("fault_escape"):
            os.sched_setaffinity(0, ALLOWED_CPUS)
