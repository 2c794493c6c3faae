"""The auth store as the state machine keeps it: changed by access requests applied on every
node alike, remembered by request id like any request, and kept by LMDB across a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eventlog.errors import AccessChangeRefused, InvalidRequest
from eventlog.protocol.requests import KIND_ACCESS, access_request, check_client_request
from eventlog.raft.records import Entry
from eventlog.security.access import ADMIN, DEFAULT_ACCESS
from eventlog.state.memory import MemoryState
from eventlog.state.outcomes import AccessChanged, Outcome
from eventlog.types import LogIndex, Term
from tests.store import open_store, persist_and_apply, raw_batch, rid

HASH = "scrypt$10$8$1$" + "A" * 22 + "$" + "B" * 43


def access(n: int, *body: Any) -> list[Any]:
    return [KIND_ACCESS, rid(n), list(body)]


def entry_of(index: int, *requests: list[Any]) -> Entry:
    return Entry(term=Term(1), index=LogIndex(index), data=raw_batch(*requests))


def test_changes_apply_in_order_and_a_retry_gets_the_first_outcome() -> None:
    state = MemoryState()
    [[added, refused, again]] = state.apply(
        raw_batch(
            access(1, "user_add", "ann", [HASH, ["reader"]]),
            access(2, "user_add", "ann", [None, []]),
            access(1, "user_add", "ann", [HASH, ["reader"]]),
        )
    )
    assert added == Outcome(request_id=rid(1), result=AccessChanged(op="user_add", name="ann"))
    assert isinstance(refused.error, AccessChangeRefused) and refused.error.reason == "user_exists"
    assert again == added
    assert state.auth.users["ann"].roles == ("reader",)
    for outcome in (added, refused):
        assert Outcome.from_record(outcome.to_record()) == outcome


def test_the_store_is_kept_across_a_restart_and_matches_the_memory_twin(tmp_path: Path) -> None:
    changes = [
        access(1, "init", ADMIN, HASH),
        access(2, "role_add", "clerk", [["write", "orders-"]]),
        access(3, "user_add", "ann", [None, ["clerk"]]),
        access(4, "user_remove", "nobody", None),
    ]
    twin = MemoryState()
    twin.apply(raw_batch(*changes))
    with open_store(tmp_path / "node") as store:
        assert store.access is DEFAULT_ACCESS
        [(_, outcomes)] = persist_and_apply(store, entry_of(1, *changes))
        assert [o.error is None for o in outcomes] == [True, True, True, False]
        assert store.access == twin.auth
    with open_store(tmp_path / "node") as store:
        assert store.access == twin.auth and store.access.settled
        assert store.request_outcome(rid(4)) == outcomes[3]


def test_a_client_may_not_send_an_access_request_itself() -> None:
    with pytest.raises(InvalidRequest, match="access operation"):
        check_client_request(access(1, "user_add", "eve", [HASH, [ADMIN]]))
    with pytest.raises(InvalidRequest, match="scrypt hash"):
        access_request(["user_add", "eve", ["plain password", [ADMIN]]])
