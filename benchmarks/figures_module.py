"""(g) One ``eventsourcing`` application on the library's SQLite and PostgreSQL modules and on
``eventraft.eventsourcing`` (an embedded store, and a 3-node cluster on this machine): durable
single-event saves from 1 and from 16 threads, and notification reads, with the same code
(``peer_eventsourcing``) for each; only the environment differs."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import peer_eventsourcing
from figures_local import eventsourcing_env

from eventraft.localcluster import local_cluster


@contextlib.contextmanager
def eventraft_env(where: str) -> Iterator[dict[str, str]]:
    """The settings of a fresh log: an embedded store, or a fresh 3-node cluster."""
    # The category names the streams of recorders made without an application's name.
    module = {"PERSISTENCE_MODULE": "eventraft.eventsourcing", "EVENTRAFT_CATEGORY": "Bench"}
    with tempfile.TemporaryDirectory() as tmp:
        if where == "embedded":
            yield {**module, "EVENTRAFT_PATH": tmp}
            return
        with local_cluster(Path(tmp)) as cluster:
            cluster.leader(timeout=20)
            yield {
                **module,
                "EVENTRAFT_CLUSTER": cluster.addresses,
                "EVENTRAFT_INSECURE": "y",
            }


Environment = Callable[[], contextlib.AbstractContextManager[dict[str, str]]]


def _measure(open_env: Environment, seconds: float, events: int) -> dict[str, float]:
    """Saves/s from 1 and 16 threads and notification reads/s, each in a fresh database."""
    figures: dict[str, float] = {}
    for threads in (1, 16):
        with open_env() as env:
            figures[f"threads{threads}"] = peer_eventsourcing.saves(env, threads, seconds)
    with open_env() as env:
        figures["reads"] = peer_eventsourcing.notification_reads(env, events)
    return figures


def eventraft_module(seconds: float, events: int) -> dict[str, float]:
    figures = {}
    for where in ("cluster", "embedded"):
        measured = _measure(lambda w=where: eventraft_env(w), seconds, events)
        figures |= {f"{where}_{key}": value for key, value in measured.items()}
    return figures


def eventsourcing_module_sqlite(seconds: float, events: int) -> dict[str, float]:
    return _measure(lambda: eventsourcing_env("sqlite"), seconds, events)


def eventsourcing_module_postgres(seconds: float, events: int) -> dict[str, float]:
    return _measure(lambda: eventsourcing_env("postgres"), seconds, events)
