"""Long reads travel in pages: the node answers a read with at most ``READ_PAGE_EVENTS``
events and about ``READ_PAGE_BYTES`` of them, and the client asks for the next page until it
has what was asked, so a read without a limit of a log larger than a frame still works."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from eventlog.client.async_client import AsyncClient
from eventlog.node import server
from eventlog.protocol import reads
from eventlog.records import NewEvent
from eventlog.store.storage import LmdbStorage
from tests.node.harness import cluster, run


def count_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    ops: list[str] = []
    call = AsyncClient._call

    async def counted(client: AsyncClient, op: str, args: dict[str, Any], **kw: Any) -> Any:
        ops.append(op)
        return await call(client, op, args, **kw)

    monkeypatch.setattr(AsyncClient, "_call", counted)
    return ops


def test_reads_longer_than_a_page_come_whole_in_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reads, "READ_PAGE_EVENTS", 7)

    async def main() -> None:
        async with cluster(tmp_path) as c:
            await c.elect()
            client = c.client()
            for n in range(0, 30, 5):
                batch = [NewEvent("E", b"%d" % (n + i)) for i in range(5)]
                await c.ticking(client.append("s", batch), "an append")
            ops = count_calls(monkeypatch)
            everything = await c.ticking(client.read_all(), "read_all")
            assert [e.data for e in everything] == [b"%d" % n for n in range(30)]
            assert ops.count("read_all") == 5  # 7 + 7 + 7 + 7 + 2
            some = await c.ticking(client.read_stream("s", 3, limit=12), "read_stream")
            assert [e.version for e in some] == list(range(3, 15))
            newest = await c.ticking(client.read_stream_backwards("s"), "backwards")
            assert [e.version for e in newest] == list(range(30, 0, -1))
            assert ops.count("read_stream_backwards") == 5

    run(main)


def test_a_read_of_more_bytes_than_a_frame_holds_comes_in_pages(tmp_path: Path) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            await c.elect()
            client = c.client()
            big = b"x" * 900_000
            for _ in range(80):  # 72 MB, past the 64 MiB frame cap; pages of about 8 MiB
                await c.ticking(client.append("big", [NewEvent("E", big)]), "an append")
            events = await c.ticking(client.read_all(), "read_all")
            assert len(events) == 80 and all(e.data == big for e in events)

    run(main)


def test_long_reads_run_in_the_reader_thread_and_short_ones_on_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page of thousands of events takes tens of milliseconds to read and pack: it runs
    beside the loop (which goes on stepping heartbeats), a short read on it (no thread hop)."""
    monkeypatch.setattr(server, "READ_ON_LOOP_EVENTS", 5)
    threads: list[str] = []
    read_all = LmdbStorage.read_all

    def recorded(storage: LmdbStorage, *args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return read_all(storage, *args)

    monkeypatch.setattr(LmdbStorage, "read_all", recorded)

    async def main() -> None:
        async with cluster(tmp_path) as c:
            await c.elect()
            client = c.client()
            await c.ticking(client.append("s", [NewEvent("E", b"%d" % n) for n in range(8)]), "")
            short = await c.ticking(client.read_all(limit=5), "a short read")
            long = await c.ticking(client.read_all(), "a long read")
            assert [e.data for e in short] == [b"%d" % n for n in range(5)]
            assert [e.data for e in long] == [b"%d" % n for n in range(8)]

    run(main)
    assert threads[0] == threading.main_thread().name
    assert threads[1].startswith("storage-reader")
