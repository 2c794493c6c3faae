"""Workers in this process over an embedded store: catch-up and live follow, clean stop,
poison policies, standby takeover, fencing of a former owner, and a rebuild switching the
target under a running worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from eventlog import EmbeddedStore, NewEvent, open_embedded
from projections import (
    Batch,
    EmbeddedSource,
    Fenced,
    PoisonEvent,
    PoisonPolicy,
    Router,
    SqliteTarget,
    TargetError,
    apply_batch,
    claim,
    lease_name,
    rebuild,
)
from tests.projections.harness import in_thread, wait_for
from tests.projections.sample import (
    Flaky,
    LmdbTotals,
    Totals,
    TotalsTwo,
    Withdrawn,
    deposits,
    encode,
    expected_totals,
    lmdb_model,
    sqlite_model,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    with open_embedded(tmp_path / "store", sync=False) as opened:
        yield opened


def seed(store: EmbeddedStore, streams: int = 4, each: int = 50) -> None:
    for n in range(streams):
        store.append(f"acct-{n}", deposits(each, amount=n + 1))


def last(store: EmbeddedStore) -> int:
    return int(store.status().last_position)


def test_catches_up_then_follows_live_appends(store: EmbeddedStore, tmp_path: Path) -> None:
    seed(store)
    path = tmp_path / "totals.db"
    with in_thread(Totals(), store, path, batch_size=64) as worker:
        wait_for(lambda: worker.checkpoint == 200, 10, "catch-up")
        for _ in range(30):
            store.append("acct-live", [encode(Withdrawn(amount=2))])
        wait_for(lambda: worker.checkpoint == 230, 10, "live appends")
    assert worker.error is None
    model = sqlite_model(path)
    assert model.applied == tuple(range(1, 231))
    assert model.totals == expected_totals(store.read_all())
    assert model.checkpoint == 230


def test_lmdb_target_follows_like_sqlite(store: EmbeddedStore, tmp_path: Path) -> None:
    seed(store)
    path = tmp_path / "totals.lmdb"
    with in_thread(LmdbTotals(), store, path, batch_size=64) as worker:
        wait_for(lambda: worker.checkpoint == 200, 10, "catch-up")
        store.append("acct-live", deposits(5))
        wait_for(lambda: worker.checkpoint == 205, 10, "live appends")
    model = lmdb_model(path)
    assert (model.checkpoint, model.applied) == (205, tuple(range(1, 206)))
    assert model.totals == expected_totals(store.read_all())


def test_a_stopped_worker_commits_and_hands_its_lease_over(
    store: EmbeddedStore, tmp_path: Path
) -> None:
    seed(store)
    with in_thread(Totals(), store, tmp_path / "t.db", batch_size=10) as worker:
        wait_for(lambda: worker.checkpoint == 200, 10, "catch-up")
        assert [g.owner for g in store.leases() if g.name == lease_name("totals")] == [
            worker.worker.config.owner
        ]
    assert worker.error is None
    [released] = [g for g in store.leases() if g.name == lease_name("totals")]
    assert (released.released, released.checkpoint) == (True, 200)
    assert sqlite_model(tmp_path / "t.db").checkpoint == 200


def test_renewals_report_the_checkpoint(store: EmbeddedStore, tmp_path: Path) -> None:
    seed(store)
    with in_thread(Totals(), store, tmp_path / "t.db", lease_ttl=0.3) as worker:
        wait_for(lambda: worker.checkpoint == 200, 10, "catch-up")
        wait_for(
            lambda: (
                [g.checkpoint for g in store.leases() if g.name == lease_name("totals")] == [200]
            ),
            5,
            "a renewal with the checkpoint",
        )


def test_a_poison_event_stops_the_worker_naming_it(store: EmbeddedStore, tmp_path: Path) -> None:
    seed(store, streams=1, each=10)
    store.append("flaky-1", [encode(Flaky(fail=True))])
    store.append("acct-0", deposits(5))
    with in_thread(Totals(), store, tmp_path / "t.db") as worker:
        wait_for(lambda: not worker.thread.is_alive(), 10, "the worker to stop")
    assert isinstance(worker.error, PoisonEvent)
    assert (worker.error.position, worker.error.stream, worker.error.type_name) == (
        11,
        "flaky-1",
        "Flaky",
    )
    assert worker.error.projection == "totals"
    assert sqlite_model(tmp_path / "t.db").checkpoint == 10


def test_an_undecodable_event_is_poison_too(store: EmbeddedStore, tmp_path: Path) -> None:
    store.append("acct-0", [NewEvent("Deposited", b"not msgpack", b"\xc1")])
    with in_thread(Totals(), store, tmp_path / "t.db") as worker:
        wait_for(lambda: not worker.thread.is_alive(), 10, "the worker to stop")
    assert isinstance(worker.error, PoisonEvent)
    assert (worker.error.position, worker.error.type_name) == (1, "Deposited")


def test_the_park_policy_parks_poison_and_goes_on(store: EmbeddedStore, tmp_path: Path) -> None:
    store.append("acct-0", deposits(3))
    store.append("flaky-1", [encode(Flaky(fail=True))])
    store.append("acct-0", deposits(3))
    path = tmp_path / "t.db"
    with (
        capture_logs() as logs,
        in_thread(Totals(), store, path, poison=PoisonPolicy.PARK) as worker,
    ):
        wait_for(lambda: worker.checkpoint == 7, 10, "the worker to pass the poison")
    assert worker.error is None
    [parked] = [line for line in logs if line["event"] == "event_parked"]
    assert (parked["position"], parked["stream"], parked["type"]) == (4, "flaky-1", "Flaky")
    target = SqliteTarget.open(path, "totals")
    try:
        assert [letter.position for letter in target.dead_letters()] == [4]
    finally:
        target.close()
    assert sqlite_model(path).applied == (1, 2, 3, 5, 6, 7)


def test_a_standby_takes_over_where_the_active_worker_stopped(
    store: EmbeddedStore, tmp_path: Path
) -> None:
    seed(store)
    path = tmp_path / "t.db"
    with in_thread(TotalsTwo(), store, path, batch_size=16, lease_ttl=0.6) as first:
        wait_for(lambda: first.checkpoint == 200, 10, "the first worker")
        with in_thread(TotalsTwo(), store, path, batch_size=16, lease_ttl=0.6) as second:
            store.append("acct-9", deposits(10))
            wait_for(lambda: first.checkpoint == 210, 10, "the first worker to follow")
            assert second.worker.keeper.grant is None, "the standby holds nothing"
            first.stop()
            store.append("acct-9", deposits(10))
            wait_for(lambda: second.checkpoint == 220, 5, "the standby to take over")
    assert first.error is None and second.error is None
    model = sqlite_model(path)
    assert model.applied == tuple(range(1, 221))
    assert model.totals == expected_totals(store.read_all())


def test_a_former_owner_is_fenced_off_by_the_token_of_the_new_one(
    store: EmbeddedStore, tmp_path: Path
) -> None:
    """The old owner paused between reading its events and committing; meanwhile its lease
    expired and another owner claimed the target. Its commit is refused."""
    seed(store, streams=1, each=4)
    projection, name = Totals(), lease_name("totals")
    old = store.acquire_lease(name, "old", 0.2)
    target = projection.open_target(tmp_path / "t.db")
    try:
        claim(target, projection, old.token)
        stalled = target.begin()
        wait_for(lambda: _expired(store, name), 5, "the old lease to expire")
        stalled.rollback()  # SQLite has one writer: the paused one lets go of the lock
        new = store.acquire_lease(name, "new", 5.0)
        assert new.token > old.token
        claim(target, projection, new.token)
        with pytest.raises(Fenced):
            apply_batch(
                target,
                Router.bind(projection),
                Batch(store.read_all(1, 4), 1, 4),
                token=old.token,
                policy=PoisonPolicy.STOP,
            )
        assert target.checkpoint().position == 0
        assert target.checkpoint().token == new.token
    finally:
        target.close()


def _expired(store: EmbeddedStore, name: str) -> bool:
    """True once the old lease has expired by the store's clock (a new owner can take it)."""
    try:
        probe = store.acquire_lease(name, "probe", 0.001)
    except Exception:
        return False
    store.release_lease(name, "probe", probe.token)
    return True


