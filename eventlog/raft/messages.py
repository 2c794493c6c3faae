"""One frozen class per RPC, named as in the Raft paper.

Every message carries its sender, its receiver and the sender's term; ``step`` handles the term
once, in one place, before any role-specific handler sees the message.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from eventlog.raft.records import Entry
from eventlog.types import LogIndex, NodeId, Term

__all__ = [
    "MESSAGE_TYPES",
    "RESPONSES_AFTER_PERSIST",
    "AppendEntries",
    "AppendEntriesResponse",
    "Heartbeat",
    "HeartbeatResponse",
    "Message",
    "ReadIndexRequest",
    "ReadIndexResponse",
    "RequestVote",
    "RequestVoteResponse",
    "TimeoutNow",
    "TransferLeadershipRequest",
]


@attrs.frozen(kw_only=True, slots=True)
class Message:
    TAG: ClassVar[str] = "message"
    src: NodeId
    dst: NodeId
    term: Term


@attrs.frozen(kw_only=True, slots=True)
class RequestVote(Message):
    """A (pre-)candidate asks for a vote. A pre-vote carries the term the sender *would* use."""

    TAG: ClassVar[str] = "request_vote"
    last_log_index: LogIndex
    last_log_term: Term
    pre_vote: bool = False
    leadership_transfer: bool = False
    """Set when campaigning on TimeoutNow: voters skip the leader lease check (thesis §3.10)."""


@attrs.frozen(kw_only=True, slots=True)
class RequestVoteResponse(Message):
    TAG: ClassVar[str] = "request_vote_response"
    granted: bool
    pre_vote: bool = False


@attrs.frozen(kw_only=True, slots=True)
class AppendEntries(Message):
    TAG: ClassVar[str] = "append_entries"
    prev_log_index: LogIndex
    prev_log_term: Term
    entries: tuple[Entry, ...]
    leader_commit: LogIndex


@attrs.frozen(kw_only=True, slots=True)
class AppendEntriesResponse(Message):
    """On success ``index`` is the last index the follower now matches.

    On rejection ``index`` echoes the rejected ``prev_log_index`` and the hint names the largest
    index at or below it whose term is at most ``hint_term``, so the leader can skip a whole term
    of conflicting entries per round trip instead of one entry (thesis §5.3 "fast backtracking").
    """

    TAG: ClassVar[str] = "append_entries_response"
    index: LogIndex
    reject: bool = False
    hint_index: LogIndex = LogIndex(0)
    hint_term: Term = Term(0)


@attrs.frozen(kw_only=True, slots=True)
class Heartbeat(Message):
    """Leader liveness, commit propagation and ReadIndex confirmation in one small message."""

    TAG: ClassVar[str] = "heartbeat"
    commit: LogIndex
    context: bytes = b""


@attrs.frozen(kw_only=True, slots=True)
class HeartbeatResponse(Message):
    TAG: ClassVar[str] = "heartbeat_response"
    context: bytes = b""


@attrs.frozen(kw_only=True, slots=True)
class TimeoutNow(Message):
    """Leadership transfer: the receiver campaigns at once (thesis §3.10)."""

    TAG: ClassVar[str] = "timeout_now"


@attrs.frozen(kw_only=True, slots=True)
class ReadIndexRequest(Message):
    """A follower forwards a linearizable read to the leader."""

    TAG: ClassVar[str] = "read_index_request"
    context: bytes


@attrs.frozen(kw_only=True, slots=True)
class ReadIndexResponse(Message):
    TAG: ClassVar[str] = "read_index_response"
    context: bytes
    index: LogIndex


@attrs.frozen(kw_only=True, slots=True)
class TransferLeadershipRequest(Message):
    """A follower forwards a leadership transfer request to the leader."""

    TAG: ClassVar[str] = "transfer_leadership_request"
    target: NodeId


MESSAGE_TYPES: tuple[type[Message], ...] = (
    RequestVote,
    RequestVoteResponse,
    AppendEntries,
    AppendEntriesResponse,
    Heartbeat,
    HeartbeatResponse,
    TimeoutNow,
    ReadIndexRequest,
    ReadIndexResponse,
    TransferLeadershipRequest,
)

RESPONSES_AFTER_PERSIST: tuple[type[Message], ...] = (RequestVoteResponse, AppendEntriesResponse)
"""Responses that promise durable state; the core holds them back until the host persisted."""
