"""An example bank: the ``Account`` aggregate, its events, and a transfer between accounts."""

from __future__ import annotations

from examples.bank.account import Account
from examples.bank.errors import AccountIsClosed, BalanceNotZero, InsufficientFunds, InvalidAmount
from examples.bank.events import AccountClosed, AccountOpened, MoneyDeposited, MoneyWithdrawn
from examples.bank.transfer import transfer

__all__ = [
    "Account",
    "AccountClosed",
    "AccountIsClosed",
    "AccountOpened",
    "BalanceNotZero",
    "InsufficientFunds",
    "InvalidAmount",
    "MoneyDeposited",
    "MoneyWithdrawn",
    "transfer",
]
