"""The sans-IO Raft core: messages and ticks in, a ``Ready`` out. No sockets, clock or disk."""

from __future__ import annotations

from eventlog.raft.config import RaftConfig
from eventlog.raft.core import Logger, NullLogger, Proposal, RaftCore
from eventlog.raft.messages import (
    AppendEntries,
    AppendEntriesResponse,
    Heartbeat,
    HeartbeatResponse,
    Message,
    ReadIndexRequest,
    ReadIndexResponse,
    RequestVote,
    RequestVoteResponse,
    TimeoutNow,
    TransferLeadershipRequest,
)
from eventlog.raft.read_only import ReadState
from eventlog.raft.ready import Ready, Role, SoftState, must_sync
from eventlog.raft.records import Entry, EntryKind, HardState
from eventlog.raft.storage import LogStorage, MemoryStorage, StateStorage

__all__ = [
    "AppendEntries",
    "AppendEntriesResponse",
    "Entry",
    "EntryKind",
    "HardState",
    "Heartbeat",
    "HeartbeatResponse",
    "LogStorage",
    "Logger",
    "MemoryStorage",
    "Message",
    "NullLogger",
    "Proposal",
    "RaftConfig",
    "RaftCore",
    "ReadIndexRequest",
    "ReadIndexResponse",
    "ReadState",
    "Ready",
    "RequestVote",
    "RequestVoteResponse",
    "Role",
    "SoftState",
    "StateStorage",
    "TimeoutNow",
    "TransferLeadershipRequest",
    "must_sync",
]
