"""Snapshots never change what loads: a property over random command sequences on the
embedded store (the cluster runs the same property in test_cluster.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventlog import EmbeddedStore, open_embedded
from tests.aggregates.properties import Command, check_snapshots_equal_replay, commands


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    with open_embedded(tmp_path_factory.mktemp("property"), sync=False) as store:
        yield store


@settings(max_examples=100, deadline=None)
@given(script=commands, every_n=st.integers(1, 6))
def test_state_with_snapshots_equals_state_by_full_replay(
    shared_store: EmbeddedStore, script: list[Command], every_n: int
) -> None:
    check_snapshots_equal_replay(shared_store, script, every_n)
