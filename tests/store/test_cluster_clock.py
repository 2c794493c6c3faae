"""The cluster's clock as leaders stamp it: elapsed leader time from the applied state's clock,
never a wall clock, and never faster than real time (``eventlog.state.clock``)."""

from __future__ import annotations

import msgpack
import pytest

from eventlog.errors import CorruptRecord
from eventlog.state.batch import Batch, batch_of, decode_batch
from eventlog.state.clock import LeaderClock


def test_a_leader_moves_the_clock_by_its_elapsed_time_from_where_it_took_over() -> None:
    clock = LeaderClock()
    clock.lead(term=2, applied_clock_ms=5_000, elapsed_ms=1_000_000)
    assert clock.stamp(2, 5_000, 1_000_000) == 5_000
    assert clock.stamp(2, 5_000, 1_000_250) == 5_250, "idle time counts while it leads"
    assert clock.stamp(2, 5_250, 1_000_250) == 5_250


def test_batches_of_an_earlier_leader_applied_later_move_the_anchor_forward_only() -> None:
    clock = LeaderClock()
    clock.lead(term=3, applied_clock_ms=100, elapsed_ms=0)  # its state was behind
    assert clock.stamp(3, 900, 10) == 900, "never behind what is applied"
    assert clock.stamp(3, 900, 60) == 950, "and on from there"
    assert clock.stamp(3, 400, 70) == 960, "an older applied clock changes nothing"


def test_a_term_it_was_not_told_of_anchors_at_the_applied_clock() -> None:
    clock = LeaderClock()
    assert clock.stamp(1, 0, 123_456) == 0, "a new cluster's clock starts at 0"
    assert clock.stamp(4, 7_000, 999_999) == 7_000, "a later term starts where the state is"


def test_a_monotonic_clock_that_went_back_never_moves_the_clock_back() -> None:
    clock = LeaderClock()
    clock.lead(term=1, applied_clock_ms=50, elapsed_ms=1_000)
    assert clock.stamp(1, 50, 900) == 50


def test_a_batch_carries_both_clocks_and_the_first_format_still_reads() -> None:
    assert decode_batch(batch_of(1_700_000_000_000, 42, [])) == Batch(
        1_700_000_000_000, 42, [], b""
    )
    format_2 = msgpack.packb([2, 1_700_000_000_000, 42, []])
    assert decode_batch(format_2) == Batch(1_700_000_000_000, 42, [])
    old = msgpack.packb([1, 1_700_000_000_000, []])
    assert decode_batch(old) == Batch(1_700_000_000_000, 1_700_000_000_000, [])
    for bad in ([3, 1, 2, []], [2, 1, []], [2, "t", 1, []], [], "x"):
        with pytest.raises(CorruptRecord):
            decode_batch(msgpack.packb(bad))
