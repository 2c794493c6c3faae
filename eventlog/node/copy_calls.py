"""``copy``: a consistent copy of this node's store, streamed to a joining node or a backup.

The copy is LMDB's copy of one read transaction, written by a thread into a pipe; the loop
reads the pipe and sends it in chunks of ``COPY_CHUNK_BYTES``, waiting for each to drain
(TCP's flow control paces the copy to the receiver). The answer that ends the stream is the
copy's manifest. A receiver that goes away closes the pipe, which ends the copy thread."""

from __future__ import annotations

import asyncio
import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from eventlog.errors import Overloaded
from eventlog.protocol import answers
from eventlog.records import Manifest

if TYPE_CHECKING:
    from eventlog.node.server import ClientSession

__all__ = [
    "COPIES_AT_ONCE",
    "COPY_CHUNK_BYTES",
    "Copier",
]

COPY_CHUNK_BYTES = 1 << 20
COPIES_AT_ONCE = 2
"""Copies a node streams at once; one more is refused (``Overloaded``), and asked again."""


class Copier:
    """The threads that copy a server's store; the server waits for them before the store
    closes."""

    def __init__(self) -> None:
        self.threads = ThreadPoolExecutor(max_workers=COPIES_AT_ONCE, thread_name_prefix="copy")
        self.running = 0

    def close(self) -> None:
        self.threads.shutdown(wait=True, cancel_futures=True)


async def send_copy(session: ClientSession, call_id: int, args: dict[str, Any]) -> Any:
    copier: Copier = session.copier
    if copier.running >= COPIES_AT_ONCE:
        raise Overloaded(f"node {session.node.config.node_id} is sending {COPIES_AT_ONCE} copies")
    loop = asyncio.get_running_loop()
    storage = session.node.storage
    read_fd, write_fd = os.pipe()
    pipe_file = os.fdopen(read_fd, "rb", buffering=0)  # closed with the pipe's transport

    def copy() -> Manifest:
        try:
            return storage.copy_to(write_fd)
        finally:
            os.close(write_fd)

    copier.running += 1
    copying = loop.run_in_executor(copier.threads, copy)
    transport: asyncio.BaseTransport | None = None
    sent = 0
    try:
        pipe = asyncio.StreamReader(limit=2 * COPY_CHUNK_BYTES)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(pipe), pipe_file
        )
        while chunk := await pipe.read(COPY_CHUNK_BYTES):
            session.send([call_id, "chunk", chunk])
            sent += len(chunk)
            await session.drain()
        manifest = await copying
    finally:
        # A copy still writing hears a broken pipe and ends; the store outlives it.
        if transport is not None:
            transport.close()
        else:
            pipe_file.close()
        with contextlib.suppress(Exception):
            await asyncio.shield(copying)
        copier.running -= 1
    session.node.logger.info("copy_sent", bytes=sent, applied_index=manifest.applied_index)
    return {"manifest": answers.pack_manifest(manifest), "bytes": sent}
