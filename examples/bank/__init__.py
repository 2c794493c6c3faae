"""An example bank: the ``Account`` aggregate, its events, a transfer between accounts in one
atomic save, and the ``Transfer`` aggregate that ``TransferSaga`` (``examples.bank.saga``,
a process manager) carries out step by step."""

from __future__ import annotations

from examples.bank.account import Account
from examples.bank.errors import AccountIsClosed, BalanceNotZero, InsufficientFunds, InvalidAmount
from examples.bank.events import AccountClosed, AccountOpened, MoneyDeposited, MoneyWithdrawn
from examples.bank.transfer import transfer
from examples.bank.transfers import (
    ENDED,
    Transfer,
    TransferCompensated,
    TransferCompleted,
    TransferDebited,
    TransferFailed,
    TransferRequested,
    TransferStepRefused,
)

__all__ = [
    "ENDED",
    "Account",
    "AccountClosed",
    "AccountIsClosed",
    "AccountOpened",
    "BalanceNotZero",
    "InsufficientFunds",
    "InvalidAmount",
    "MoneyDeposited",
    "MoneyWithdrawn",
    "Transfer",
    "TransferCompensated",
    "TransferCompleted",
    "TransferDebited",
    "TransferFailed",
    "TransferRequested",
    "TransferStepRefused",
    "transfer",
]
