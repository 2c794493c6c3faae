"""``python -m examples.bank``: open two accounts, deposit, transfer between them, and show that
a refused command changes nothing; in a throwaway embedded store, or with ``--cluster`` in a
running cluster (where a projection can then read the events)."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator

import click
import structlog

from aggregates import Repository
from eventlog import Client, EventLog, EventLogError, open_embedded
from examples.bank import Account, InsufficientFunds, transfer


@contextlib.contextmanager
def _store(cluster: str | None) -> Iterator[EventLog]:
    if cluster is not None:
        with Client(cluster) as client:
            yield client
        return
    with tempfile.TemporaryDirectory() as directory, open_embedded(directory) as store:
        yield store


@click.command()
@click.option(
    "--cluster",
    metavar="HOST:PORT,...",
    default=None,
    help="Write to this cluster (any one node will do).  [default: a throwaway embedded store]",
)
def main(cluster: str | None) -> None:
    """Open accounts for alice and bob, deposit 100.00, transfer 25.00, refuse an overdraft."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        _run(cluster)
    except EventLogError as error:
        raise click.ClickException(str(error)) from error


def _run(cluster: str | None) -> None:
    with _store(cluster) as store:
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
