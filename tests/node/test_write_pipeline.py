"""The write pipeline (``eventlog.node.writes``): the leader hands out its next Ready, and
sends that one's entries to the followers, while its own write of the last one runs; writes
land, answers come and entries apply in order all the same."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventlog.node.node import Node
from eventlog.node.writes import merge
from eventlog.raft.ready import Ready, Role, SoftState
from eventlog.raft.records import Entry, HardState
from eventlog.records import NewEvent
from eventlog.store.storage import LmdbStorage
from eventlog.types import LogIndex, NodeId, Term
from tests.node.harness import cluster, run


class HeldWrites:
    """Holds one node's writes of entries in the writer thread until released."""

    def __init__(self) -> None:
        self.node: Node | None = None
        self.holding = threading.Event()
        self.released = threading.Event()


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldWrites]:
    held = HeldWrites()
    original = LmdbStorage.write_ready

    def write_ready(storage: LmdbStorage, *args: Any, **kwargs: Any) -> Any:
        node = held.node
        if node is not None and storage is node.storage and args[1]:
            held.holding.set()
            held.released.wait(timeout=60)
        return original(storage, *args, **kwargs)

    monkeypatch.setattr(LmdbStorage, "write_ready", write_ready)
    yield held
    held.released.set()


def test_the_leaders_next_entries_reach_the_followers_while_its_own_write_runs(
    tmp_path: Path, held: HeldWrites
) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            leader = await c.elect()
            await c.caught_up()
            client = c.client(leader.config.node_id)
            held.node = leader
            first = asyncio.ensure_future(client.append("notes", [NewEvent("Noted", b"a")]))
            await c.observe(held.holding.is_set, "the leader writing the first entry")
            last = leader.core.log.last_index()
            second = asyncio.ensure_future(client.append("notes", [NewEvent("Noted", b"b")]))
            await c.observe(
                lambda: leader.core.log.last_index() > last, "the leader taking the second"
            )
            wanted = leader.core.log.last_index()
            await c.observe(
                lambda: all(node.core.log.last_index() >= wanted for node in c.followers()),
                "the followers holding the second entry while the leader writes the first",
            )
            assert not first.done() and not second.done()
            assert leader.core.readys_in_flight >= 2
            held.released.set()
            results = await c.ticking(asyncio.gather(first, second), "both answered")
            assert [result.stream_version for result in results] == [1, 2]
            await c.caught_up()
            for node in c.nodes.values():
                assert [e.data for e in node.storage.read_all()] == [b"a", b"b"]

    run(main)


@pytest.mark.parametrize("pipelined", [True, False])
def test_appends_from_many_callers_commit_once_each_and_in_order(
    tmp_path: Path, pipelined: bool
) -> None:
    async def main() -> None:
        async with cluster(tmp_path) as c:
            for node_id in c.addresses:
                c.settings[node_id] = {"pipelined_writes": pipelined}
                await c.stop(node_id)
                await c.start(c.build(node_id))
            leader = await c.elect()
            client = c.client()
            calls = [
                client.append(f"s-{n % 4}", [NewEvent("Noted", str(n).encode())]) for n in range(40)
            ]
            results = await c.ticking(asyncio.gather(*calls), "every append answered")
            positions = sorted(result.last_position for result in results)
            assert positions == list(range(positions[0], positions[0] + 40))
            await c.caught_up()
            histories = {
                node_id: [(e.stream, e.data) for e in node.storage.read_all()]
                for node_id, node in c.nodes.items()
            }
            assert len(set(map(tuple, histories.values()))) == 1
            assert sorted(data for _, data in histories[leader.config.node_id]) == sorted(
                str(n).encode() for n in range(40)
            )

    run(main)


def _ready(entries: list[tuple[int, int]], committed: list[int], state: int | None) -> Ready:
    def entry(index: int, term: int) -> Entry:
        return Entry(index=LogIndex(index), term=Term(term), data=f"{index}/{term}".encode())

    return Ready(
        soft_state=SoftState(leader=NodeId(1), role=Role.FOLLOWER),
        hard_state=None if state is None else HardState(term=Term(state), vote=NodeId(1)),
        entries=tuple(entry(index, term) for index, term in entries),
        committed=tuple(entry(index, 1) for index in committed),
        messages=(),
        messages_after_persist=(),
        read_states=(),
        must_sync=bool(entries) or state is not None,
    )


def test_readys_handed_during_one_write_are_merged_into_the_next_as_the_log_holds_them() -> None:
    merged = merge(
        [
            _ready([(5, 1), (6, 1), (7, 1)], [3], state=1),
            _ready([], [4], state=None),
            _ready([(6, 2), (7, 2)], [], state=2),  # a new leader replaced 6 and 7
            _ready([(8, 2)], [5], state=None),
        ]
    )
    assert [(e.index, e.term) for e in merged.entries] == [(5, 1), (6, 2), (7, 2), (8, 2)]
    assert [e.index for e in merged.committed] == [3, 4, 5]
    assert merged.hard_state is not None and merged.hard_state.term == 2
    assert merged.must_sync
    only_applying = merge([_ready([], [3], state=None), _ready([], [4], state=None)])
    assert not only_applying.must_sync and only_applying.entries == ()
