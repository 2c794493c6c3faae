"""A process manager's worker over an embedded store: each reaction lands with its tracking
record, once; a conflicting save runs the handler again; a handler that raises stops the
worker just before the event, or parks it in the dead-letter stream; a restarted worker goes
on from the record; the bank's transfer saga moves money and gives back what it cannot."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest

from aggregates import Repository
from eventlog import EmbeddedStore, EventFilter, NewEvent, open_embedded
from examples.bank import ENDED, Account, Transfer
from examples.bank.saga import TransferSaga
from projections import (
    EmbeddedSource,
    PoisonEvent,
    PoisonPolicy,
    ProcessManager,
    ProcessWorker,
    Unit,
    WorkerConfig,
    dead_letter_stream,
    handles_raw,
)
from tests.projections.harness import wait_for


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    with open_embedded(tmp_path / "store", sync=False) as opened:
        yield opened


@attrs.define
class Running:
    worker: ProcessWorker
    loop: asyncio.AbstractEventLoop
    stop: asyncio.Event
    error: BaseException | None = None


@contextmanager
def running(manager: ProcessManager, store: EmbeddedStore, **config: Any) -> Iterator[Running]:
    """The manager's worker in a thread of its own; ``error`` holds what its ``run`` raised."""
    worker = ProcessWorker(manager, EmbeddedSource(store), store, WorkerConfig(**config))
    ready = threading.Event()
    holder: list[Running] = []

    def main() -> None:
        async def work() -> None:
            handle = Running(worker, asyncio.get_running_loop(), asyncio.Event())
            holder.append(handle)
            ready.set()
            try:
                await worker.run(handle.stop)
            except BaseException as error:
                handle.error = error

        asyncio.run(work())

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    ready.wait(10)
    [handle] = holder
    try:
        yield handle
    finally:
        if thread.is_alive():
            handle.loop.call_soon_threadsafe(handle.stop.set)
            thread.join(10)
        assert not thread.is_alive(), "the worker did not stop"


def balances(repository: Repository, *ids: str) -> list[int]:
    return [repository.get(Account, account_id).balance for account_id in ids]


def test_the_transfer_saga_moves_money_once_and_gives_back_what_it_cannot(
    store: EmbeddedStore,
) -> None:
    repository = Repository(store)
    alice, bob, closed = Account.open("alice"), Account.open("bob"), Account.open("gone")
    alice.deposit(1000)
    closed.close()
    repository.save(alice, bob, closed)
    paid = Transfer.request(alice.id, bob.id, 300)
    too_much = Transfer.request(bob.id, alice.id, 5000)
    returned = Transfer.request(alice.id, closed.id, 200)
    repository.save(paid, too_much, returned)
    with running(TransferSaga(), store) as saga:
        transfers = (paid.id, too_much.id, returned.id)
        wait_for(
            lambda: all(repository.get(Transfer, t).status in ENDED for t in transfers),
            10,
            "every transfer ended",
        )
        wait_for(lambda: saga.worker.checkpoint == store.head(), 10, "the record at the head")
    assert saga.error is None
    statuses = [repository.get(Transfer, t) for t in transfers]
    assert [t.status for t in statuses] == ["completed", "failed", "compensated"]
    assert "holds 0, cannot withdraw 5000" in statuses[1].reason
    assert "is closed" in statuses[2].reason
    assert balances(repository, alice.id, bob.id, closed.id) == [700, 300, 0]
    assert store.max_tracking("transfer-saga") == saga.worker.checkpoint
    withdrawn = [e for e in store.read_all() if e.type == "MoneyWithdrawn"]
    assert len(withdrawn) == 2, "taken once for each transfer that got past its first step"
    steps = [repository.codec.decode(e) for e in store.read_stream(f"Transfer-{paid.id}")]
    requested, debited, completed = (step.meta for step in steps)
    assert debited.causation_id == requested.event_id, "each step caused by the one before"
    assert completed.causation_id == debited.event_id
    assert requested.correlation_id == debited.correlation_id == completed.correlation_id


