"""The same contract against the embedded store and a real three-node cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from eventlog.embedded import open_embedded
from tests.cluster.contract import EventStoreContract, Store
from tests.cluster.filter_contract import FilterContract
from tests.cluster.harness import local_cluster


class TestEmbedded(EventStoreContract, FilterContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        with open_embedded(tmp_path / "store") as store:
            yield store


@pytest.fixture(scope="module")
def cluster_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with local_cluster(tmp_path_factory.mktemp("contract")) as cluster:
        cluster.leader(timeout=20)
        with cluster.client() as client:
            yield client


class TestCluster(EventStoreContract, FilterContract):
    @pytest.fixture
    def store(self, cluster_client: Store) -> Store:
        return cluster_client