def test_a_rebuild_switches_the_target_under_a_running_worker(
    store: EmbeddedStore, tmp_path: Path
) -> None:
    seed(store)
    path = tmp_path / "t.db"
    with in_thread(Totals(), store, path, batch_size=32) as worker:
        wait_for(lambda: worker.checkpoint == 200, 10, "catch-up")
        old_generation = path.resolve()
        result = asyncio.run(_rebuild(store, path))
        assert result.checkpoint == 200
        assert path.resolve() != old_generation and not old_generation.exists()
        store.append("acct-after", deposits(7))
        wait_for(lambda: worker.checkpoint == 207, 10, "the worker to follow the switch")
        wait_for(lambda: sqlite_model(path).checkpoint == 207, 5, "writes to the new generation")
    model = sqlite_model(path)
    assert model.applied == tuple(range(1, 208))
    assert model.totals == expected_totals(store.read_all())


async def _rebuild(store: EmbeddedStore, path: Path) -> object:
    source = EmbeddedSource(store)
    try:
        return await rebuild(Totals(), source, path, batch_size=50)
    finally:
        await source.close()


def test_rebuild_equals_incremental(store: EmbeddedStore, tmp_path: Path) -> None:
    seed(store, streams=6, each=30)
    incremental = tmp_path / "incremental.db"
    with in_thread(Totals(), store, incremental, batch_size=7) as worker:
        for n in range(20):
            store.append(f"acct-{n % 3}", [encode(Withdrawn(amount=n))])
        wait_for(lambda: worker.checkpoint == 200, 10, "the worker")
    started = time.monotonic()
    asyncio.run(_rebuild(store, tmp_path / "rebuilt.db"))
    assert time.monotonic() - started < 10
    assert sqlite_model(tmp_path / "rebuilt.db") == sqlite_model(incremental)


