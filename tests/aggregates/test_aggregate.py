"""The aggregate alone: commands, handlers, refusals, pending events and metadata."""

from __future__ import annotations

import copy
from collections.abc import Callable

import attrs
import pytest

from aggregates import (
    Aggregate,
    DefinitionError,
    DomainEvent,
    UnhandledEvent,
    applies,
    caused_by,
    correlated,
)
from examples.bank import (
    Account,
    AccountClosed,
    AccountIsClosed,
    AccountOpened,
    BalanceNotZero,
    InsufficientFunds,
    InvalidAmount,
    MoneyDeposited,
    MoneyWithdrawn,
)


def opened(balance: int = 0) -> Account:
    account = Account.open("alice", id="a-1")
    if balance:
        account.deposit(balance)
    return account


def test_open_creates_an_account_at_version_one_with_its_event_pending() -> None:
    account = Account.open("alice", "CHF", id="a-1")
    assert (account.id, account.version, account.saved_version) == ("a-1", 1, 0)
    assert (account.owner, account.currency, account.balance) == ("alice", "CHF", 0)
    assert [p.event for p in account.pending_events] == [AccountOpened("alice", "CHF")]


def test_a_new_account_gets_a_fresh_id() -> None:
    assert Account.open("a").id != Account.open("a").id


def test_commands_change_state_only_through_their_events() -> None:
    account = opened()
    account.deposit(500)
    account.withdraw(200)
    assert account.balance == 300 and account.version == 3
    assert [p.event for p in account.pending_events][1:] == [
        MoneyDeposited(500),
        MoneyWithdrawn(200),
    ]


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (lambda a: a.withdraw(101), InsufficientFunds),
        (lambda a: a.deposit(0), InvalidAmount),
        (lambda a: a.deposit(-5), InvalidAmount),
        (lambda a: a.close(), BalanceNotZero),
    ],
)
def test_a_refused_command_leaves_the_account_unchanged_and_emits_nothing(
    command: Callable[[Account], None], error: type[Exception]
) -> None:
    account = opened(100)
    before, pending = copy.deepcopy(account), account.pending_events
    with pytest.raises(error):
        command(account)
    assert account == before and account.pending_events == pending


def test_insufficient_funds_names_the_account_balance_and_amount() -> None:
    with pytest.raises(InsufficientFunds) as refused:
        opened(100).withdraw(150)
    assert (refused.value.account_id, refused.value.balance, refused.value.amount) == (
        "a-1",
        100,
        150,
    )


def test_a_closed_account_refuses_every_command() -> None:
    account = opened()
    account.close()
    assert account.closed and account.pending_events[-1].event == AccountClosed()
    for command, args in (("deposit", (1,)), ("withdraw", (1,)), ("close", ())):
        with pytest.raises(AccountIsClosed):
            getattr(account, command)(*args)
    assert account.version == 2


# -- the base class --------------------------------------------------------------------------


@attrs.frozen
class Added(DomainEvent):
    n: int


@attrs.frozen
class Reset(DomainEvent):
    pass


@attrs.frozen
class Unknown(DomainEvent):
    pass


@attrs.define
class Tally(Aggregate):
    total: int = 0
    seen: list[int] = attrs.Factory(list)
    versions: list[int] = attrs.Factory(list)

    @applies(Added)
    def _added(self, event: Added) -> None:
        self.seen.append(event.n)
        self.versions.append(self.version)
        if event.n < 0:
            raise ValueError("a handler that fails half-way")
        self.total += event.n

    @applies(Reset)
    def _reset(self, event: Reset) -> None:
        self.total = 0


def test_trigger_applies_several_events_all_or_none() -> None:
    tally = Tally.start(Added(1), id="t")
    before = copy.deepcopy(tally)
    with pytest.raises(ValueError, match="half-way"):
        tally.trigger(Added(2), Added(-1))
    assert tally == before and len(tally.pending_events) == 1


def test_an_event_without_a_handler_is_refused_before_anything_applies() -> None:
    tally = Tally.start(Added(1), id="t")
    with pytest.raises(UnhandledEvent) as refused:
        tally.trigger(Added(2), Unknown())
    assert (refused.value.aggregate, refused.value.event) == ("Tally", "Unknown")
    assert tally.total == 1 and tally.version == 1


def test_a_handler_sees_the_version_of_the_event_it_applies() -> None:
    tally = Tally.start(Added(1), Added(2), id="t")
    tally.trigger(Added(3))
    assert tally.versions == [1, 2, 3]


def test_start_needs_an_event() -> None:
    with pytest.raises(ValueError, match="creates"):
        Tally.start()


def test_handlers_are_inherited_and_can_be_overridden() -> None:
    @attrs.define
    class Doubling(Tally):
        @applies(Added)
        def _doubled(self, event: Added) -> None:
            self.total += 2 * event.n

    doubling = Doubling.start(Added(5), id="d")
    doubling.trigger(Reset())
    doubling.trigger(Added(1))
    assert doubling.total == 2


def test_two_handlers_for_one_event_type_are_a_definition_error() -> None:
    with pytest.raises(DefinitionError, match="two handlers for Added"):

        @attrs.define
        class Twice(Aggregate):
            @applies(Added)
            def _one(self, event: Added) -> None: ...

            @applies(Added)
            def _two(self, event: Added) -> None: ...


def test_events_get_ids_timestamps_and_a_correlation_of_their_own() -> None:
    first, second = Tally.start(Added(1), Added(2), id="t").pending_events
    assert first.meta.event_id != second.meta.event_id
    assert first.meta.correlation_id == first.meta.event_id
    assert first.meta.causation_id is None
    assert first.meta.occurred_at.tzinfo is not None


def test_events_caused_by_another_continue_its_correlation() -> None:
    cause = Tally.start(Added(1), id="t").pending_events[0].meta
    with caused_by(cause):
        effect = Tally.start(Added(2), id="u").pending_events[0].meta
    assert (effect.causation_id, effect.correlation_id) == (cause.event_id, cause.event_id)
    with correlated("request-7", causation_id="command-3"):
        meta = Tally.start(Added(3), id="v").pending_events[0].meta
    assert (meta.correlation_id, meta.causation_id) == ("request-7", "command-3")
    outside = Tally.start(Added(4), id="w").pending_events[0].meta
    assert outside.correlation_id == outside.event_id
