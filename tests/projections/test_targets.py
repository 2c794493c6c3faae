"""The target contract, run against SQLite and LMDB: writes and checkpoint commit together,
a lower fencing token is refused in the commit's transaction, a failing event's writes are
undone alone, and a poison event is parked in the same transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from eventlog import NewEvent
from projections import (
    Batch,
    Checkpoint,
    CheckpointMoved,
    DeadLetter,
    Fenced,
    LeaseLost,
    LmdbTarget,
    PoisonEvent,
    PoisonPolicy,
    Router,
    SqliteTarget,
    Target,
    TargetError,
    apply_batch,
    claim,
)
from tests.projections.sample import (
    Deposited,
    Flaky,
    LmdbTotals,
    Totals,
    encode,
    lmdb_model,
    sqlite_model,
)
from tests.projections.test_projection import recorded


@attrs.frozen
class Kind:
    """How the contract reaches one kind of target."""

    name: str
    open: Callable[[Path], Target[Any]]
    write: Callable[[Any, str], None]
    read: Callable[[Target[Any]], set[str]]


def _sqlite_write(db: sqlite3.Connection, key: str) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY)")
    db.execute("INSERT INTO kv VALUES (?)", (key,))


def _sqlite_read(target: Target[Any]) -> set[str]:
    assert isinstance(target, SqliteTarget)
    try:
        return {k for (k,) in target.connection.execute("SELECT k FROM kv")}
    except sqlite3.OperationalError:
        return set()


KINDS = [
    Kind(
        "sqlite",
        lambda path: SqliteTarget.open(path / "t.db", "p"),
        _sqlite_write,
        _sqlite_read,
    ),
    Kind(
        "lmdb",
        lambda path: LmdbTarget.open(path / "t.lmdb", "p", ["kv"]),
        lambda writer, key: writer.put("kv", key.encode(), b""),
        lambda target: {k.decode() for k in target.read("kv")},
    ),
]


@pytest.fixture(params=KINDS, ids=[kind.name for kind in KINDS])
def kind(request: pytest.FixtureRequest) -> Kind:
    return request.param


@pytest.fixture
def target(kind: Kind, tmp_path: Path) -> Iterator[Target[Any]]:
    opened = kind.open(tmp_path)
    yield opened
    opened.close()


def commit(kind: Kind, target: Target[Any], keys: list[str], checkpoint: Checkpoint) -> None:
    txn = target.begin()
    for key in keys:
        kind.write(txn.handle, key)
    txn.commit(checkpoint)


def test_a_new_target_is_at_zero(target: Target[Any]) -> None:
    assert target.checkpoint() == Checkpoint(position=0, token=0)
    assert target.dead_letters() == []


def test_writes_and_checkpoint_commit_together_and_survive_reopening(
    kind: Kind, target: Target[Any], tmp_path: Path
) -> None:
    commit(kind, target, ["a", "b"], Checkpoint(position=2, token=1))
    target.close()
    reopened = kind.open(tmp_path)
    try:
        assert reopened.checkpoint() == Checkpoint(position=2, token=1)
        assert kind.read(reopened) == {"a", "b"}
    finally:
        reopened.close()


def test_rollback_leaves_nothing(kind: Kind, target: Target[Any]) -> None:
    commit(kind, target, ["a"], Checkpoint(position=1, token=1))
    txn = target.begin()
    kind.write(txn.handle, "b")
    txn.rollback()
    assert kind.read(target) == {"a"}
    assert target.checkpoint() == Checkpoint(position=1, token=1)


def test_commit_refuses_a_lower_token_in_the_same_transaction(
    kind: Kind, target: Target[Any]
) -> None:
    commit(kind, target, ["a"], Checkpoint(position=1, token=5))
    txn = target.begin()
    kind.write(txn.handle, "stale")
    with pytest.raises(Fenced) as fenced:
        txn.commit(Checkpoint(position=2, token=4))
    assert (fenced.value.token, fenced.value.stored_token) == (4, 5)
    assert kind.read(target) == {"a"}
    assert target.checkpoint() == Checkpoint(position=1, token=5)
    commit(kind, target, ["b"], Checkpoint(position=2, token=5))
    assert target.checkpoint() == Checkpoint(position=2, token=5)


def test_isolated_undoes_only_the_failing_write(kind: Kind, target: Target[Any]) -> None:
    txn = target.begin()
    txn.isolated(lambda handle: kind.write(handle, "kept"))

    def fails(handle: Any) -> None:
        kind.write(handle, "undone")
        raise ValueError("handler failed")

    with pytest.raises(ValueError):
        txn.isolated(fails)
    txn.commit(Checkpoint(position=2, token=0))
    assert kind.read(target) == {"kept"}


def test_parked_events_are_listed_in_position_order(kind: Kind, target: Target[Any]) -> None:
    txn = target.begin()
    for position in (9, 3):
        txn.park(DeadLetter(position=position, stream="s", type="T", error=f"e{position}"))
    txn.commit(Checkpoint(position=9, token=0))
    assert [letter.position for letter in target.dead_letters()] == [3, 9]
    assert target.dead_letters()[0] == DeadLetter(position=3, stream="s", type="T", error="e3")


def test_a_target_of_another_projection_is_refused(kind: Kind, tmp_path: Path) -> None:
    kind.open(tmp_path).close()
    other = attrs.evolve(kind, open=lambda p: _rename(kind, p))
    with pytest.raises(TargetError, match="holds projection 'p', not 'q'"):
        other.open(tmp_path)


def _rename(kind: Kind, path: Path) -> Target[Any]:
    if kind.name == "sqlite":
        return SqliteTarget.open(path / "t.db", "q")
    return LmdbTarget.open(path / "t.lmdb", "q", ["kv"])


def test_a_sqlite_handler_cannot_end_the_transaction(tmp_path: Path) -> None:
    target = SqliteTarget.open(tmp_path / "t.db", "p")
    try:
        txn = target.begin()
        _sqlite_write(txn.handle, "a")
        with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
            txn.handle.commit()
        with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
            txn.handle.execute("COMMIT")
        txn.rollback()
        assert _sqlite_read(target) == set()
    finally:
        target.close()


def test_lmdb_reserves_its_own_database_names(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="reserved"):
        LmdbTarget.open(tmp_path / "t.lmdb", "p", ["_projection_meta"])


# -- applying batches -------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "lmdb"])
def sample(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Target[Any]]]:
    projection = Totals() if request.param == "sqlite" else LmdbTotals()
    target = projection.open_target(tmp_path / f"model.{request.param}")
    yield projection, target
    target.close()


def events(*news: NewEvent, start: int = 1) -> Batch:
    """A dense batch: ``news`` recorded at ``start`` on."""
    recorded_events = [
        recorded(new, position=start + i, stream="acct") for i, new in enumerate(news)
    ]
    return Batch(recorded_events, start, start + len(news) - 1)


def test_claim_runs_setup_stores_the_token_and_refuses_a_lower_one(
    sample: tuple[Any, Target[Any]],
) -> None:
    projection, target = sample
    assert claim(target, projection, 3) == Checkpoint(position=0, token=3)
    assert target.checkpoint() == Checkpoint(position=0, token=3)
    with pytest.raises(Fenced):
        claim(target, projection, 2)


def test_a_batch_commits_with_its_last_position(sample: tuple[Any, Target[Any]]) -> None:
    projection, target = sample
    claim(target, projection, 1)
    batch = events(encode(Deposited(amount=2)), NewEvent("Unrelated", b""), start=1)
    result = apply_batch(target, Router.bind(projection), batch, token=1, policy=PoisonPolicy.STOP)
    assert result.checkpoint == Checkpoint(position=2, token=1)
    assert result.handled == 1
    assert target.checkpoint() == Checkpoint(position=2, token=1)


def test_a_batch_that_does_not_follow_the_checkpoint_is_not_applied(
    sample: tuple[Any, Target[Any]],
) -> None:
    projection, target = sample
    claim(target, projection, 1)
    with pytest.raises(CheckpointMoved):
        apply_batch(
            target,
            Router.bind(projection),
            events(encode(Deposited(amount=1)), start=5),
            token=1,
            policy=PoisonPolicy.STOP,
        )
    assert target.checkpoint().position == 0


def test_nothing_commits_when_the_lease_ran_out_meanwhile(sample: tuple[Any, Target[Any]]) -> None:
    projection, target = sample
    claim(target, projection, 1)
    with pytest.raises(LeaseLost):
        apply_batch(
            target,
            Router.bind(projection),
            events(encode(Deposited(amount=1))),
            token=1,
            policy=PoisonPolicy.STOP,
            still_owner=lambda: False,
        )
    assert target.checkpoint().position == 0


def test_poison_under_stop_commits_what_came_before_and_names_the_event(tmp_path: Path) -> None:
    projection = Totals()
    target = projection.open_target(tmp_path / "m.db")
    try:
        claim(target, projection, 1)
        batch = events(
            encode(Deposited(amount=1)), encode(Flaky(fail=True)), encode(Deposited(amount=1))
        )
        with pytest.raises(PoisonEvent) as raised:
            apply_batch(target, Router.bind(projection), batch, token=1, policy=PoisonPolicy.STOP)
        poison = raised.value
        assert (poison.projection, poison.position, poison.stream, poison.type_name) == (
            "totals",
            2,
            "acct",
            "Flaky",
        )
        assert "HandlerFailed: flaky event at 2" in str(poison)
        assert target.checkpoint().position == 1
    finally:
        target.close()
    assert sqlite_model(tmp_path / "m.db").applied == (1,)


def test_poison_under_park_is_parked_with_its_writes_undone(tmp_path: Path) -> None:
    projection = Totals()
    target = projection.open_target(tmp_path / "m.db")
    try:
        claim(target, projection, 1)
        batch = events(
            encode(Deposited(amount=1)),
            encode(Flaky(fail=True)),
            NewEvent("Deposited", b"\xc1", b"\xc1"),
            encode(Deposited(amount=1)),
        )
        result = apply_batch(
            target, Router.bind(projection), batch, token=1, policy=PoisonPolicy.PARK
        )
        assert [p.position for p in result.parked] == [2, 3]
        assert target.checkpoint().position == 4
        letters = target.dead_letters()
        assert [(d.position, d.type) for d in letters] == [(2, "Flaky"), (3, "Deposited")]
    finally:
        target.close()
    model = sqlite_model(tmp_path / "m.db")
    assert model.applied == (1, 4)
    assert model.totals == {"acct": (2, 2)}


def test_lmdb_batches_apply_like_sqlite(tmp_path: Path) -> None:
    projection = LmdbTotals()
    target = projection.open_target(tmp_path / "m.lmdb")
    try:
        claim(target, projection, 1)
        batch = events(*(encode(Deposited(amount=3)) for _ in range(3)))
        apply_batch(target, Router.bind(projection), batch, token=1, policy=PoisonPolicy.STOP)
    finally:
        target.close()
    model = lmdb_model(tmp_path / "m.lmdb")
    assert (model.checkpoint, model.applied, model.totals) == (3, (1, 2, 3), {"acct": (9, 3)})
