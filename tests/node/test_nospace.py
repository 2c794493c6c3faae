"""Out of room, the cluster says so and goes on serving: a member whose store passes its quota,
or whose disk refuses a write, raises a NOSPACE alarm that every member hears; the leader then
answers appends ``StorageFull`` at once, reads go on, and the alarm lifts by itself when there
is room again. A write the disk refused is tried again until it lands: nothing acknowledged is
lost, nothing is written twice, and the node never stops over it."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventlog.errors import StorageFull
from eventlog.node.node import Node
from eventlog.records import NewEvent
from eventlog.store.storage import LmdbStorage
from eventlog.types import NodeId
from tests.node.harness import Cluster, cluster, run


def event(text: str, size: int = 0) -> list[NewEvent]:
    return [NewEvent("Noted", text.encode().ljust(size, b"."))]


def alarmed(node: Node) -> bool:
    return node.health.no_space(time.monotonic()) is not None


async def restart(c: Cluster, node_id: NodeId, **settings: Any) -> Node:
    c.settings[node_id] = settings
    await c.stop(node_id)
    return await c.start(c.build(node_id))


def test_a_member_over_its_quota_stops_the_cluster_s_appends_until_it_has_room(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            leader = await c.elect()
            client = c.client()
            await c.ticking(client.append("notes", event("before")), "an append")
            follower = c.followers()[0].config.node_id
            full = await restart(c, follower, quota_bytes=1)
            await c.until(lambda: alarmed(leader), "the leader hearing the NOSPACE alarm")

            with pytest.raises(StorageFull, match=rf"NOSPACE alarm: node {follower}: .*quota"):
                await client.append("notes", event("refused"))  # at once: no tick went by
            [own] = full.status().alarms
            assert own.kind == "nospace" and "its quota is 1" in own.detail
            assert [a.kind for a in leader.status().alarms] == ["nospace"]
            events = await c.ticking(client.read_stream("notes"), "a read")
            assert [e.data for e in events] == [b"before"]  # reads go on
            owner = await c.ticking(client.acquire_lease("worker", "w-1", 5.0), "a lease")
            assert owner.owner == "w-1"  # small bookkeeping writes go on too

            await restart(c, follower, quota_bytes=None)
            await c.until(lambda: not alarmed(leader), "the alarm lifting by itself")
            await c.ticking(client.append("notes", event("after")), "an append")
            events = await c.ticking(client.read_stream("notes"), "a read")
            assert [e.data for e in events] == [b"before", b"after"]

    run(main)


@contextlib.contextmanager
def refused_writes(monkeypatch: pytest.MonkeyPatch, storage: LmdbStorage) -> Iterator[None]:
    """Every write of ``storage`` fails as a full disk makes it fail, until the block ends."""
    write_ready = LmdbStorage.write_ready
    full = True

    def failing(store: LmdbStorage, *args: Any, **kwargs: Any) -> Any:
        if full and store is storage:
            raise StorageFull("disk full: mdb_txn_commit: No space left on device")
        return write_ready(store, *args, **kwargs)

    monkeypatch.setattr(LmdbStorage, "write_ready", failing)
    try:
        yield
    finally:
        full = False


def test_a_leader_whose_disk_is_full_refuses_appends_then_finishes_its_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            for node_id in c.addresses:
                c.settings[node_id] = {"storage_retry": 0.01}
            leader = await c.elect()
            leader = await restart(c, leader.config.node_id, storage_retry=0.01)
            leader = await c.elect()
            client = c.client(leader.config.node_id)
            with refused_writes(monkeypatch, leader.storage):
                waiting = asyncio.ensure_future(leader.append(_request("in flight")))
                await c.observe(lambda: leader.health.nospace is not None, "the alarm")
                with pytest.raises(StorageFull, match="No space left"):
                    await client.append("notes", event("refused"))
                assert leader.health.serving and not waiting.done()
            await c.ticking(waiting, "the write landing once there is room")
            await c.until(lambda: not alarmed(leader), "the alarm lifting")
            await c.ticking(client.append("notes", event("after")), "an append")
            events = await c.ticking(client.read_stream("notes"), "a read")
            assert [e.data for e in events] == [b"in flight", b"after"]

    run(main)


def _request(text: str) -> Any:
    from eventlog.protocol.requests import new_request

    return new_request([("notes", event(text), -1)])


# -- a real full filesystem --------------------------------------------------------------------
@contextlib.contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[Path]:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def grow(path: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)


def test_a_leader_on_a_full_filesystem_refuses_appends_and_recovers_when_it_grows(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        async with cluster(tmp_path / "nodes", size=1) as c:
            [node_id] = c.addresses
            await c.stop(node_id)
            with small_tmpfs(tmp_path / "nodes" / f"node-{node_id}", "6m") as mounted:
                c.settings[node_id] = {"storage_retry": 0.01}
                leader = await c.start(c.build(node_id))
                leader = await c.elect()
                client = c.client(timeout=60)
                acknowledged: list[str] = []
                for n in range(200):  # 200 x 64 KiB: past what 6 MiB holds
                    name = f"e{n}"
                    append = asyncio.ensure_future(client.append("big", event(name, 1 << 16)))
                    await c.until(
                        lambda: append.done() or leader.health.nospace is not None,  # noqa: B023
                        "an append acknowledged, or the disk full",
                    )
                    if not append.done():
                        break  # its write waits for room
                    append.result()
                    acknowledged.append(name)
                assert leader.health.nospace is not None and "no room" in leader.health.nospace
                with pytest.raises(StorageFull, match="cannot write: disk full"):
                    await client.append("big", event("refused"))  # at once
                assert leader.health.serving
                # A read that needs no Raft round (the leader's own write is what waits).
                events = await client.read_stream("big", min_position=1)
                read = [e.data.rstrip(b".").decode() for e in events]
                assert read == acknowledged[: len(read)] and len(read) >= len(acknowledged) - 1

                grow(mounted, "64m")
                await c.ticking(append, "the waiting append landing")
                await c.until(lambda: not alarmed(leader), "the alarm lifting")
                await c.ticking(client.append("big", event("after", 1 << 16)), "an append")
                events = await c.ticking(client.read_stream("big"), "a read")
                names = [e.data.rstrip(b".").decode() for e in events]
                assert names == [*acknowledged, name, "after"]
                await c.stop(node_id)

    run(main)
