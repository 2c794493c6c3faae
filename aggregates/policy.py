"""When to snapshot an aggregate: a policy is asked at each save that writes events to it."""

from __future__ import annotations

from typing import Protocol

import attrs

from aggregates.aggregate import Aggregate


class SnapshotPolicy(Protocol):
    """``aggregate`` is the state after the save (``aggregate.version`` is its new version);
    ``previous_version`` is the version the stream was at before. True writes a snapshot in
    the same atomic append as the events."""

    def __call__(self, aggregate: Aggregate, previous_version: int) -> bool: ...


@attrs.frozen
class Every:
    """Snapshot whenever a save crosses a multiple of ``n`` events, so a load replays fewer
    than ``n`` events plus one save's worth, however the events were batched."""

    n: int = attrs.field(validator=attrs.validators.ge(1))

    def __call__(self, aggregate: Aggregate, previous_version: int) -> bool:
        return aggregate.version // self.n > previous_version // self.n


@attrs.frozen
class Never:
    """No snapshots; loads replay every event (and do not look for snapshots)."""

    def __call__(self, aggregate: Aggregate, previous_version: int) -> bool:
        return False


def every(n: int) -> Every:
    return Every(n)


never = Never()
