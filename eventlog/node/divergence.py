"""Members check each other's history. Every committed entry is the same on every member, and
the state machine is deterministic, so the digest after applying entry ``i`` must be the same
everywhere. Each report a peer sends carries its digest after the last entry it applied; a
node holds it against its own digest after that entry (now, or once it applies it). A node
whose digest differs from a majority of the cluster's (counting itself, it is the odd one out)
has a history that is not the cluster's: a bug or damage the checksums could not see. It
raises a corruption alarm on itself, naming the entry where it differs and the last one where
it still agreed, and never serves or replicates that history again."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from eventlog.errors import CorruptRecord

__all__ = [
    "Divergence",
]


@attrs.define
class Divergence:
    voters: int
    digest_after: Callable[[int], tuple[int, bytes] | None]
    applied_index: Callable[[], int]
    waiting: dict[int, tuple[int, int, bytes]] = attrs.field(factory=dict)
    """Each peer's latest sample that this node has not applied yet."""
    differs: dict[int, tuple[int, int]] = attrs.field(factory=dict)
    """Peers whose last compared sample differs from ours: ``(index, position)``."""
    agreed: tuple[int, int] | None = None
    """The latest ``(index, position)`` where a peer's digest was ours."""

    def heard(self, peer: int, sample: tuple[int, int, bytes]) -> CorruptRecord | None:
        self.waiting[peer] = sample
        return self.check()

    def check(self) -> CorruptRecord | None:
        """Compare what can be compared now; the alarm to raise, if this node is the odd one."""
        applied = self.applied_index()
        for peer, (index, position, digest) in list(self.waiting.items()):
            mine = self.digest_after(index)
            if mine is None:
                if index <= applied:
                    del self.waiting[peer]  # too far behind us to compare: the next one
                continue
            del self.waiting[peer]
            if mine == (position, digest):
                self.differs.pop(peer, None)
                if self.agreed is None or index > self.agreed[0]:
                    self.agreed = (index, position)
            else:
                self.differs[peer] = (index, position)
        if len(self.differs) < self.voters // 2 + 1:
            return None
        index, position = max(self.differs.values())
        since = (
            ""
            if self.agreed is None
            else (
                f"; it last agreed after entry {self.agreed[0]} (position {self.agreed[1]}), so the"
                f" first event that differs is past position {self.agreed[1]}"
            )
        )
        peers = ", ".join(str(peer) for peer in sorted(self.differs))
        return CorruptRecord(
            "history",
            index,
            f"this node's digest after entry {index} (position {position}) differs from"
            f" nodes {peers}{since}",
        )
