"""One root for every error the replicated log raises, named by who is at fault."""

from __future__ import annotations

from eventlog.types import NodeId


class EventLogError(Exception):
    """Root of every error raised by :mod:`eventlog`."""


class NotLeader(EventLogError):
    """The node asked to propose is not the leader; ``leader_hint`` may name the one that is."""

    def __init__(self, node_id: NodeId, leader_hint: NodeId | None) -> None:
        self.node_id = node_id
        self.leader_hint = leader_hint
        super().__init__(f"node {node_id} is not the leader (leader hint: {leader_hint})")


class ProposalDropped(EventLogError):
    """The leader refused a proposal it could not accept now (for example during a transfer)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"proposal dropped: {reason}")


class InvariantViolation(EventLogError):
    """A safety invariant of the log was broken; the node must stop rather than go on."""


class ConfigError(EventLogError):
    """A configuration value is out of range or inconsistent."""
