"""The protocol on asyncio streams, shared by the client and the node: reading the hello, and
coalescing frames per connection (everything sent in one turn of the event loop leaves in one
write, so a connection carrying many concurrent calls costs one syscall per turn, not one per
frame)."""

from __future__ import annotations

import asyncio
from typing import Any

from eventlog.errors import FrameError
from eventlog.protocol.frames import FrameDecoder, encode_frame
from eventlog.protocol.hello import MAX_HELLO_BYTES, Hello, parse_hello

__all__ = [
    "FrameWriter",
    "read_hello",
]


class FrameWriter:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self._pending: list[bytes] = []

    def send(self, body: Any) -> None:
        """Queue one frame; it is written at the end of this turn of the loop."""
        self._pending.append(encode_frame(body))
        if len(self._pending) == 1:
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending.clear()
        if not self.writer.is_closing():
            self.writer.write(data)


TLS_HANDSHAKE = b"\x16\x03"
"""How every TLS connection starts: a handshake record of version 3.x."""


class PlaintextPort(FrameError):
    """A TLS client at a port without TLS (a node run ``--insecure``)."""


async def read_hello(reader: asyncio.StreamReader, decoder: FrameDecoder, timeout: float) -> Hello:
    """Read exactly the first frame and parse it as a hello.

    Reads exactly one frame's bytes, never more, so the frames the caller sent right after its
    hello stay in ``reader`` for whoever serves the connection. Raises FrameError (malformed,
    too large, or EOF first) or TimeoutError.
    """
    async with asyncio.timeout(timeout):
        while True:
            wanted = decoder.wanted()
            if wanted > MAX_HELLO_BYTES:
                raise FrameError(f"hello frame of {wanted} bytes is too large")
            try:
                data = await reader.readexactly(wanted)
            except asyncio.IncompleteReadError:
                raise FrameError("connection closed before the hello") from None
            if not decoder.buffered and data.startswith(TLS_HANDSHAKE):
                raise PlaintextPort("a TLS handshake at a node that runs without TLS")
            bodies = decoder.feed(data)
            if bodies:
                return parse_hello(bodies[0])
