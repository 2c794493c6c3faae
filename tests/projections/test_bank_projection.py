"""The bank example's read model follows the Account aggregate's events."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import structlog

from aggregates import Repository
from eventlog import open_embedded
from examples.bank import Account, transfer
from examples.bank_projection import Balances, balances, main
from tests.projections.harness import in_thread, wait_for
from tests.projections.sample import sqlite_checkpoint


def test_balances_follow_deposits_transfers_and_closing(tmp_path: Path) -> None:
    target = tmp_path / "balances.db"
    with open_embedded(tmp_path / "store", sync=False) as store:
        repository = Repository(store)
        alice, bob = Account.open("alice"), Account.open("bob", "USD")
        alice.deposit(500)
        repository.save(alice, bob)
        with in_thread(Balances(), store, target) as worker:
            transfer(repository, alice.id, bob.id, 200)
            bob = repository.get(Account, bob.id)
            bob.withdraw(200)
            bob.close()
            repository.save(bob)
            last = int(store.status().last_position)
            wait_for(lambda: sqlite_checkpoint(target) == last, 10, "the worker")
        assert worker.error is None
    assert balances(target) == [("alice", 300), ("bob", 0)]
    db = sqlite3.connect(target)
    try:
        row = db.execute("SELECT currency, closed, version FROM account WHERE owner = 'bob'")
        assert row.fetchone() == ("USD", 1, 4)
    finally:
        db.close()


def test_the_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    saved = structlog.get_config()
    try:
        main()
    finally:
        structlog.configure(**saved)
    out = capsys.readouterr().out
    assert "after a transfer the worker followed: [('alice', 7500), ('bob', 2500)]" in out
    assert "rebuilt from position 1 to 5: [('alice', 7500), ('bob', 2500)]" in out
