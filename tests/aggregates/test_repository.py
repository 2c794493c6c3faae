"""The repository contract over the embedded store, sync and async."""

from __future__ import annotations

import pytest

from eventlog import AsyncEventLog, EmbeddedStore
from tests.aggregates.contract import AsyncRepositoryContract, RepositoryContract
from tests.aggregates.helpers import AsyncEmbedded


class TestEmbedded(RepositoryContract):
    @pytest.fixture
    def store(self, store: EmbeddedStore) -> EmbeddedStore:
        return store


class TestEmbeddedAsync(AsyncRepositoryContract):
    @pytest.fixture
    def async_store(self, store: EmbeddedStore) -> AsyncEventLog:
        return AsyncEmbedded(store)
