"""eventlog: the Raft-replicated, append-only event log underneath eventraft."""

from __future__ import annotations

from eventlog.api import AsyncEventLog, EventLog
from eventlog.client import AsyncClient, Client
from eventlog.embedded import EmbeddedStore, open_embedded
from eventlog.errors import (
    CorruptRecord,
    DataDirError,
    EventLogError,
    EventTooLarge,
    FrameError,
    InvalidRequest,
    InvariantViolation,
    LeaseHeld,
    MembershipError,
    NodeFailed,
    NotLeader,
    Overloaded,
    ProposalDropped,
    StorageFull,
    TLSError,
    Unavailable,
    WrongCluster,
    WrongExpectedVersion,
)
from eventlog.logs import configure_logging
from eventlog.protocol.addresses import parse_addresses
from eventlog.records import (
    ANY,
    NO_STREAM,
    Alarm,
    AppendResult,
    Configuration,
    LeaseGrant,
    LeaseStatus,
    MemberStatus,
    NewEvent,
    NodeStatus,
    RecordedEvent,
)
from eventlog.security.tls import TLSConfig

__all__ = [
    "ANY",
    "NO_STREAM",
    "Alarm",
    "AppendResult",
    "AsyncClient",
    "AsyncEventLog",
    "Client",
    "Configuration",
    "CorruptRecord",
    "DataDirError",
    "EmbeddedStore",
    "EventLog",
    "EventLogError",
    "EventTooLarge",
    "FrameError",
    "InvalidRequest",
    "InvariantViolation",
    "LeaseGrant",
    "LeaseHeld",
    "LeaseStatus",
    "MemberStatus",
    "MembershipError",
    "NewEvent",
    "NodeFailed",
    "NodeStatus",
    "NotLeader",
    "Overloaded",
    "ProposalDropped",
    "RecordedEvent",
    "StorageFull",
    "TLSConfig",
    "TLSError",
    "Unavailable",
    "WrongCluster",
    "WrongExpectedVersion",
    "configure_logging",
    "open_embedded",
    "parse_addresses",
]
