"""The ``Account`` aggregate: commands validate and trigger events; handlers change state."""

from __future__ import annotations

import attrs

from aggregates import Aggregate, aggregate_type, applies, every
from examples.bank.errors import AccountIsClosed, BalanceNotZero, InsufficientFunds, InvalidAmount
from examples.bank.events import AccountClosed, AccountOpened, MoneyDeposited, MoneyWithdrawn


@aggregate_type("Account", snapshots=every(100))
@attrs.define
class Account(Aggregate):
    owner: str = ""
    currency: str = ""
    balance: int = 0
    closed: bool = False

    @classmethod
    def open(cls, owner: str, currency: str = "EUR", *, id: str | None = None) -> Account:
        return cls.start(AccountOpened(owner=owner, currency=currency), id=id)

    def deposit(self, amount: int) -> None:
        self._check_open()
        _check_amount(amount)
        self.trigger(MoneyDeposited(amount=amount))

    def withdraw(self, amount: int) -> None:
        self._check_open()
        _check_amount(amount)
        if amount > self.balance:
            raise InsufficientFunds(self.id, self.balance, amount)
        self.trigger(MoneyWithdrawn(amount=amount))

    def close(self) -> None:
        self._check_open()
        if self.balance != 0:
            raise BalanceNotZero(self.id, self.balance)
        self.trigger(AccountClosed())

    def _check_open(self) -> None:
        if self.closed:
            raise AccountIsClosed(self.id)

    @applies(AccountOpened)
    def _opened(self, event: AccountOpened) -> None:
        self.owner, self.currency = event.owner, event.currency

    @applies(MoneyDeposited)
    def _deposited(self, event: MoneyDeposited) -> None:
        self.balance += event.amount

    @applies(MoneyWithdrawn)
    def _withdrawn(self, event: MoneyWithdrawn) -> None:
        self.balance -= event.amount

    @applies(AccountClosed)
    def _closed(self, event: AccountClosed) -> None:
        self.closed = True


def _check_amount(amount: int) -> None:
    if type(amount) is not int or amount <= 0:
        raise InvalidAmount(amount)
