"""A transfer between two accounts: two aggregates saved in one atomic append, repeated on a
conflict with either of them."""

from __future__ import annotations

from aggregates import Repository, SaveResult, retry_on_conflict
from examples.bank.account import Account


def transfer(repository: Repository, source: str, target: str, amount: int) -> SaveResult:
    """Move ``amount`` from ``source`` to ``target``: both change, or neither does."""

    def once() -> SaveResult:
        payer, payee = repository.get(Account, source), repository.get(Account, target)
        payer.withdraw(amount)
        payee.deposit(amount)
        return repository.save(payer, payee)

    return retry_on_conflict(once)
