"""How each record of a node's LMDB tables is encoded, every encoder beside its decoder.

Keys are big-endian, so byte order is numeric order. A decoder never trusts what it reads:
anything that does not decode raises ``CorruptRecord`` naming the table and the key.
"""

from __future__ import annotations

import struct
from hashlib import blake2b

import msgpack

from eventlog.errors import CorruptRecord
from eventlog.raft.records import Entry, EntryKind, HardState
from eventlog.records import LeaseGrant
from eventlog.state.outcomes import Outcome
from eventlog.store import sealed
from eventlog.types import LogIndex, NodeId, Term

__all__ = [
    "HEAD",
    "POS",
    "U64_MAX",
    "Q",
    "decode_entry",
    "decode_hard_state",
    "decode_lease",
    "decode_outcome",
    "encode_entry",
    "encode_hard_state",
    "encode_lease",
    "encode_outcome",
    "stream_key",
    "u64",
]

Q = struct.Struct(">Q")
U64_MAX = 2**64 - 1
HEAD = struct.Struct(">QB")
"""A raft_log value's header: the entry's term and kind; its data follows."""
POS = struct.Struct(">QIQ")
"""A positions value: log index, ordinal in the entry's batch, stream version."""
_MAX_PLAIN_STREAM_KEY = 480
"""LMDB keys hold at most 511 bytes; longer stream names are keyed by their hash."""


def u64(raw: bytes | None, db: str, key: object) -> int:
    if raw is None or len(raw) != 8:
        raise CorruptRecord(db, key, "missing or not an 8-byte integer")
    value: int = Q.unpack(raw)[0]
    return value


def encode_entry(entry: Entry) -> bytes:
    """The sealed raft_log value of ``entry`` (its key is ``Q.pack(entry.index)``)."""
    return sealed.seal(Q.pack(entry.index), HEAD.pack(entry.term, entry.kind) + entry.data)


def decode_entry(index: int, raw: bytes | None) -> Entry:
    """The entry at ``index`` from its sealed value, once its checksum holds."""
    if raw is None:
        raise CorruptRecord("raft_log", index, "missing")
    end = sealed.verify("raft_log", Q.pack(index), raw, index)
    if end < HEAD.size:
        raise CorruptRecord("raft_log", index, "shorter than its header")
    term, kind = HEAD.unpack_from(raw)
    try:
        entry_kind = EntryKind(kind)
    except ValueError as error:
        raise CorruptRecord("raft_log", index, f"unknown entry kind {kind}") from error
    data = raw[HEAD.size : end]
    return Entry(term=Term(term), index=LogIndex(index), data=data, kind=entry_kind)


def encode_hard_state(hard_state: HardState) -> bytes:
    packed: bytes = msgpack.packb([hard_state.term, hard_state.vote, hard_state.commit])
    return packed


def decode_hard_state(raw: bytes) -> HardState:
    try:
        term, vote, commit = msgpack.unpackb(raw)
    except (ValueError, TypeError, msgpack.UnpackException) as error:
        raise CorruptRecord("raft_state", "hard_state", str(error)) from error
    if not all(isinstance(v, int) and v >= 0 for v in (term, vote, commit)):
        raise CorruptRecord("raft_state", "hard_state", "fields are not non-negative ints")
    return HardState(term=Term(term), vote=NodeId(vote), commit=LogIndex(commit))


def encode_outcome(outcome: Outcome) -> bytes:
    packed: bytes = msgpack.packb(outcome.to_record())
    return packed


def decode_outcome(request_id: bytes, raw: bytes) -> Outcome:
    try:
        return Outcome.from_record(msgpack.unpackb(raw))
    except (ValueError, TypeError, msgpack.UnpackException) as error:
        raise CorruptRecord("requests", request_id, str(error)) from error


def encode_lease(grant: LeaseGrant) -> bytes:
    fields = [grant.owner, grant.token, grant.expires_ms, grant.checkpoint, grant.released]
    packed: bytes = msgpack.packb(fields)
    return packed


def decode_lease(name: bytes, raw: bytes) -> LeaseGrant:
    """Four fields as first written, five since released leases stay on record."""
    try:
        owner, token, expires_ms, checkpoint, *rest = msgpack.unpackb(raw)
        released = rest[0] if rest else False
        if (
            not isinstance(owner, str)
            or not all(type(v) is int for v in (token, expires_ms, checkpoint))
            or type(released) is not bool
            or len(rest) > 1
        ):
            raise ValueError("fields of the wrong kind")
        return LeaseGrant(
            name=name.decode(),
            owner=owner,
            token=token,
            expires_ms=expires_ms,
            checkpoint=checkpoint,
            released=released,
        )
    except (ValueError, TypeError, UnicodeError, msgpack.UnpackException) as error:
        raise CorruptRecord("leases", name, f"does not decode: {error}") from error


def stream_key(stream: str) -> bytes:
    """The stream's key in ``stream_ids``: its UTF-8 name, or for a name too long for an LMDB
    key, 0xFF (never in UTF-8) followed by its blake2b-256 hash."""
    encoded = stream.encode()
    if len(encoded) <= _MAX_PLAIN_STREAM_KEY:
        return encoded
    return b"\xff" + blake2b(encoded, digest_size=32).digest()
