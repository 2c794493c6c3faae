"""What "no acknowledged append lost, none duplicated" means, checked against one node's log."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence

from eventlog.records import RecordedEvent
from eventraft.demo.load import Ack


def exactly_once(
    acks: Sequence[Ack], log: Sequence[RecordedEvent], streams: Collection[str]
) -> list[str]:
    """Every problem found, as sentences: positions with a gap, an event of ``streams`` (whose
    payloads were all different when appended) stored twice, an acknowledged append missing
    from its stream or stored at another position than acknowledged."""
    problems: list[str] = []
    for expected, event in enumerate(log, start=1):
        if event.position != expected:
            problems.append(f"positions not dense: {event.position} where {expected} was due")
            break
    copies = Counter((event.stream, event.data) for event in log if event.stream in streams)
    problems += [
        f"{stream} {data.decode(errors='replace')} is stored {count} times"
        for (stream, data), count in copies.items()
        if count > 1
    ]
    at: dict[tuple[str, bytes], int] = {}
    for event in log:
        at.setdefault((event.stream, event.data), event.position)
    for ack in acks:
        position = at.get((ack.stream, ack.data))
        if position is None:
            problems.append(f"acknowledged {ack.stream} {ack.data.decode()} is missing")
        elif position != ack.position:
            problems.append(
                f"{ack.stream} {ack.data.decode()} acknowledged at {ack.position}, "
                f"stored at {position}"
            )
    return problems
