"""What a repository promises, written once and run over every store: the embedded store and
a three-node cluster, through ``Repository`` and ``AsyncRepository``."""

from __future__ import annotations

import asyncio
import copy
import uuid
from typing import Any

import attrs
import pytest

from aggregates import (
    AggregateNotFound,
    AsyncRepository,
    ConcurrencyError,
    DomainEvent,
    Format,
    PendingEvent,
    Registry,
    ReplayError,
    Repository,
    UnhandledEvent,
    UnknownEventType,
    every,
    never,
)
from aggregates.events import new_meta
from aggregates.snapshots import SNAPSHOT_TYPE
from eventlog import AsyncEventLog, NewEvent
from examples.bank import (
    Account,
    AccountClosed,
    AccountOpened,
    InsufficientFunds,
    MoneyDeposited,
    MoneyWithdrawn,
    transfer,
)
from tests.aggregates.helpers import LostAnswerStore, RecordingStore


def new_id() -> str:
    return str(uuid.uuid4())


def funded(repository: Repository, *amounts: int) -> Account:
    account = Account.open("ann", id=new_id())
    for amount in amounts:
        account.deposit(amount)
    repository.save(account)
    return account


class RepositoryContract:
    @pytest.fixture
    def store(self) -> Any:
        raise NotImplementedError

    @pytest.fixture
    def repository(self, store: Any) -> Repository:
        return Repository(store)

    def test_a_saved_aggregate_loads_equal(self, repository: Repository) -> None:
        account = funded(repository, 500, 250)
        account.withdraw(100)
        repository.save(account)
        loaded = repository.get(Account, account.id)
        assert loaded == account and loaded.balance == 650 and loaded.version == 4
        assert not loaded.pending_events and not account.pending_events

    def test_an_unknown_id_is_not_found(self, repository: Repository) -> None:
        with pytest.raises(AggregateNotFound) as missing:
            repository.get(Account, "nobody")
        assert (missing.value.aggregate_type, missing.value.aggregate_id) == ("Account", "nobody")

    def test_a_past_version_loads_the_state_as_of_then(self, repository: Repository) -> None:
        account = funded(repository, 10, 20, 30)
        balances = [repository.get(Account, account.id, version=n).balance for n in (1, 2, 3, 4)]
        assert balances == [0, 10, 30, 60]
        with pytest.raises(AggregateNotFound) as missing:
            repository.get(Account, account.id, version=5)
        assert (missing.value.version, missing.value.actual) == (5, 4)
        with pytest.raises(ValueError, match="version must be 1 or more"):
            repository.get(Account, account.id, version=0)

    def test_save_returns_the_positions_it_wrote(self, repository: Repository, store: Any) -> None:
        account = Account.open("ann", id=new_id())
        account.deposit(5)
        saved = repository.save(account)
        assert saved.last_position == saved.first_position + 1
        written = store.read_all(saved.first_position, 2)
        assert [(e.stream, e.type) for e in written] == [
            (f"Account-{account.id}", "AccountOpened"),
            (f"Account-{account.id}", "MoneyDeposited"),
        ]
        nothing = repository.save(account)
        assert (nothing.first_position, nothing.last_position) == (0, 0)

    def test_a_concurrent_save_is_refused_whole_and_a_retry_succeeds(
        self, repository: Repository, store: Any
    ) -> None:
        account = funded(repository, 100)
        mine, theirs = repository.get(Account, account.id), repository.get(Account, account.id)
        theirs.deposit(1)
        repository.save(theirs)
        mine.deposit(2)
        mine.deposit(3)
        with pytest.raises(ConcurrencyError) as conflict:
            repository.save(mine)
        error = conflict.value
        assert (error.aggregate_type, error.aggregate_id, error.expected, error.actual) == (
            "Account",
            account.id,
            2,
            3,
        )
        assert len(store.read_stream(f"Account-{account.id}")) == 3
        assert len(mine.pending_events) == 2
        repository.update(Account, account.id, lambda a: a.deposit(2))
        assert repository.get(Account, account.id).balance == 103

    def test_saving_several_aggregates_is_atomic(self, repository: Repository, store: Any) -> None:
        payer, payee = funded(repository, 100), funded(repository)
        stale = repository.get(Account, payer.id)
        payer.withdraw(10)
        repository.save(payer)
        stale.withdraw(30)
        payee.deposit(30)
        with pytest.raises(ConcurrencyError) as conflict:
            repository.save(payee, stale)
        assert conflict.value.aggregate_id == payer.id
        assert len(store.read_stream(f"Account-{payee.id}")) == 1
        payee = repository.get(Account, payee.id)
        transfer(repository, payer.id, payee.id, 30)
        balances = [repository.get(Account, a).balance for a in (payer.id, payee.id)]
        assert balances == [60, 30]

    def test_the_retry_helper_gives_up_after_its_bound(self, repository: Repository) -> None:
        account = funded(repository)
        attempts = []

        def deposit_while_someone_else_does(mine: Account) -> None:
            attempts.append(mine.version)
            repository.update(Account, account.id, lambda theirs: theirs.deposit(1))
            mine.deposit(5)

        with pytest.raises(ConcurrencyError):
            repository.update(
                Account, account.id, deposit_while_someone_else_does, attempts=3, backoff=0
            )
        assert attempts == [1, 2, 3]
        assert repository.get(Account, account.id).balance == 3

    def test_a_domain_error_is_not_retried(self, repository: Repository) -> None:
        account = funded(repository, 5)
        calls = []

        def overdraw(a: Account) -> None:
            calls.append(1)
            a.withdraw(6)

        with pytest.raises(InsufficientFunds):
            repository.update(Account, account.id, overdraw)
        assert calls == [1] and repository.get(Account, account.id).version == 2

    def test_the_same_object_twice_saves_once_two_copies_are_refused(
        self, repository: Repository
    ) -> None:
        account = Account.open("ann", id=new_id())
        repository.save(account, account)
        assert repository.get(Account, account.id).version == 1
        account.deposit(1)
        twin = copy.deepcopy(account)
        with pytest.raises(ValueError, match="two different Account objects"):
            repository.save(account, twin)

    def test_a_save_repeated_after_a_lost_answer_appends_once(self, store: Any) -> None:
        lossy = LostAnswerStore(store)
        repository = Repository(lossy)
        account = Account.open("ann", id=new_id())
        lossy.lose_next = True
        with pytest.raises(Exception, match="the answer was lost"):
            repository.save(account)
        again = repository.save(account)
        assert again.first_position > 0
        assert len(store.read_stream(f"Account-{account.id}")) == 1

    def test_snapshots_live_in_their_own_stream_and_shorten_loads(self, store: Any) -> None:
        recording = RecordingStore(store)
        repository = Repository(recording, snapshots={Account: every(4)})
        account = funded(repository, 1, 1)
        for _ in range(7):
            account.deposit(1)
            repository.save(account)
        stream = f"Account-{account.id}"
        assert {e.type for e in store.read_stream(stream)} == {"AccountOpened", "MoneyDeposited"}
        snapshots = store.read_stream(f"$snapshot-{stream}")
        assert [e.type for e in snapshots] == [SNAPSHOT_TYPE] * 2
        recording.reads.clear()
        assert repository.get(Account, account.id) == account
        assert recording.forward_reads(stream) == [(9, 5000)]
        recording.reads.clear()
        assert repository.get(Account, account.id, version=6).balance == 5
        assert recording.forward_reads(stream) == [(5, 2)]

    def test_loads_without_a_policy_replay_and_agree(self, store: Any) -> None:
        with_snapshots = Repository(store, snapshots={Account: every(2)})
        account = funded(with_snapshots, 3, 4, 5)
        recording = RecordingStore(store)
        replaying = Repository(recording, snapshots={Account: never})
        assert replaying.get(Account, account.id) == with_snapshots.get(Account, account.id)
        assert recording.reads == [("forward", f"Account-{account.id}", 1, 5000)]

    def test_json_records_are_read_by_a_msgpack_repository(self, store: Any) -> None:
        as_json = Repository(store, format=Format.JSON)
        account = funded(as_json, 7)
        records = store.read_stream(f"Account-{account.id}")
        assert all(r.data.startswith(b"{") and r.metadata.startswith(b"{") for r in records)
        assert Repository(store).get(Account, account.id) == account

    def test_an_unknown_event_in_a_stream_names_where_it_is(
        self, repository: Repository, store: Any
    ) -> None:
        account = funded(repository)
        stream = f"Account-{account.id}"
        appended = store.append(stream, [NewEvent("Unheard", b"\x80", b"\x80")], 1)
        with pytest.raises(UnknownEventType) as unknown:
            repository.get(Account, account.id)
        assert (unknown.value.stream, unknown.value.position) == (stream, appended.last_position)

    def test_an_event_the_aggregate_cannot_apply_is_a_replay_error(self, store: Any) -> None:
        registry = Registry()
        registry.event("AccountOpened", version=2)(AccountOpened)
        registry.upcaster("AccountOpened", 1)(lambda payload: {**payload, "currency": "EUR"})
        for cls in (MoneyDeposited, MoneyWithdrawn, AccountClosed, Audited):
            registry.event(cls.__name__)(cls)
        registry.aggregate("Account")(Account)
        repository = Repository(store, registry=registry)
        account = funded(repository)
        stream = f"Account-{account.id}"
        audited = repository.codec.encode(PendingEvent(Audited(), new_meta()))
        appended = store.append(stream, [audited], 1)
        with pytest.raises(ReplayError) as failed:
            repository.get(Account, account.id)
        error = failed.value
        assert (error.stream, error.version, error.position) == (stream, 2, appended.last_position)
        assert isinstance(error.__cause__, UnhandledEvent)


