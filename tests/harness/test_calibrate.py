"""Calls per timed round (harness/calibrate.py), on a fake clock: which calls it makes and what it picks."""

from __future__ import annotations

import pytest

from harness.calibrate import PROBE_CALLS, calls_per_round


class FakeCall:
    """A call that advances a fake clock by the next of ``durations`` [s] (the last one repeats)."""

    def __init__(self, durations):
        self.durations = list(durations)
        self.now = 0.0
        self.calls = 0

    def clock(self) -> float:
        return self.now

    def __call__(self) -> None:
        self.now += self.durations[min(self.calls, len(self.durations) - 1)]
        self.calls += 1


def test_a_short_call_is_probed_fully_and_fills_the_round():
    call = FakeCall([0.05, 0.002])  # a slow first call, then 2 ms
    assert calls_per_round(call, 0.1, clock=call.clock) == 50
    assert call.calls == PROBE_CALLS


def test_a_long_call_stops_probing_once_the_calls_after_the_first_fill_a_round():
    call = FakeCall([0.9, 0.3])  # a .keras write: a round is one call
    assert calls_per_round(call, 0.1, clock=call.clock) == 1
    assert call.calls == 2  # the first (one-time work) and one that shows a call outlasts the round


def test_the_first_call_alone_never_decides():
    call = FakeCall([0.5, 0.01])  # one-time work in the first call only
    assert calls_per_round(call, 0.1, clock=call.clock) == 10
    assert call.calls == PROBE_CALLS


def test_the_minimum_holds_and_round_zero_makes_no_call():
    call = FakeCall([0.2])
    assert calls_per_round(call, 0.1, minimum=3, clock=call.clock) == 3
    idle = FakeCall([0.2])
    assert calls_per_round(idle, 0.0, minimum=2, clock=idle.clock) == 2
    assert idle.calls == 0


@pytest.mark.parametrize("durations", [[0.0], [0.0, 0.0]])
def test_a_call_the_clock_cannot_see_gives_the_minimum(durations):
    call = FakeCall(durations)
    assert calls_per_round(call, 0.1, minimum=4, clock=call.clock) == 4


def test_a_decisive_first_call_alone_gives_the_minimum_and_a_shorter_one_does_not():
    write = FakeCall([0.9, 0.3])  # a .keras write: its first call already outlasts the threshold
    assert calls_per_round(write, 0.1, clock=write.clock, decisive_s=0.5) == 1
    assert write.calls == 1
    short = FakeCall([0.4, 0.01])  # under the threshold: probed as without it
    assert calls_per_round(short, 0.1, clock=short.clock, decisive_s=0.5) == 10
    assert short.calls == PROBE_CALLS
