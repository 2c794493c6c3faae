"""``python -m examples.bank``: open two accounts in an embedded store, transfer between
them, and show that a refused command changes nothing."""

from __future__ import annotations

import logging
import tempfile

import structlog

from aggregates import Repository
from eventlog import open_embedded
from examples.bank import Account, InsufficientFunds, transfer


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory() as directory, open_embedded(directory) as store:
        repository = Repository(store)
        alice, bob = Account.open("alice"), Account.open("bob")
        alice.deposit(10_000)
        saved = repository.save(alice, bob)
        print(f"opened two accounts, positions {saved.first_position}..{saved.last_position}")
        transfer(repository, alice.id, bob.id, 2_500)
        try:
            transfer(repository, bob.id, alice.id, 9_999)
        except InsufficientFunds as refused:
            print(f"refused: {refused}")
        for account_id in (alice.id, bob.id):
            account = repository.get(Account, account_id)
            print(f"{account.owner}: {account.balance / 100:.2f} {account.currency}")


if __name__ == "__main__":
    main()
