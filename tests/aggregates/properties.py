"""The snapshot property, for any store: state loaded with snapshots equals state by full
replay equals the state the commands built, now and at every past version."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from hypothesis import strategies as st

from aggregates import DomainError, Repository, every, never
from examples.bank import Account

Command = tuple[str, int]

commands = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), st.integers(1, 500)),
        st.tuples(st.just("withdraw"), st.integers(1, 600)),
        st.just(("close", 0)),
        st.just(("save", 0)),
    ),
    max_size=30,
)


def run(repository: Repository, script: list[Command]) -> tuple[Account, dict[int, Account]]:
    """Run ``script`` on a new account, saving where it says and at the end; the state after
    each version, and refusals checked to change nothing."""
    account = Account.open("prop", id=str(uuid.uuid4()))
    states = {1: copy.deepcopy(account)}
    for name, amount in script:
        if name == "save":
            repository.save(account)
            continue
        before = copy.deepcopy(account)
        try:
            account.close() if name == "close" else getattr(account, name)(amount)
        except DomainError:
            assert account == before and len(account.pending_events) == len(before.pending_events)
            continue
        states[account.version] = copy.deepcopy(account)
    repository.save(account)
    return account, states


def check_snapshots_equal_replay(store: Any, script: list[Command], every_n: int) -> None:
    snapshotting = Repository(store, snapshots={Account: every(every_n)})
    replaying = Repository(store, snapshots={Account: never})
    account, states = run(snapshotting, script)
    assert snapshotting.get(Account, account.id) == replaying.get(Account, account.id) == account
    for version, state in states.items():
        assert snapshotting.get(Account, account.id, version=version) == state
        assert replaying.get(Account, account.id, version=version) == state
    snapshots = store.read_stream_backwards(f"$snapshot-Account-{account.id}", limit=1)
    assert bool(snapshots) == (account.version >= every_n)
