"""Commands the bank refuses. Each leaves the account unchanged."""

from __future__ import annotations

from aggregates import DomainError


class InvalidAmount(DomainError):
    def __init__(self, amount: int) -> None:
        self.amount = amount
        super().__init__(f"amounts are positive whole cents, not {amount!r}")


class InsufficientFunds(DomainError):
    def __init__(self, account_id: str, balance: int, amount: int) -> None:
        self.account_id, self.balance, self.amount = account_id, balance, amount
        super().__init__(f"account {account_id!r} holds {balance}, cannot withdraw {amount}")


class AccountIsClosed(DomainError):
    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        super().__init__(f"account {account_id!r} is closed")


class BalanceNotZero(DomainError):
    def __init__(self, account_id: str, balance: int) -> None:
        self.account_id, self.balance = account_id, balance
        super().__init__(f"account {account_id!r} still holds {balance}; empty it first")
