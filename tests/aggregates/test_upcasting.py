"""Old events load as the current class: an event type through three schema versions, written
by three generations of code into one stream, read by the newest."""

from __future__ import annotations

import attrs
import msgpack

from aggregates import Aggregate, DomainEvent, Payload, Registry, Repository, applies
from eventlog import EmbeddedStore, NewEvent
from examples.bank import Account, AccountOpened


@attrs.frozen
class DepositedV1(DomainEvent):
    euros: float


@attrs.frozen
class DepositedV2(DomainEvent):
    cents: int


@attrs.frozen
class DepositedV3(DomainEvent):
    cents: int
    currency: str


@attrs.define
class PurseV1(Aggregate):
    euros: float = 0.0

    @applies(DepositedV1)
    def _deposited(self, event: DepositedV1) -> None:
        self.euros += event.euros


@attrs.define
class PurseV2(Aggregate):
    cents: int = 0

    @applies(DepositedV2)
    def _deposited(self, event: DepositedV2) -> None:
        self.cents += event.cents


@attrs.define
class PurseV3(Aggregate):
    by_currency: dict[str, int] = attrs.Factory(dict)

    @applies(DepositedV3)
    def _deposited(self, event: DepositedV3) -> None:
        self.by_currency[event.currency] = self.by_currency.get(event.currency, 0) + event.cents


def euros_to_cents(payload: Payload) -> Payload:
    return {"cents": round(payload["euros"] * 100)}


def in_euros(payload: Payload) -> Payload:
    return {**payload, "currency": "EUR"}


def generation(version: int) -> Registry:
    registry = Registry()
    event, purse = [
        (DepositedV1, PurseV1),
        (DepositedV2, PurseV2),
        (DepositedV3, PurseV3),
    ][version - 1]
    registry.event("Deposited", version=version)(event)
    registry.aggregate("Purse", version=version)(purse)
    for step, upcaster in list(enumerate([euros_to_cents, in_euros], start=1))[: version - 1]:
        registry.upcaster("Deposited", step)(upcaster)
    return registry


def test_events_of_two_older_schema_versions_load_as_the_current_class(
    store: EmbeddedStore,
) -> None:
    first = Repository(store, registry=generation(1))
    purse = PurseV1.start(DepositedV1(1.25), DepositedV1(0.5), id="p")
    first.save(purse)

    second = Repository(store, registry=generation(2))
    upgraded = second.get(PurseV2, "p")
    assert (upgraded.cents, upgraded.version) == (175, 2)
    upgraded.trigger(DepositedV2(25))
    second.save(upgraded)

    third = Repository(store, registry=generation(3))
    current = third.get(PurseV3, "p")
    assert (current.by_currency, current.version) == ({"EUR": 200}, 3)
    current.trigger(DepositedV3(10, "CHF"))
    third.save(current)
    assert third.get(PurseV3, "p").by_currency == {"EUR": 200, "CHF": 10}

    envelopes = [third.codec.decode(r) for r in store.read_stream("Purse-p")]
    assert [e.schema_version for e in envelopes] == [1, 1, 2, 3]
    assert [e.event for e in envelopes] == [
        DepositedV3(125, "EUR"),
        DepositedV3(50, "EUR"),
        DepositedV3(25, "EUR"),
        DepositedV3(10, "CHF"),
    ]


def test_the_bank_reads_accounts_opened_before_currencies_existed(store: EmbeddedStore) -> None:
    metadata = msgpack.packb(
        {
            "schema": 1,
            "event_id": "e-1",
            "occurred_at": "2020-01-01T00:00:00+00:00",
            "correlation_id": "e-1",
        }
    )
    store.append(
        "Account-old", [NewEvent("AccountOpened", msgpack.packb({"owner": "ed"}), metadata)]
    )
    account = Repository(store).get(Account, "old")
    assert (account.owner, account.currency) == ("ed", "EUR")
    [envelope] = [Repository(store).codec.decode(r) for r in store.read_stream("Account-old")]
    assert envelope.event == AccountOpened("ed", "EUR") and envelope.schema_version == 1
