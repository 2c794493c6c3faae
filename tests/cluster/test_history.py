"""The history checker itself must catch each kind of anomaly it claims to."""

from __future__ import annotations

from eventlog.records import AppendResult, RecordedEvent
from eventlog.types import Position
from tests.cluster.history import History, Operation


def event(position: int, stream: str, data: bytes, version: int = 1) -> RecordedEvent:
    return RecordedEvent(
        position=Position(position),
        stream=stream,
        version=version,
        type="T",
        data=data,
        metadata=b"",
        id=b"\0" * 16,
        timestamp=0,
    )


def acked(
    history: History,
    stream: str,
    payloads: list[bytes],
    first: int,
    t0: float,
    t1: float,
    expected: int | None = None,
    version: int = 1,
) -> Operation:
    op = history.invoke(stream, payloads, expected)
    op.invoked, op.completed = t0, t1
    op.result = AppendResult(
        first_position=Position(first),
        last_position=Position(first + len(payloads) - 1),
        stream_version=version,
    )
    return op


def test_a_valid_history_passes() -> None:
    h = History()
    acked(h, "a", [b"1"], 1, 0.0, 1.0)
    acked(h, "b", [b"2", b"3"], 2, 2.0, 3.0, expected=0, version=2)
    assert h.check([event(1, "a", b"1"), event(2, "b", b"2"), event(3, "b", b"3", 2)]) == []


def test_lost_duplicated_and_gaps_are_found() -> None:
    h = History()
    acked(h, "a", [b"1"], 1, 0.0, 1.0)
    problems = h.check([event(1, "a", b"x"), event(3, "a", b"x")])
    assert any("lost" in p for p in problems)
    assert any("appears 2 times" in p for p in problems)
    assert any("not dense" in p for p in problems)


def test_real_time_order_and_versions_are_checked() -> None:
    h = History()
    acked(h, "a", [b"1"], 2, 0.0, 1.0)
    acked(h, "a", [b"2"], 1, 2.0, 3.0, expected=5, version=9)
    problems = h.check([event(1, "a", b"2"), event(2, "a", b"1")])
    assert any("invoked after" in p for p in problems)
    assert any("version 9, expected 6" in p for p in problems)
