"""Coalescing frames per connection: everything sent in one turn of the event loop leaves in
one write, so a connection carrying many concurrent calls costs one syscall per turn, not one
per frame."""

from __future__ import annotations

import asyncio
from typing import Any

from eventlog.protocol.frames import encode_frame


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
