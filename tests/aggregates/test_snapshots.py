"""Snapshots across schema changes: upcast when a chain exists, otherwise ignored (and
logged) in favour of a full replay; never mis-loaded."""

from __future__ import annotations

import uuid
from collections.abc import MutableMapping
from typing import Any

import attrs
import pytest
from structlog.testing import capture_logs

from aggregates import (
    Aggregate,
    DomainEvent,
    Payload,
    Registry,
    Repository,
    applies,
    every,
)
from eventlog import EmbeddedStore, NewEvent
from examples.bank import Account
from tests.aggregates.helpers import RecordingStore


@attrs.frozen
class Credited(DomainEvent):
    amount: int


@attrs.define
class WalletV1(Aggregate):
    cents: int = 0

    @applies(Credited)
    def _credited(self, event: Credited) -> None:
        self.cents += event.amount


@attrs.define
class WalletV2(Aggregate):
    """Version 2 renamed ``cents`` to ``balance``."""

    balance: int = 0

    @applies(Credited)
    def _credited(self, event: Credited) -> None:
        self.balance += event.amount


@attrs.define
class WalletEdited(Aggregate):
    """Version 1 still, but with a field added: an edit that forgot to bump the version."""

    cents: int = 0
    label: str = "unset"

    @applies(Credited)
    def _credited(self, event: Credited) -> None:
        self.cents += event.amount
        self.label = "credited"


@attrs.define
class Total(Aggregate):
    """State msgpack cannot write (an int past 64 bits), from events it can."""

    total: int = 0

    @applies(Credited)
    def _credited(self, event: Credited) -> None:
        self.total += event.amount


def registry_of(cls: type[Aggregate], version: int = 1, **upcasters: Any) -> Registry:
    registry = Registry()
    registry.event("Credited")(Credited)
    registry.aggregate("Wallet", version=version, snapshots=every(2))(cls)
    for from_version, function in upcasters.items():
        registry.snapshot_upcaster("Wallet", int(from_version.removeprefix("v")))(function)
    return registry


def cents_to_balance(payload: Payload) -> Payload:
    return {"balance": payload.pop("cents")}


def write_with_v1(store: EmbeddedStore, credits: int) -> str:
    """A wallet written by version 1 code, with a snapshot every 2 events."""
    repository = Repository(store, registry=registry_of(WalletV1))
    wallet = WalletV1.start(Credited(1), id=str(uuid.uuid4()))
    for _ in range(credits - 1):
        wallet.trigger(Credited(1))
        repository.save(wallet)
    return wallet.id


@attrs.define
class Loaded:
    wallet: Any
    forward_reads: list[tuple[int | None, int | None]]
    logs: list[MutableMapping[str, Any]]


def load_wallet(store: EmbeddedStore, registry: Registry, cls: type[Any], wallet_id: str) -> Loaded:
    recording = RecordingStore(store)
    with capture_logs() as logs:
        wallet = Repository(recording, registry=registry).get(cls, wallet_id)
    return Loaded(wallet, recording.forward_reads(f"Wallet-{wallet_id}"), logs)


def test_an_older_snapshot_is_upcast_when_a_chain_exists(store: EmbeddedStore) -> None:
    wallet_id = write_with_v1(store, 5)
    registry = registry_of(WalletV2, version=2, v1=cents_to_balance)
    loaded = load_wallet(store, registry, WalletV2, wallet_id)
    assert (loaded.wallet.balance, loaded.wallet.version) == (5, 5)
    assert loaded.forward_reads == [(5, 5000)]
    assert loaded.logs == []


