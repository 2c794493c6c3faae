"""Frames: length-prefixed msgpack bodies, the unit that travels on every connection.

A frame is a 4-byte big-endian length ``N`` followed by ``N`` bytes: one version byte
(:data:`FRAME_VERSION`) and a msgpack body. The version byte lets the format change later
without guessing; the length prefix lets a reader reject an oversized frame before it buffers
a single byte of its body, so a confused or hostile peer cannot make us allocate 4 GiB.

No asyncio here, in the spirit of h11: bytes in, values out; the transport does the I/O.
Bodies are decoded with msgpack only, never pickle or another code-executing decoder.
"""

from __future__ import annotations

import struct
from typing import Final

import msgpack

from eventlog.errors import FrameError

__all__ = [
    "DEFAULT_MAX_FRAME_BYTES",
    "FRAME_VERSION",
    "HEADER_BYTES",
    "MAX_FRAME_LENGTH",
    "FrameDecoder",
    "encode_frame",
]

FRAME_VERSION: Final = 1
"""The only frame version this code reads and writes."""
DEFAULT_MAX_FRAME_BYTES: Final = 64 * 1024 * 1024
"""Cap on ``N`` (version byte plus body) unless the caller chooses another."""
HEADER_BYTES: Final = 4
MAX_FRAME_LENGTH: Final = 0xFFFF_FFFF
"""The largest ``N`` a 4-byte length prefix can carry."""

_HEADER = struct.Struct(">I")
_PREFIX = struct.Struct(">IB")


def encode_frame(body: object) -> bytes:
    """One frame for ``body``. Raises FrameError if it cannot fit a 4-byte length prefix."""
    payload: bytes = msgpack.packb(body, use_bin_type=True)
    length = len(payload) + 1
    if length > MAX_FRAME_LENGTH:
        raise FrameError(f"frame of {length} bytes does not fit the length prefix")
    return _PREFIX.pack(length, FRAME_VERSION) + payload


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
