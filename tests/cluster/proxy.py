"""A fault-injecting TCP proxy for tests: forward, or cut (drop every connection, black-hole new
ones). Runs its own event loop in a thread; everything it opened is closed by ``close()``."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from tests.cluster.harness import free_ports


class Proxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_ports(1)[0]
        self.cut = False
        self.forwarded = 0
        """Bytes carried so far, both ways."""
        self._hold_at: int | None = None
        self._loop = asyncio.new_event_loop()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._accept, "127.0.0.1", self.port)
        )
        ready.set()
        self._loop.run_forever()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        if self.cut:
            await self._black_hole(reader, writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            self._writers.discard(writer)
            return
        self._writers.add(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _black_hole(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while await reader.read(1 << 16):
                pass
        writer.close()
        self._writers.discard(writer)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(1 << 16):
                await self._flowing.wait()
                if self.cut:
                    break
                writer.write(data)
                self.forwarded += len(data)
                if self._hold_at is not None and self.forwarded >= self._hold_at:
                    self._hold_at = None
                    self._flowing.clear()
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            self._writers.discard(writer)

    def set_cut(self, cut: bool) -> None:
        """Cut: every open connection is closed and new ones lead nowhere. Heal: connections
        into the black hole are reset too, as a peer's TCP would eventually give up on them."""
        if cut != self.cut:
            self.cut = cut
            self._loop.call_soon_threadsafe(self._close_all)

    def hold(self, held: bool) -> None:
        """Held: connections stay open and carry nothing (a path that stalls); what waits
        fills the senders' buffers, and TCP stops them."""
        self._loop.call_soon_threadsafe(self._flowing.clear if held else self._flowing.set)

    def hold_after(self, carried: int) -> None:
        """Hold (``hold(True)``) as soon as ``carried`` bytes have passed, at a byte count
        and not at a moment: a test stalls a transfer midway however fast it runs."""
        self._hold_at = carried

    def _close_all(self) -> None:
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    def close(self) -> None:
        async def shutdown() -> None:
            self._close_all()
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
