"""The event store's own safety properties, checked as each node applies each entry through
the real state machine:
    same decisions       every node decides each entry alike: the same outcome per request,
                         the same last position and the same digest after it, the same
                         users and roles, and the same tracking records
    dense positions      positions run 1, 2, 3, ... with no gap
    exactly once         a request applied again (a client's retry) gets its first outcome
                         back and appends nothing (request ids outlive any simulated run)
    clock rate           the cluster's clock never runs faster than real time: between two
                         batches it advances by at most the virtual time between their stamps
                         (so no lease is lost and no request id forgotten early, whatever the
                         nodes' wall clocks say)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from eventlog.security.access import AccessState
from eventlog.state.memory import MemoryState
from eventlog.state.outcomes import Outcome
from eventlog.types import LogIndex, NodeId, Position

__all__ = [
    "Decision",
    "StateChecker",
]

Decision = tuple[tuple[Outcome, ...], Position, bytes, AccessState, tuple[tuple[str, int], ...]]


@attrs.define
class StateChecker:
    fail: Callable[[str, str], None]
    decided: dict[LogIndex, Decision] = attrs.field(factory=dict)
    """What the first node to apply each entry decided."""
    first_outcome: dict[bytes, Outcome] = attrs.field(factory=dict)
    events: int = 0
    """Events appended, over the cluster's one history."""
    refusals: int = 0
    """Requests refused (wrong expected version, lease held), over the one history."""
    last_clock: tuple[LogIndex, int, int] | None = None
    """The last batch checked for its clock: its index, the cluster's clock after it, and the
    virtual time it was stamped at."""

    def clock_moved(self, node: NodeId, index: LogIndex, clock_ms: int, stamped: int) -> None:
        """The batch at ``index`` left the cluster's clock at ``clock_ms`` and was stamped at
        virtual time ``stamped``. Checked once per batch, in log order (the first node to
        apply it has applied every earlier batch); consecutive pairs suffice, as the bound
        adds up along the log."""
        last = self.last_clock
        if last is not None and index <= last[0]:
            return
        if last is not None and clock_ms - last[1] > stamped - last[2]:
            self.fail(
                "clock_rate",
                f"node {node}: the cluster's clock moved {clock_ms - last[1]} ms from entry "
                f"{last[0]} to {index}, stamped {stamped - last[2]} ms apart",
            )
        self.last_clock = (index, clock_ms, stamped)

    def applied(
        self, node: NodeId, index: LogIndex, outcomes: Sequence[Outcome], state: MemoryState
    ) -> None:
        tracked = tuple(sorted(state.tracked.items()))
        decision = (tuple(outcomes), state.position, state.chain, state.auth, tracked)
        known = self.decided.get(index)
        if known is None:
            self.decided[index] = decision
            self._first_decision(node, index, outcomes, state)
        elif known != decision:
            self.fail(
                "same_decisions",
                f"node {node} decided entry {index} as position {state.position} digest "
                f"{state.chain.hex()[:12]}, another node as position {known[1]} digest "
                f"{known[2].hex()[:12]} (or their outcomes, users and roles, or tracking differ)",
            )
        if len(state.events) != state.position:
            self.fail("dense_positions", f"node {node} holds {len(state.events)} events at "
                      f"position {state.position}")  # fmt: skip

    def _first_decision(
        self, node: NodeId, index: LogIndex, outcomes: Sequence[Outcome], state: MemoryState
    ) -> None:
        for outcome in outcomes:
            first = self.first_outcome.setdefault(outcome.request_id, outcome)
            if first != outcome:
                self.fail(
                    "exactly_once",
                    f"request {outcome.request_id.hex()[:12]} came to {outcome} at entry "
                    f"{index} on node {node}, after {first}",
                )
            elif first is outcome:
                self.refusals += outcome.error is not None
        previous = self.decided.get(LogIndex(index - 1))
        before = previous[1] if previous is not None else 0
        self.events += max(0, state.position - before)