def test_a_target_fenced_beyond_any_grant_is_refused_not_retried(
    store: EmbeddedStore, tmp_path: Path
) -> None:
    """A target written under another cluster's leases: no worker here can ever outbid it."""
    seed(store, streams=1, each=3)
    path = tmp_path / "t.db"
    projection = Totals()
    foreign = projection.open_target(tmp_path / "t.g1.db")
    claim(foreign, projection, 99)
    foreign.close()
    path.symlink_to("t.g1.db")
    with in_thread(projection, store, path) as worker:
        wait_for(lambda: not worker.thread.is_alive(), 10, "the worker to stop")
    assert isinstance(worker.error, TargetError)
    assert "fencing token 99" in str(worker.error)


class AccountTotals(Totals):
    name = "account-totals"
    streams = ("acct-",)


def test_a_worker_reads_only_its_streams_and_types_and_its_checkpoint_moves_past_the_rest(
    store: EmbeddedStore, tmp_path: Path
) -> None:
    seed(store, streams=2, each=10)
    store.append("other-1", deposits(5))  # a type it handles, in a stream it does not read
    store.append("acct-0", [NewEvent("Unhandled", b"")] * 1500)  # its stream, no handler
    store.append("$snapshot-acct-0", [encode(Withdrawn(amount=1))])  # a system stream
    store.append("acct-1", deposits(2))
    path = tmp_path / "accounts.db"
    with (
        capture_logs() as logs,
        in_thread(AccountTotals(), store, path, batch_size=64) as worker,
    ):
        wait_for(lambda: worker.checkpoint == last(store), 10, "catch-up past what it skips")
        assert worker.worker.meter.total == 22, "only its own events travelled"
        store.append("other-2", deposits(3))
        head = last(store)
        wait_for(lambda: worker.checkpoint == head, 10, "live, past events it does not want")
    assert worker.error is None
    assert not [log for log in logs if log["event"] == "subscription_stalled"]
    model = sqlite_model(path)
    acct = [e for e in store.read_all() if e.stream.startswith("acct-")]
    assert model.totals == expected_totals(acct)
    assert model.checkpoint == head