@attrs.frozen
class Audited(DomainEvent):
    pass


class AsyncRepositoryContract:
    """The async repository over an async store; each test runs its own event loop."""

    @pytest.fixture
    def async_store(self) -> AsyncEventLog:
        raise NotImplementedError

    def run(self, async_store: AsyncEventLog, scenario: Any) -> Any:
        async def main() -> Any:
            try:
                return await scenario(AsyncRepository(async_store, snapshots={Account: every(3)}))
            finally:
                close = getattr(async_store, "close", None)
                if close is not None:
                    await close()

        return asyncio.run(main())

    def test_save_and_get_with_snapshots(self, async_store: AsyncEventLog) -> None:
        async def scenario(repository: AsyncRepository) -> None:
            account = Account.open("bo", id=new_id())
            for amount in range(1, 8):
                account.deposit(amount)
            saved = await repository.save(account)
            assert saved.last_position >= saved.first_position > 0
            assert await repository.get(Account, account.id) == account
            assert (await repository.get(Account, account.id, version=3)).balance == 3
            with pytest.raises(AggregateNotFound):
                await repository.get(Account, new_id())

        self.run(async_store, scenario)

    def test_a_conflict_is_refused_and_update_retries(self, async_store: AsyncEventLog) -> None:
        async def scenario(repository: AsyncRepository) -> None:
            account = Account.open("bo", id=new_id())
            await repository.save(account)
            mine = await repository.get(Account, account.id)
            theirs = await repository.get(Account, account.id)
            theirs.deposit(1)
            other = Account.open("cy", id=new_id())
            await repository.save(theirs)
            mine.deposit(2)
            with pytest.raises(ConcurrencyError) as conflict:
                await repository.save(other, mine)
            assert (conflict.value.expected, conflict.value.actual) == (1, 2)
            with pytest.raises(AggregateNotFound):
                await repository.get(Account, other.id)
            await repository.update(Account, account.id, lambda a: a.deposit(2))
            assert (await repository.get(Account, account.id)).balance == 3

        self.run(async_store, scenario)
