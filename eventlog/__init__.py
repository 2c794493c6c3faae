"""eventlog: the Raft-replicated, append-only event log underneath eventraft."""

from __future__ import annotations

from eventlog.errors import EventLogError, InvariantViolation, NotLeader, ProposalDropped

__all__ = ["EventLogError", "InvariantViolation", "NotLeader", "ProposalDropped"]