@attrs.define
class Echo(ProcessManager):
    """Answers each "Ping" in stream ``ping-N`` with a "Pong" in ``pong-N``, raw; raises on a
    ping whose data is "poison"; touches the pong stream out of band once, to conflict."""

    name = "echo"
    store: EmbeddedStore | None = None
    calls: list[int] = attrs.field(factory=list)
    interfere: EmbeddedStore | None = None

    @handles_raw("Ping")
    def ping(self, unit: Unit, recorded: Any) -> None:
        self.calls.append(recorded.position)
        if recorded.data == b"poison":
            raise ValueError("a ping it cannot answer")
        stream = "pong-" + recorded.stream.partition("-")[2]
        expected = self.seen(stream)
        if self.interfere is not None:  # someone else writes meanwhile: the save conflicts
            self.interfere.append(stream, [NewEvent("Noise", b"")])
            self.interfere = None
        unit.append(stream, [NewEvent("Pong", recorded.data)], expected)

    def seen(self, stream: str) -> int:
        """The version of ``stream`` now: a pong expects it."""
        assert self.store is not None
        return len(self.store.read_stream(stream))


def pongs(store: EmbeddedStore) -> list[bytes]:
    return [e.data for e in store.read_all(filter=EventFilter(types=("Pong",)))]


def test_each_reaction_is_saved_once_with_its_record_and_a_restart_goes_on_from_it(
    store: EmbeddedStore,
) -> None:
    for n in range(3):
        store.append(f"ping-{n}", [NewEvent("Ping", f"p{n}".encode())])
    store.append("other", [NewEvent("Other", b"")] * 5)
    manager = Echo(store)
    with running(manager, store) as echo:
        wait_for(lambda: echo.worker.checkpoint == store.head(), 10, "the record at the head")
    assert echo.error is None
    assert pongs(store) == [b"p0", b"p1", b"p2"]
    assert store.max_tracking("echo") == store.head(), "moved past the events it skipped"
    later = store.append("ping-9", [NewEvent("Ping", b"p9")]).first_position
    with running(manager, store) as echo:
        wait_for(lambda: echo.worker.checkpoint == store.head(), 10, "the new ping")
    assert pongs(store) == [b"p0", b"p1", b"p2", b"p9"]
    assert manager.calls == [1, 2, 3, later], "each ping once: the restart began at the record"


def test_a_save_that_conflicts_runs_the_handler_again(store: EmbeddedStore) -> None:
    store.append("ping-0", [NewEvent("Ping", b"p0")])
    manager = Echo(store, interfere=store)
    with running(manager, store) as echo:
        wait_for(lambda: echo.worker.checkpoint == store.head(), 10, "the record at the head")
    assert echo.error is None
    assert manager.calls == [1, 1], "run again after the conflict"
    assert [e.type for e in store.read_stream("pong-0")] == ["Noise", "Pong"]


def test_a_handler_that_raises_stops_the_worker_just_before_its_event(
    store: EmbeddedStore,
) -> None:
    store.append("ping-0", [NewEvent("Ping", b"p0")])
    store.append("other", [NewEvent("Other", b"")])
    store.append("ping-1", [NewEvent("Ping", b"poison")])
    with running(Echo(store), store) as echo:
        wait_for(lambda: echo.error is not None, 10, "the worker to stop")
    assert isinstance(echo.error, PoisonEvent)
    assert (echo.error.position, echo.error.stream) == (3, "ping-1")
    assert "ValueError: a ping it cannot answer" in echo.error.reason
    assert store.max_tracking("echo") == 2, "just before the poison"
    assert pongs(store) == [b"p0"]


def test_a_parked_event_goes_to_the_dead_letter_stream_and_the_worker_goes_on(
    store: EmbeddedStore,
) -> None:
    store.append("ping-0", [NewEvent("Ping", b"poison")])
    store.append("ping-1", [NewEvent("Ping", b"p1")])
    with running(Echo(store), store, poison=PoisonPolicy.PARK) as echo:
        wait_for(lambda: echo.worker.checkpoint >= 2, 10, "past the poison")
    assert echo.error is None
    assert pongs(store) == [b"p1"]
    [letter] = store.read_stream(dead_letter_stream("echo"))
    assert letter.type == "ReactionFailed"
    assert json.loads(letter.data) == {
        "position": 1,
        "stream": "ping-0",
        "type": "Ping",
        "error": "ValueError: a ping it cannot answer",
    }