@pytest.mark.parametrize(
    ("cls", "version", "reason"),
    [
        (WalletV2, 2, "schema 1 has no upcasters to 2"),
        (WalletEdited, 1, "the fields changed"),
    ],
)
def test_a_snapshot_that_does_not_fit_is_ignored_for_a_full_replay(
    store: EmbeddedStore, cls: type[Aggregate], version: int, reason: str
) -> None:
    wallet_id = write_with_v1(store, 5)
    loaded = load_wallet(store, registry_of(cls, version=version), cls, wallet_id)
    assert loaded.wallet.version == 5
    assert attrs.asdict(loaded.wallet)["balance" if cls is WalletV2 else "cents"] == 5
    assert loaded.forward_reads == [(1, 5000)]
    [log] = loaded.logs
    assert (log["event"], log["reason"], log["aggregate_type"]) == (
        "snapshot_ignored",
        reason,
        "Wallet",
    )
    assert log["stream"] == f"$snapshot-Wallet-{wallet_id}"


def test_a_snapshot_from_newer_code_is_ignored(store: EmbeddedStore) -> None:
    registry = registry_of(WalletV2, version=3, v2=lambda payload: payload)
    newer = Repository(store, registry=registry)
    wallet = WalletV2.start(Credited(1), Credited(2), id=str(uuid.uuid4()))
    newer.save(wallet)
    older = registry_of(WalletV2, version=2, v1=cents_to_balance)
    loaded = load_wallet(store, older, WalletV2, wallet.id)
    assert loaded.wallet == wallet and loaded.forward_reads == [(1, 5000)]
    assert loaded.logs[0]["reason"] == "written by newer code (schema 3 > 2)"


def test_a_snapshot_that_does_not_decode_is_ignored(store: EmbeddedStore) -> None:
    wallet_id = write_with_v1(store, 3)
    snapshots = f"$snapshot-Wallet-{wallet_id}"
    [good] = store.read_stream(snapshots)
    store.append(snapshots, [NewEvent(good.type, b"\x93\x01\x02\x03", good.metadata)])
    loaded = load_wallet(store, registry_of(WalletV1), WalletV1, wallet_id)
    assert (loaded.wallet.cents, loaded.forward_reads) == (3, [(1, 5000)])
    assert loaded.logs[0]["reason"] == "does not decode: TypeError: state is a list"


def test_a_snapshot_that_cannot_be_encoded_is_left_out_and_the_events_saved(
    store: EmbeddedStore,
) -> None:
    registry = Registry()
    registry.event("Credited")(Credited)
    registry.aggregate("Total", snapshots=every(1))(Total)
    repository = Repository(store, registry=registry)
    total = Total.start(*[Credited(2**62)] * 5, id="t")
    with capture_logs() as logs:
        saved = repository.save(total)
    assert saved.last_position - saved.first_position == 4
    assert [log["event"] for log in logs] == ["snapshot_not_written"]
    assert store.read_stream("$snapshot-Total-t") == []
    assert repository.get(Total, "t").total == 5 * 2**62


def test_a_past_version_behind_many_snapshots_pages_back_to_the_right_one(
    store: EmbeddedStore,
) -> None:
    recording = RecordingStore(store)
    repository = Repository(recording, snapshots={Account: every(1)})
    account = Account.open("ann", id="many")
    for _ in range(39):
        account.deposit(1)
        repository.save(account)
    recording.reads.clear()
    past = repository.get(Account, "many", version=3)
    assert (past.balance, past.version) == (2, 3)
    backward = [r[2:] for r in recording.reads if r[0] == "backward"]
    assert backward == [(None, 16), (23, 16), (7, 16)]  # 39 snapshots, of versions 2..40
    assert recording.forward_reads("Account-many") == []


def test_a_policy_can_be_any_function_of_the_aggregate(store: EmbeddedStore) -> None:
    def when_closed(aggregate: Aggregate, previous_version: int) -> bool:
        return isinstance(aggregate, Account) and aggregate.closed

    repository = Repository(store, snapshots={Account: when_closed})
    account = Account.open("ann", id="closing")
    account.deposit(5)
    repository.save(account)
    assert store.read_stream("$snapshot-Account-closing") == []
    account.withdraw(5)
    account.close()
    repository.save(account)
    assert len(store.read_stream("$snapshot-Account-closing")) == 1
    assert repository.get(Account, "closing") == account
