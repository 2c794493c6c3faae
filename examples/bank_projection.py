"""A read model of the bank: one row per account with its owner and balance, in SQLite.

Run it as a worker process against a cluster (a second one started the same way waits as
standby), and rebuild it from the whole log while it serves::

    eventraft project --cluster 127.0.0.1:7001 examples.bank_projection:Balances \\
        --target balances.db
    eventraft rebuild --cluster 127.0.0.1:7001 examples.bank_projection:Balances \\
        --target balances.db
    sqlite3 balances.db 'SELECT owner, balance FROM account'

``python -m examples.bank_projection`` shows it in one process over an embedded store: a
worker catches up, follows a transfer made while it runs, and a rebuild gives the same rows.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import tempfile
from pathlib import Path

import structlog

from aggregates import Envelope, Repository
from eventlog import EmbeddedStore, open_embedded
from examples.bank import (
    Account,
    AccountClosed,
    AccountOpened,
    MoneyDeposited,
    MoneyWithdrawn,
    transfer,
)
from projections import EmbeddedSource, SqliteProjection, Worker, handles, rebuild


def account_id(at: Envelope) -> str:
    """An account's events are in the stream ``Account-<id>``."""
    return at.stream.partition("-")[2]


class Balances(SqliteProjection):
    name = "bank-balances"
    schema = (
        "CREATE TABLE IF NOT EXISTS account ("
        " id TEXT PRIMARY KEY, owner TEXT NOT NULL, currency TEXT NOT NULL,"
        " balance INTEGER NOT NULL DEFAULT 0, closed INTEGER NOT NULL DEFAULT 0,"
        " version INTEGER NOT NULL)",
        "CREATE INDEX IF NOT EXISTS account_owner ON account (owner)",
    )

    @handles(AccountOpened)
    def opened(self, db: sqlite3.Connection, event: AccountOpened, at: Envelope) -> None:
        db.execute(
            "INSERT INTO account (id, owner, currency, version) VALUES (?, ?, ?, ?)",
            (account_id(at), event.owner, event.currency, at.version),
        )

    @handles(MoneyDeposited)
    def deposited(self, db: sqlite3.Connection, event: MoneyDeposited, at: Envelope) -> None:
        self._move(db, at, event.amount)

    @handles(MoneyWithdrawn)
    def withdrawn(self, db: sqlite3.Connection, event: MoneyWithdrawn, at: Envelope) -> None:
        self._move(db, at, -event.amount)

    @handles(AccountClosed)
    def closed(self, db: sqlite3.Connection, event: AccountClosed, at: Envelope) -> None:
        db.execute(
            "UPDATE account SET closed = 1, version = ? WHERE id = ?", (at.version, account_id(at))
        )

    def _move(self, db: sqlite3.Connection, at: Envelope, cents: int) -> None:
        db.execute(
            "UPDATE account SET balance = balance + ?, version = ? WHERE id = ?",
            (cents, at.version, account_id(at)),
        )


def balances(path: Path) -> list[tuple[str, int]]:
    """What an application reading the model sees: owners and balances."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("SELECT owner, balance FROM account ORDER BY owner").fetchall()
    finally:
        db.close()


async def follow_then_rebuild(store: EmbeddedStore, target: Path) -> None:
    repository = Repository(store)
    alice, bob = Account.open("alice"), Account.open("bob")
    alice.deposit(10_000)
    repository.save(alice, bob)

    source, stop = EmbeddedSource(store), asyncio.Event()
    worker = Worker(Balances(), source, target)
    running = asyncio.create_task(worker.run(stop))
    await _caught_up(worker, store)
    print("after opening:", balances(target))

    await asyncio.to_thread(transfer, repository, alice.id, bob.id, 2_500)
    await _caught_up(worker, store)
    print("after a transfer the worker followed:", balances(target))
    stop.set()
    await running

    result = await rebuild(Balances(), source, target)
    print(f"rebuilt from position 1 to {result.checkpoint}:", balances(target))
    await source.close()


async def _caught_up(worker: Worker[sqlite3.Connection], store: EmbeddedStore) -> None:
    while worker.keeper.checkpoint < int(store.status().last_position):
        await asyncio.sleep(0.01)


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        with open_embedded(directory / "store") as store:
            asyncio.run(follow_then_rebuild(store, directory / "balances.db"))


if __name__ == "__main__":
    main()
