"""A history checker for real clusters: what clients were told must match the final log.

Each operation is recorded with its real-time invocation and completion. Checks:
no acknowledged append lost, none duplicated, positions dense, appends that did not overlap in
real time are ordered in the log as in time, and expected-version appends got exactly the next
version.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import attrs

from eventlog.records import AppendResult, RecordedEvent


@attrs.define
class Operation:
    stream: str
    payloads: tuple[bytes, ...]
    expected_version: int | None
    invoked: float
    completed: float | None = None
    result: AppendResult | None = None
    failed: str | None = None


@attrs.define
class History:
    operations: list[Operation] = attrs.field(factory=list)
    _lock: threading.Lock = attrs.field(factory=threading.Lock)

    def invoke(self, stream: str, payloads: Sequence[bytes], expected: int | None) -> Operation:
        op = Operation(stream, tuple(payloads), expected, time.monotonic())
        with self._lock:
            self.operations.append(op)
        return op

    @staticmethod
    def ok(op: Operation, result: AppendResult) -> None:
        op.completed, op.result = time.monotonic(), result

    @staticmethod
    def fail(op: Operation, error: Exception) -> None:
        op.completed, op.failed = time.monotonic(), f"{type(error).__name__}: {error}"

    @property
    def acknowledged(self) -> list[Operation]:
        return [op for op in self.operations if op.result is not None]

    def check(self, log: Sequence[RecordedEvent]) -> list[str]:
        """Every problem found, as sentences; an empty list means the history is valid."""
        problems: list[str] = []
        problems += _dense(log)
        where: dict[bytes, list[RecordedEvent]] = {}
        for event in log:
            where.setdefault(event.data, []).append(event)
        problems += [
            f"payload {p!r} appears {len(e)} times" for p, e in where.items() if len(e) > 1
        ]
        for op in self.acknowledged:
            problems += _check_acknowledged(op, where)
        problems += _real_time_order(self.acknowledged)
        return problems


def _dense(log: Sequence[RecordedEvent]) -> list[str]:
    for expected, event in enumerate(log, start=1):
        if event.position != expected:
            return [f"positions not dense: {event.position} where {expected} was due"]
    return []


def _check_acknowledged(op: Operation, where: dict[bytes, list[RecordedEvent]]) -> list[str]:
    assert op.result is not None
    problems = []
    positions = []
    for payload in op.payloads:
        found = where.get(payload)
        if not found:
            problems.append(f"acknowledged {payload!r} on {op.stream!r} is lost")
            continue
        positions.append(found[0].position)
        if found[0].stream != op.stream:
            problems.append(f"{payload!r} landed on {found[0].stream!r}, not {op.stream!r}")
    expected = list(range(op.result.first_position, op.result.last_position + 1))
    if positions and positions != expected:
        problems.append(f"{op.stream!r}: acknowledged at {expected}, found at {positions}")
    if op.expected_version is not None and op.expected_version >= 0:
        want = op.expected_version + len(op.payloads)
        if op.result.stream_version != want:
            problems.append(f"{op.stream!r}: version {op.result.stream_version}, expected {want}")
    return problems


def _real_time_order(acknowledged: list[Operation]) -> list[str]:
    """If A completed before B was invoked, A's events precede B's in the log."""
    problems = []
    by_completion = sorted(acknowledged, key=lambda op: op.completed or 0.0)
    latest_done: Operation | None = None
    index = 0
    for op in sorted(acknowledged, key=lambda op: op.invoked):
        while index < len(by_completion) and (by_completion[index].completed or 0) < op.invoked:
            done = by_completion[index]
            if latest_done is None or _last(done) > _last(latest_done):
                latest_done = done
            index += 1
        if latest_done is not None and _last(latest_done) >= _first(op):
            problems.append(
                f"append at {_first(op)} was invoked after one ending at {_last(latest_done)} "
                "completed"
            )
    return problems


def _first(op: Operation) -> int:
    assert op.result is not None
    return op.result.first_position


def _last(op: Operation) -> int:
    assert op.result is not None
    return op.result.last_position
