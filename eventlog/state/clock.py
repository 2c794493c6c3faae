"""The cluster's clock: what decides lease expiry and how long request ids are remembered.

No node's wall clock may decide an outcome, since one wrong clock would bend the whole
cluster (a leader two hours ahead would forget every request id at once, and grant leases
that are still held). So the clock a leader stamps on a batch is elapsed time: it starts where
the applied state's clock stands when the node becomes leader, and moves on by the leader's
monotonic clock, idle or not. On every node it only ever grows (``apply_entry`` keeps the highest).

Hence the cluster's clock never runs faster than real time: between two committed batches it
advances by at most the real time between their stamping. A lease is never lost early and a
request id never forgotten early; time without a leader (an election, a cluster that is down)
does not count, so an expiry can come late by that much. The clock starts at 0 when a cluster
is created; it is not a wall clock, and nothing should compare it with one.

Wall time stays where it is information: the batch's ``timestamp_ms``, which events carry.
"""

from __future__ import annotations

import attrs

__all__ = [
    "LeaderClock",
]


@attrs.define
class LeaderClock:
    """One node's stamps while it leads. Pure: the caller reads the monotonic clock."""

    _term: int = -1
    _anchor_ms: int = 0
    """The cluster clock at the anchor."""
    _anchor_elapsed_ms: int = 0
    """The monotonic clock at the anchor."""

    def lead(self, term: int, applied_clock_ms: int, elapsed_ms: int) -> None:
        """This node became leader in ``term``: its clock starts at ``applied_clock_ms``, the
        clock of its applied state, at ``elapsed_ms`` of its monotonic clock."""
        self._term, self._anchor_ms, self._anchor_elapsed_ms = term, applied_clock_ms, elapsed_ms

    def stamp(self, term: int, applied_clock_ms: int, elapsed_ms: int) -> int:
        """The cluster clock for a batch this leader proposes now, in ``term``. A term it was
        not told it leads, or an applied clock ahead of its own (batches of an earlier leader
        applied since it took over), anchors it again there: time is only ever left out."""
        if term != self._term:
            self.lead(term, applied_clock_ms, elapsed_ms)
        now = self._anchor_ms + max(0, elapsed_ms - self._anchor_elapsed_ms)
        if applied_clock_ms > now:
            self.lead(term, applied_clock_ms, elapsed_ms)
            now = applied_clock_ms
        return now
