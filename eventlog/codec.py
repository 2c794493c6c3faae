"""The wire format between nodes: length-prefixed msgpack frames and compact Raft messages.

A frame is a 4-byte big-endian length ``N`` followed by ``N`` bytes: one version byte
(:data:`FRAME_VERSION`) and a msgpack body. The version byte lets the format change later
without guessing; the length prefix lets a reader reject an oversized frame before it buffers
a single byte of its body, so a confused or hostile peer cannot make us allocate 4 GiB.

Raft messages travel as plain lists, ``[tag, src, dst, term, *fields]``, with entries as
``[[term, index, kind, data], ...]``. Tags are small stable numbers written down in
:data:`_SPECS`, never ``__qualname__``, so renaming a class cannot change the wire. Lists are
smaller and faster than maps with field names, which matters because AppendEntries carries
every replicated byte. Decoding checks every type, because a peer must never crash us: any
malformed input raises :class:`FrameError` and nothing else.

No asyncio here, in the spirit of h11: bytes in, values out; the transport does the I/O.
Bodies are decoded with msgpack only, never pickle or another code-executing decoder.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import Any, Final, Literal

import attrs
import msgpack

from eventlog.errors import EventLogError
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
from eventlog.types import LogIndex, NodeId, Term

FRAME_VERSION: Final = 1
"""The only frame version this code reads and writes."""
DEFAULT_MAX_FRAME_BYTES: Final = 64 * 1024 * 1024
"""Cap on ``N`` (version byte plus body) unless the caller chooses another."""
HEADER_BYTES: Final = 4
HELLO_VERSION: Final = 1
"""Version of the handshake body, separate from the frame version."""
MAX_FRAME_LENGTH: Final = 0xFFFF_FFFF
"""The largest ``N`` a 4-byte length prefix can carry."""

_HEADER = struct.Struct(">I")
_PREFIX = struct.Struct(">IB")


class FrameError(EventLogError):
    """Bytes from a peer are not a valid frame or message; the peer is at fault.

    The transport closes that one connection and logs ``reason``; nothing else is affected.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"bad frame: {reason}")


# -- frames ------------------------------------------------------------------------------------


def encode_frame(body: object) -> bytes:
    """One frame for ``body``. Raises FrameError if it cannot fit a 4-byte length prefix."""
    payload: bytes = msgpack.packb(body, use_bin_type=True)
    length = len(payload) + 1
    if length > MAX_FRAME_LENGTH:
        raise FrameError(f"frame of {length} bytes does not fit the length prefix")
    return _PREFIX.pack(length, FRAME_VERSION) + payload


def encode_frames(bodies: Iterable[object]) -> bytes:
    """Many frames in one buffer, so a batch costs one ``write`` and one syscall."""
    return b"".join([encode_frame(body) for body in bodies])


def _reject_ext(code: int, data: bytes) -> object:
    """Our protocol uses no msgpack extension types; one on the wire is a malformed body."""
    raise ValueError(f"msgpack extension type {code} is not allowed")


