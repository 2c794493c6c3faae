"""A simulated network: seeded delay, loss, duplication and reordering, and partitions.

Partitions are a set of blocked directed links, so symmetric, asymmetric (one direction only)
and flapping (blocked and unblocked over time by the fault plan) partitions are one mechanism.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import attrs

from eventlog.raft.messages import Message
from eventlog.types import NodeId

__all__ = [
    "NetworkConditions",
    "SimNetwork",
]


@attrs.define
class NetworkConditions:
    min_delay_ms: float = 0.2
    max_delay_ms: float = 3.0
    drop_rate: float = 0.0
    duplicate_rate: float = 0.0


@attrs.define
class SimNetwork:
    rng: random.Random
    conditions: NetworkConditions = attrs.field(factory=NetworkConditions)
    blocked: set[tuple[NodeId, NodeId]] = attrs.field(factory=set)
    drop_if: Callable[[Message], bool] | None = None
    """A scripted scenario's filter: messages it matches are lost."""
    sent: int = 0
    dropped: int = 0
    duplicated: int = 0

    def deliveries(self, m: Message) -> list[float]:
        """Delays after which one message sent now arrives (none if lost, two if duplicated).

        Independent random delays per message reorder messages on the same link.
        """
        self.sent += 1
        c = self.conditions
        if (
            (m.src, m.dst) in self.blocked
            or (self.drop_if is not None and self.drop_if(m))
            or (c.drop_rate and self.rng.random() < c.drop_rate)
        ):
            self.dropped += 1
            return []
        delays = [self.rng.uniform(c.min_delay_ms, c.max_delay_ms)]
        if c.duplicate_rate and self.rng.random() < c.duplicate_rate:
            self.duplicated += 1
            delays.append(self.rng.uniform(c.min_delay_ms, c.max_delay_ms * 4))
        return delays

    def is_blocked(self, src: NodeId, dst: NodeId) -> bool:
        return (src, dst) in self.blocked

    def partition(self, *groups: list[NodeId]) -> None:
        """Cut every link between different groups, both ways."""
        for i, group in enumerate(groups):
            for other in groups[i + 1 :]:
                for a in group:
                    for b in other:
                        self.blocked.add((a, b))
                        self.blocked.add((b, a))

    def block(self, src: NodeId, dst: NodeId) -> None:
        self.blocked.add((src, dst))

    def unblock(self, src: NodeId, dst: NodeId) -> None:
        self.blocked.discard((src, dst))

    def heal(self) -> None:
        self.blocked.clear()
