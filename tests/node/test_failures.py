"""A node whose own write path fails stops on purpose, loudly: it logs the cause, answers every
waiting caller at once, takes no further part in Raft, and its process exits non-zero for a
supervisor to restart it. It never lingers as a zombie that answers ``status`` and does no
work. The others go on without it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import lmdb
import pytest
from structlog.testing import capture_logs

from eventlog.errors import NodeFailed, Unavailable
from eventlog.node.node import Node, NodeConfig
from eventlog.node.process import serve_node
from eventlog.protocol.requests import new_request
from eventlog.records import NewEvent
from eventlog.store.storage import LmdbStorage
from eventlog.types import NodeId
from tests.cluster.harness import free_ports
from tests.node.harness import cluster, run


def break_disk(monkeypatch: pytest.MonkeyPatch, broken: LmdbStorage) -> None:
    """Every write of ``broken`` fails from now on, as a disk's I/O error makes it fail; the
    other nodes' stores (in this process too) go on."""
    write_ready = LmdbStorage.write_ready

    def failing(storage: LmdbStorage, *args: Any, **kwargs: Any) -> Any:
        if storage is broken:
            raise lmdb.Error("mdb_txn_commit: Input/output error")
        return write_ready(storage, *args, **kwargs)

    monkeypatch.setattr(LmdbStorage, "write_ready", failing)


def note(text: str) -> Any:
    return new_request([("notes", [NewEvent("Noted", text.encode())], -1)])


def test_a_failed_write_stops_the_node_and_answers_its_callers_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            leader = await c.elect()
            break_disk(monkeypatch, leader.storage)
            with capture_logs() as logs:
                waiting = leader.append(note("lost"))
                await c.observe(lambda: leader.health.failure is not None, "the node failing")
            with pytest.raises(Unavailable, match=r"node \d failed: Error: mdb_txn_commit"):
                await waiting
            assert isinstance(leader.health.failure, NodeFailed)
            assert isinstance(leader.health.failure.cause, lmdb.Error)
            [failed] = [line for line in logs if line["event"] == "node_failed"]
            assert failed["log_level"] == "error" and "Input/output" in failed["reason"]
            with pytest.raises(Unavailable):
                leader.append(note("refused"))
            with pytest.raises(Unavailable):
                await leader.read_barrier()
            term = leader.core.term
            leader.tick()  # a failed node takes no part any more
            assert leader.core.term == term

            await c.stop(leader.config.node_id)
            survivor = await c.elect()
            result = await c.client(survivor.config.node_id).append(
                "notes", [NewEvent("Noted", b"after")]
            )
            assert result.last_position >= 1

    run(main)


def test_the_process_of_a_failed_node_ends_with_its_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        [port] = free_ports(1)
        config = NodeConfig(
            node_id=NodeId(1),
            cluster_id="solo",
            addresses={NodeId(1): ("127.0.0.1", port)},
            data_dir=str(tmp_path / "node-1"),
            tick_ms=10,
            sync=False,
        )
        node = Node(config)
        serving = asyncio.ensure_future(serve_node(node))
        async with asyncio.timeout(20):
            while node.core.leader != 1:
                await asyncio.sleep(0.01)
        break_disk(monkeypatch, node.storage)
        with pytest.raises(Unavailable):
            await node.append(note("lost"))
        with pytest.raises(NodeFailed, match="node 1 failed"):
            async with asyncio.timeout(20):
                await serving
        assert node.stopped

    run(main)
