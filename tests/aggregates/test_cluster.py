"""The domain layer over a real three-node cluster (one per module): the repository
contract through ``Client`` and ``AsyncClient``, two clients racing to save one account, and
the snapshot property."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregates import ConcurrencyError, Repository, SaveResult
from eventlog import AsyncClient, AsyncEventLog, Client
from examples.bank import Account
from tests.aggregates.contract import AsyncRepositoryContract, RepositoryContract
from tests.aggregates.properties import Command, check_snapshots_equal_replay, commands
from tests.cluster.harness import LocalCluster, local_cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with local_cluster(tmp_path_factory.mktemp("aggregates")) as cluster:
        cluster.leader(timeout=20)
        yield cluster


@pytest.fixture(scope="module")
def client(cluster: LocalCluster) -> Iterator[Client]:
    with cluster.client() as client:
        yield client


class TestCluster(RepositoryContract):
    @pytest.fixture
    def store(self, client: Client) -> Client:
        return client


class TestClusterAsync(AsyncRepositoryContract):
    @pytest.fixture
    def async_store(self, cluster: LocalCluster) -> AsyncEventLog:
        return AsyncClient(cluster.addresses)


def test_two_clients_saving_one_account_at_once_exactly_one_wins(cluster: LocalCluster) -> None:
    with cluster.client() as first, cluster.client() as second:
        repositories = [Repository(first), Repository(second)]
        account = Account.open("ann", id=str(uuid.uuid4()))
        repositories[0].save(account)
        copies = [repository.get(Account, account.id) for repository in repositories]
        for n, copy in enumerate(copies):
            copy.deposit(10 + n)
        start = threading.Barrier(2)

        def save(n: int) -> SaveResult | ConcurrencyError:
            start.wait(timeout=10)
            try:
                return repositories[n].save(copies[n])
            except ConcurrencyError as conflict:
                return conflict

        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(save, [0, 1]))
        losers = [n for n, outcome in enumerate(outcomes) if isinstance(outcome, ConcurrencyError)]
        assert len(losers) == 1, outcomes
        [loser] = losers
        conflict = outcomes[loser]
        assert isinstance(conflict, ConcurrencyError)
        assert (conflict.aggregate_id, conflict.expected, conflict.actual) == (account.id, 1, 2)
        repositories[loser].update(Account, account.id, lambda a: a.deposit(10 + loser))
        final = repositories[1 - loser].get(Account, account.id)
        assert (final.balance, final.version) == (21, 3)


@settings(max_examples=30, deadline=None)
@given(script=commands, every_n=st.integers(1, 6))
def test_state_with_snapshots_equals_state_by_full_replay(
    client: Client, script: list[Command], every_n: int
) -> None:
    check_snapshots_equal_replay(client, script, every_n)
