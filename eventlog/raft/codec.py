"""Raft messages as plain lists, for whatever carries them between nodes.

A message travels as ``[tag, src, dst, term, *fields]``, with entries as
``[[term, index, kind, data], ...]``. Tags are small stable numbers written down in
:data:`_SPECS`, never ``__qualname__``, so renaming a class cannot change the wire. Lists are
smaller and faster than maps with field names, which matters because AppendEntries carries
every replicated byte. Unpacking checks every type, because a peer must never crash a node:
any malformed input raises :class:`FrameError` and nothing else. No bytes here: the
transport frames the lists (``eventlog.protocol.frames``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import attrs

from eventlog.errors import FrameError
from eventlog.raft.membership import Membership, MembershipError
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
from eventlog.raft.records import Entry, EntryKind
from eventlog.types import LogIndex, Term

__all__ = [
    "MAX_NUMBER",
    "pack_message",
    "unpack_message",
]

_Check = Callable[[str, Any], Any]
"""Validates one decoded field and returns the value to construct the message with."""


MAX_NUMBER: Final = 2**62
"""Terms, indexes and node ids a peer may name, at most. A cluster that elects a leader every
millisecond reaches it in a hundred million years; a term past it is forged or garbage, and
taking it would leave a persisted term that the next election cannot increment."""


def _uint(name: str, value: Any) -> Any:
    # ``type(...) is int`` on purpose: bool is a subclass of int and must not pass for one.
    if type(value) is not int or value < 0:
        raise FrameError(f"field {name} must be a non-negative integer, not {value!r:.40}")
    if value > MAX_NUMBER:
        raise FrameError(f"field {name} is {value}, past any plausible value ({MAX_NUMBER})")
    return value


def _bool(name: str, value: Any) -> Any:
    if type(value) is not bool:
        raise FrameError(f"field {name} must be a boolean, not {value!r:.40}")
    return value


def _bytes(name: str, value: Any) -> Any:
    if type(value) is not bytes:
        raise FrameError(f"field {name} must be bytes, not {type(value).__name__}")
    return value


_KINDS: Final[dict[int, EntryKind]] = {kind.value: kind for kind in EntryKind}


def _entries(name: str, value: Any) -> Any:
    """Entries are the hot path: one tight loop, plain type checks, one Entry per item."""
    if type(value) is not list:
        raise FrameError(f"field {name} must be a list of entries")
    kinds = _KINDS
    out: list[Entry] = []
    append = out.append
    term: Term
    index: LogIndex
    for item in value:
        if type(item) is not list or len(item) != 4:
            raise FrameError(f"an entry must be [term, index, kind, data], not {item!r:.40}")
        term, index, kind, data = item
        if (
            type(term) is not int
            or type(index) is not int
            or type(kind) is not int
            or type(data) is not bytes
            or not 0 <= term <= MAX_NUMBER
            or not 0 <= index <= MAX_NUMBER
            or kind not in kinds
        ):
            raise FrameError(f"malformed entry {item!r:.60}")
        if kind == EntryKind.CONFIG:
            _check_config(index, data)
        append(Entry(term=term, index=index, kind=kinds[kind], data=data))
    return tuple(out)


def _check_config(index: int, data: bytes) -> None:
    """A configuration entry must hold a configuration: a follower takes it into force as
    soon as it is in its log."""
    try:
        Membership.decode(data)
    except MembershipError as error:
        raise FrameError(f"entry {index}: {error.message}") from None


@attrs.frozen
class _Spec:
    """How one message class travels: its stable tag number and its fields in order."""

    tag: int
    cls: type[Message]
    fields: tuple[tuple[str, _Check], ...]
    names: tuple[str, ...] = attrs.field(init=False)

    @names.default
    def _names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.fields)


_HEAD = (("src", _uint), ("dst", _uint), ("term", _uint))

_SPECS: Final[tuple[_Spec, ...]] = (
    # Tag numbers are part of the wire format: never renumber, only append.
    _Spec(
        1,
        RequestVote,
        (
            *_HEAD,
            ("last_log_index", _uint),
            ("last_log_term", _uint),
            ("pre_vote", _bool),
            ("leadership_transfer", _bool),
        ),
    ),
    _Spec(2, RequestVoteResponse, (*_HEAD, ("granted", _bool), ("pre_vote", _bool))),
    _Spec(
        3,
        AppendEntries,
        (
            *_HEAD,
            ("prev_log_index", _uint),
            ("prev_log_term", _uint),
            ("entries", _entries),
            ("leader_commit", _uint),
        ),
    ),
    _Spec(
        4,
        AppendEntriesResponse,
        (
            *_HEAD,
            ("index", _uint),
            ("reject", _bool),
            ("hint_index", _uint),
            ("hint_term", _uint),
        ),
    ),
    _Spec(5, Heartbeat, (*_HEAD, ("commit", _uint), ("context", _bytes))),
    _Spec(6, HeartbeatResponse, (*_HEAD, ("context", _bytes))),
    _Spec(7, TimeoutNow, _HEAD),
    _Spec(8, ReadIndexRequest, (*_HEAD, ("context", _bytes))),
    _Spec(9, ReadIndexResponse, (*_HEAD, ("context", _bytes), ("index", _uint))),
    _Spec(10, TransferLeadershipRequest, (*_HEAD, ("target", _uint))),
)

_BY_CLASS: Final[dict[type[Message], _Spec]] = {spec.cls: spec for spec in _SPECS}
_BY_TAG: Final[dict[int, _Spec]] = {spec.tag: spec for spec in _SPECS}


def pack_message(m: Message) -> list[Any]:
    """``[tag, src, dst, term, *fields]``; entries become ``[term, index, kind, data]``."""
    spec = _BY_CLASS[type(m)]
    if spec.cls is AppendEntries:
        assert isinstance(m, AppendEntries)
        entries = [[e.term, e.index, int(e.kind), e.data] for e in m.entries]
        return [
            spec.tag,
            m.src,
            m.dst,
            m.term,
            m.prev_log_index,
            m.prev_log_term,
            entries,
            m.leader_commit,
        ]
    return [spec.tag, *[getattr(m, name) for name in spec.names]]


def unpack_message(raw: object) -> Message:
    """The message ``raw`` (a decoded body) describes; FrameError for anything malformed."""
    if type(raw) is not list or not raw:
        raise FrameError("a message must be a non-empty list")
    tag = raw[0]
    spec = _BY_TAG.get(tag) if type(tag) is int else None
    if spec is None:
        raise FrameError(f"unknown message tag {tag!r:.40}")
    if len(raw) != len(spec.fields) + 1:
        raise FrameError(f"{spec.cls.TAG} needs {len(spec.fields)} fields, got {len(raw) - 1}")
    fields = zip(spec.fields, raw[1:], strict=True)
    values = {name: check(name, value) for (name, check), value in fields}
    message = spec.cls(**values)
    if type(message) is AppendEntries:
        _check_contiguous(message)
    return message


def _check_contiguous(m: AppendEntries) -> None:
    """Raft sends entries prev_log_index+1, +2, ...; anything else would corrupt the log."""
    expected = m.prev_log_index + 1
    for entry in m.entries:
        if entry.index != expected:
            raise FrameError(f"entry index {entry.index} where {expected} was expected")
        expected += 1
