"""Calls per timed round: enough that a round lasts a set time (as timeit's autorange does)."""

from __future__ import annotations

import math
import statistics
import time
from typing import Callable

#: Calls timed to estimate one call's duration before choosing the calls per round.
PROBE_CALLS = 5


def calls_per_round(call: Callable[[], object], round_s: float, minimum: int = 1) -> int:
    """At least ``minimum`` calls, more until a round lasts ``round_s`` seconds, estimated from
    the median of :data:`PROBE_CALLS` untimed calls (which also warm ``call`` up). No probe when
    ``round_s`` is 0 (the tiny preset: the grid runs once, untimed)."""
    if round_s <= 0:
        return minimum
    probe = []
    for _ in range(PROBE_CALLS):
        started = time.perf_counter()
        call()
        probe.append(time.perf_counter() - started)
    one_call = statistics.median(probe)
    if one_call <= 0:
        return minimum
    return max(minimum, math.ceil(round_s / one_call))