class FrameDecoder:
    """Incremental frame reader: feed it whatever the socket gave, get back whole bodies.

    Partial frames are kept until the rest arrives. After the first error the decoder stays
    failed (as h11's ERROR state does): the stream position is lost, so nothing later on the
    same connection can be trusted. Bodies decoded earlier in the failing ``feed`` call are
    dropped with it; the connection is closed anyway and Raft tolerates the loss.
    """

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        if not 1 <= max_frame_bytes <= MAX_FRAME_LENGTH:
            raise ValueError(f"max_frame_bytes must be in 1..{MAX_FRAME_LENGTH}")
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()
        self._length: int | None = None
        """Length of the frame being read, once its header is in; None while reading one."""
        self._error: FrameError | None = None

    @property
    def failed(self) -> FrameError | None:
        """The error that stopped this decoder, if any."""
        return self._error

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet form a whole frame (non-zero at EOF means truncation)."""
        return len(self._buffer) + (HEADER_BYTES if self._length is not None else 0)

    def wanted(self) -> int:
        """Bytes still missing to finish the current header or frame.

        Lets a reader ask for exactly one frame (``readexactly(decoder.wanted())``), so that
        nothing after it is consumed, for example after a handshake.
        """
        if self._length is None:
            return HEADER_BYTES - len(self._buffer)
        return self._length - len(self._buffer)

    def feed(self, data: bytes) -> list[object]:
        """Every body completed by ``data``, in order. Raises FrameError on malformed input."""
        if self._error is not None:
            raise self._error
        self._buffer += data
        try:
            return self._drain()
        except FrameError as error:
            self._error = error
            self._buffer.clear()
            raise

    def _drain(self) -> list[object]:
        bodies: list[object] = []
        buffer = self._buffer
        offset = 0
        while True:
            if self._length is None:
                if len(buffer) - offset < HEADER_BYTES:
                    break
                (length,) = _HEADER.unpack_from(buffer, offset)
                offset += HEADER_BYTES
                self._length = self._check_length(length)
            end = offset + self._length
            if len(buffer) < end:
                break
            bodies.append(_decode_payload(buffer[offset], buffer[offset + 1 : end]))
            offset, self._length = end, None
        del buffer[:offset]
        return bodies

    def _check_length(self, length: int) -> int:
        """Reject a bad length as soon as the header is in, before any of its body is kept."""
        if length == 0:
            raise FrameError("zero-length frame")
        if length > self.max_frame_bytes:
            raise FrameError(f"frame of {length} bytes exceeds the cap of {self.max_frame_bytes}")
        return length


def _decode_payload(version: int, body: bytearray) -> object:
    if version != FRAME_VERSION:
        raise FrameError(f"unknown frame version {version}")
    try:
        return msgpack.unpackb(body, raw=False, strict_map_key=True, ext_hook=_reject_ext)
    except (ValueError, TypeError, msgpack.UnpackException) as error:
        raise FrameError(f"body is not valid msgpack: {error}") from None


# -- Raft messages -----------------------------------------------------------------------------

_Check = Callable[[str, Any], Any]
"""Validates one decoded field and returns the value to construct the message with."""


def _uint(name: str, value: Any) -> Any:
    # ``type(...) is int`` on purpose: bool is a subclass of int and must not pass for one.
    if type(value) is not int or value < 0:
        raise FrameError(f"field {name} must be a non-negative integer, not {value!r:.40}")
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
            or term < 0
            or index < 0
            or kind not in kinds
        ):
            raise FrameError(f"malformed entry {item!r:.60}")
        append(Entry(term=term, index=index, kind=kinds[kind], data=data))
    return tuple(out)


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


def message_tag(cls: type[Message]) -> int:
    """The wire tag number of a message class (for tests and diagnostics)."""
    return _BY_CLASS[cls].tag


def message_to_wire(m: Message) -> list[Any]:
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


def message_from_wire(raw: object) -> Message:
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


# -- handshake ---------------------------------------------------------------------------------

Role = Literal["peer", "client"]


@attrs.frozen(kw_only=True, slots=True)
class Hello:
    """The first frame on every connection: which cluster, who is calling, and as what."""

    cluster_id: str
    role: Role
    node_id: NodeId
    """The caller's node id for a peer (1 or more); always 0 for a client."""


def hello(cluster_id: str, role: Role, node_id: int) -> list[Any]:
    """The handshake body ``["hello", 1, cluster_id, role, node_id]``."""
    return ["hello", HELLO_VERSION, cluster_id, role, node_id]


def parse_hello(raw: object) -> Hello:
    """The Hello in a decoded body; FrameError unless it is exactly a valid handshake."""
    if type(raw) is not list or len(raw) != 5 or raw[0] != "hello":
        raise FrameError("expected a hello handshake")
    _, version, cluster_id, role, node_id = raw
    if type(version) is not int or version != HELLO_VERSION:
        raise FrameError(f"unsupported hello version {version!r:.40}")
    if type(cluster_id) is not str or not cluster_id:
        raise FrameError("hello cluster_id must be a non-empty string")
    if type(node_id) is not int:
        raise FrameError("hello node_id must be an integer")
    if role == "peer":
        if node_id < 1:
            raise FrameError(f"a peer hello needs a node id of 1 or more, not {node_id}")
        return Hello(cluster_id=cluster_id, role="peer", node_id=NodeId(node_id))
    if role == "client":
        if node_id != 0:
            raise FrameError(f"a client hello must carry node id 0, not {node_id}")
        return Hello(cluster_id=cluster_id, role="client", node_id=NodeId(0))
    raise FrameError(f"unknown hello role {role!r:.40}")
