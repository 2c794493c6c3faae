"""``project`` and ``rebuild`` as an operator runs them, over an embedded store: exit codes,
messages, the poison policies and a clean stop on SIGTERM."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from eventlog import open_embedded
from eventraft.cli import main
from tests.projections.harness import WorkerProcess, processes, wait_for
from tests.projections.sample import (
    Flaky,
    deposits,
    encode,
    expected_totals,
    sqlite_checkpoint,
    sqlite_model,
)


def make_store(path: Path, *, poison: bool = False) -> int:
    """A closed embedded store with some deposits (and a poison event at position 21)."""
    with open_embedded(path, sync=False) as store:
        store.append("acct-1", deposits(20, amount=2))
        if poison:
            store.append("flaky-1", [encode(Flaky(fail=True))])
        store.append("acct-2", deposits(10, amount=3))
        return int(store.status().last_position)


def invoke(*args: str) -> click.testing.Result:
    return CliRunner().invoke(main, ["--log-level", "warning", *args])


def test_eventraft_has_every_command_of_the_contract() -> None:
    assert set(main.commands) >= {
        "node", "cluster", "status", "append", "read", "project", "rebuild", "demo", "bench"
    }  # fmt: skip


def test_rebuild_from_an_embedded_store(tmp_path: Path) -> None:
    last = make_store(tmp_path / "store")
    target = tmp_path / "totals.db"
    result = invoke(
        "rebuild",
        "--from-embedded",
        str(tmp_path / "store"),
        "tests.projections.sample:Totals",
        "--target",
        str(target),
    )
    assert result.exit_code == 0, result.output
    assert f"rebuilt totals to position {last}" in result.output
    with open_embedded(tmp_path / "store") as store:
        assert sqlite_model(target).totals == expected_totals(store.read_all())
    assert target.is_symlink()


def test_a_failed_rebuild_leaves_the_target_unchanged(tmp_path: Path) -> None:
    make_store(tmp_path / "store", poison=True)
    target = tmp_path / "totals.db"
    result = invoke(
        "rebuild",
        "--from-embedded",
        str(tmp_path / "store"),
        "tests.projections.sample:Totals",
        "--target",
        str(target),
    )
    assert result.exit_code == 1
    assert "cannot apply event 'Flaky' of stream 'flaky-1' at position 21" in result.output
    assert "the target is unchanged" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tests.projections.sample:Totals", "--target", "t.db"], "exactly one of"),
        (["--cluster", "127.0.0.1:1", "nope:Nope", "--target", "t.db"], "cannot import nope"),
        (
            ["--cluster", "127.0.0.1:1", "tests.projections.sample:encode", "--target", "t.db"],
            "not a Projection class",
        ),
        (
            ["--cluster", "127.0.0.1:1", "tests.projections.sample:Nope", "--target", "t.db"],
            "module 'tests.projections.sample' has no attribute 'Nope'",
        ),
    ],
)
def test_bad_usage_exits_2_naming_the_problem(args: list[str], message: str) -> None:
    result = invoke("project", *args)
    assert result.exit_code == 2
    assert message in result.output


SAGA = "examples.bank.saga:TransferSaga"


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        ("project", [SAGA, "--target", "t.db"], "a process manager writes to the log"),
        ("project", ["tests.projections.sample:Totals"], "a projection needs --target"),
        ("rebuild", [SAGA], "a process manager's reactions are in the log"),
        ("rebuild", ["tests.projections.sample:Totals"], "rebuild needs --target"),
    ],
)
def test_a_process_manager_takes_no_target_and_a_projection_needs_one(
    command: str, args: list[str], message: str
) -> None:
    result = invoke(command, "--cluster", "127.0.0.1:1", *args)
    assert result.exit_code == 2
    assert message in result.output


def embedded_worker(tmp_path: Path, target: Path, *extra: str) -> WorkerProcess:
    return WorkerProcess(
        [
            "--from-embedded",
            str(tmp_path / "store"),
            "tests.projections.sample:Totals",
            "--target",
            str(target),
            *extra,
        ],
        tmp_path / "worker.log",
    )


def test_a_worker_process_over_an_embedded_store_stops_cleanly_on_sigterm(
    tmp_path: Path,
) -> None:
    last = make_store(tmp_path / "store")
    target = tmp_path / "totals.db"
    with processes() as started:
        started.append(embedded_worker(tmp_path, target).start())
        wait_for(lambda: sqlite_checkpoint(target) == last, 20, "catch-up")
        started[0].signal(signal.SIGTERM)
        assert started[0].wait() == 0, started[0].tail()
    assert started[0].logged("worker_stopped")


def test_a_poison_event_stops_the_worker_process_with_a_named_error(tmp_path: Path) -> None:
    make_store(tmp_path / "store", poison=True)
    target = tmp_path / "totals.db"
    with processes() as started:
        started.append(embedded_worker(tmp_path, target).start())
        assert started[0].wait(20) == 1
    [logged] = started[0].logged("poison_event")
    assert (logged["projection"], logged["position"], logged["stream"], logged["type"]) == (
        "totals",
        21,
        "flaky-1",
        "Flaky",
    )
    assert "Error: projection 'totals' cannot apply event 'Flaky'" in started[0].tail()
    assert sqlite_checkpoint(target) == 20
    with open_embedded(tmp_path / "store", readonly=True) as store:
        [lease] = store.status().leases
    assert (lease.name, lease.checkpoint, lease.stopped) == ("projection:totals", 20, True)


def test_the_park_policy_parks_the_poison_and_goes_on(tmp_path: Path) -> None:
    last = make_store(tmp_path / "store", poison=True)
    target = tmp_path / "totals.db"
    with processes() as started:
        started.append(embedded_worker(tmp_path, target, "--on-poison", "park").start())
        wait_for(lambda: sqlite_checkpoint(target) == last, 20, "the worker to go past it")
        started[0].signal(signal.SIGINT)
        assert started[0].wait() == 0, started[0].tail()
    [parked] = started[0].logged("event_parked")
    assert (parked["position"], parked["type"]) == (21, "Flaky")
    db = sqlite3.connect(target)
    try:
        rows = db.execute("SELECT position, stream, type FROM _projection_dead_letters").fetchall()
    finally:
        db.close()
    assert rows == [(21, "flaky-1", "Flaky")]
    assert 21 not in sqlite_model(target).applied
