"""How a node writes what it applies: a Ready that only applies is decided and answered at once,
staged (``LmdbStorage.stage``), and written with the next Ready that must be written, by the
flush timer, or at once for a reader that waits for it; a crash loses only staged applies,
which the log replays.

Most tests hold the flush timer off (``HOLD``), so that nothing but what a test names can write
a staged apply."""

from __future__ import annotations

import asyncio
from pathlib import Path

from eventlog.node.node import Node
from eventlog.raft.messages import AppendEntries, Heartbeat
from eventlog.records import AppendResult, NewEvent
from eventlog.types import LogIndex
from tests.node.harness import Cluster, cluster, run

HOLD = 3600.0
"""A flush delay no test outlives."""


def event(name: str) -> NewEvent:
    return NewEvent("Noted", name.encode())


async def append(c: Cluster, leader: Node, name: str) -> AppendResult:
    return await c.client(leader.config.node_id).append("notes", [event(name)])


def test_an_apply_only_ready_is_staged_then_written_with_the_next_ready(tmp_path: Path) -> None:
    async def main() -> None:
        async with cluster(tmp_path, flush_delay=HOLD) as c:
            leader = await c.elect()
            first = await append(c, leader, "first")
            # Answered from the staged apply: decided, not yet on disk.
            assert leader.storage.staged()
            assert leader.storage.last_position() < first.last_position
            assert leader.storage.read_all() == []

            second = await append(c, leader, "second")
            # The Ready that carried the second entry wrote the first one's apply with it.
            assert leader.storage.last_position() == first.last_position
            assert [e.data for e in leader.storage.read_all()] == [b"first"]
            assert leader.storage.staged()
            assert leader.storage.last_position() < second.last_position

    run(main)


def test_staged_applies_are_written_by_the_flush_timer(tmp_path: Path) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            leader = await c.elect()
            result = await append(c, leader, "only")
            # No reader and no further entry: only the timer can write it.
            await c.until(
                lambda: (
                    leader.storage.last_position() == result.last_position
                    and not leader.storage.staged()
                ),
                "the flush timer writing the staged apply",
            )

    run(main)


def test_a_reader_waiting_for_a_position_has_it_written_at_once(tmp_path: Path) -> None:
    async def main() -> None:
        async with cluster(tmp_path, flush_delay=HOLD) as c:
            leader = await c.elect()
            result = await append(c, leader, "wanted")
            assert leader.storage.staged()
            reader = c.client(leader.config.node_id, timeout=5.0)
            events = await reader.read_all(min_position=result.last_position)
            assert [e.data for e in events] == [b"wanted"]
            assert not leader.storage.staged()

    run(main)


def test_a_linearizable_reader_has_the_applied_index_written_at_once(tmp_path: Path) -> None:
    async def main() -> None:
        async with cluster(tmp_path, flush_delay=HOLD) as c:
            leader = await c.elect()
            await append(c, leader, "wanted")
            assert leader.storage.staged()
            decided = leader.core.log.applied
            assert leader.storage.applied_index() < decided
            # ReadIndex, then ``wait_applied`` for the index the leader confirmed.
            events = await c.client(leader.config.node_id, timeout=5.0).read_all()
            assert [e.data for e in events] == [b"wanted"]
            assert leader.storage.applied_index() >= decided
            assert not leader.storage.staged()
            await leader.wait_applied(LogIndex(decided))  # already written: returns as is

    run(main)


def test_a_crash_loses_only_staged_applies_and_the_log_replays_them(tmp_path: Path) -> None:
    async def main() -> None:
        async with cluster(tmp_path, flush_delay=HOLD) as c:
            leader = await c.elect()
            node_id = leader.config.node_id
            first = await append(c, leader, "first")
            second = await append(c, leader, "second")
            decided, written = leader.core.log.applied, leader.storage.applied_index()
            assert written < decided

            await c.stop(node_id, crash=True)
            restarted = c.build(node_id)
            assert restarted.storage.applied_index() == written
            assert restarted.storage.last_position() == first.last_position
            assert restarted.storage.last_index() >= decided  # the log kept what was lost

            await c.start(restarted)
            await c.caught_up()
            replayed = restarted.storage.read_all()
            assert [e.data for e in replayed] == [b"first", b"second"]
            assert replayed[-1].position == second.last_position
            for node in c.nodes.values():
                assert node.storage.read_all() == replayed  # same ids and timestamps
                assert node.storage.digest() == restarted.storage.digest()

    run(main)


def test_a_reader_already_waiting_when_an_apply_is_staged_has_it_written_at_once(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        async with cluster(tmp_path, flush_delay=HOLD) as c:
            leader = await c.elect()
            follower = c.followers()[0]
            # The follower gets the entry, not the news that it committed.
            c.network.drop = lambda m: (
                m.dst == follower.config.node_id
                and (isinstance(m, Heartbeat) or (isinstance(m, AppendEntries) and not m.entries))
            )
            await append(c, leader, "awaited")
            waiting = asyncio.ensure_future(follower.wait_position(1))
            await c.observe(c.idle, "the follower holding the entry, the reader waiting")
            assert not waiting.done() and not follower.storage.staged()
            c.network.heal()
            await c.until(waiting.done, "the waiting reader served")  # a heartbeat commits
            assert [e.data for e in follower.storage.read_all()] == [b"awaited"]

    run(main)
