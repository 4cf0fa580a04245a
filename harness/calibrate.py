"""Calls per timed round: enough that a round lasts a set time (as timeit's autorange does)."""

from __future__ import annotations

import math
import statistics
import time
from typing import Callable

#: Most untimed calls made to estimate one call's duration before choosing the calls per round.
PROBE_CALLS = 5


def calls_per_round(
    call: Callable[[], object], round_s: float, minimum: int = 1, *, clock: Callable[[], float] = time.perf_counter,
    decisive_s: float | None = None,
) -> int:
    """At least ``minimum`` calls, more until a round lasts ``round_s`` seconds, estimated from
    the median of up to :data:`PROBE_CALLS` untimed calls (which also warm ``call`` up). No probe
    when ``round_s`` is 0 (the tiny preset: the grid runs once, untimed).

    Probing stops early once the calls after the first (which may do one-time work) add up to
    ``round_s``: the answer is then ``minimum`` whatever the later probes would say, and a
    ``.keras`` write of 0.2-0.9 s probed five times cost the main job ~40 s per profile.

    ``decisive_s`` (None: never) lets a first call that lasted at least that long decide alone:
    ``minimum`` calls, no second probe. For a caller whose one-time work is a bounded share of
    the first call, so that a first call that long means later calls outlast ``round_s`` too."""
    if round_s <= 0:
        return minimum
    probe: list[float] = []
    while len(probe) < PROBE_CALLS and sum(probe[1:]) < round_s:
        started = clock()
        call()
        probe.append(clock() - started)
        if decisive_s is not None and probe[0] >= decisive_s:
            return minimum
    one_call = statistics.median(probe[1:] or probe)
    if one_call <= 0:
        return minimum
    return max(minimum, math.ceil(round_s / one_call))
