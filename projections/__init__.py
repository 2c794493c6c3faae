"""projections: read models kept up to date by worker processes that follow the committed log.

A ``Projection`` declares a handler per event type; a worker applies batches of events to a
target (SQLite, LMDB, or your own through ``Target``) with the checkpoint in the same
transaction, holds the projection's lease so one worker at a time writes, and stops cleanly
on SIGTERM. ``rebuild`` replays the log into a fresh generation of the target and switches.
A ``ProcessManager`` is a projection whose read model is the log: its reactions (commands on
aggregates, new events) are appended with its tracking record, each exactly once.
"""

from __future__ import annotations

from projections.apply import BatchResult, PoisonPolicy, apply_batch, claim
from projections.errors import (
    CheckpointMoved,
    FeedEnded,
    Fenced,
    Interrupted,
    LeaseLost,
    PoisonEvent,
    ProjectionDefinitionError,
    ProjectionError,
    TargetError,
)
from projections.feed import Batch, Feed
from projections.lease import LEASE_PREFIX, lease_name
from projections.lmdb_target import LmdbProjection, LmdbTarget, LmdbWriter
from projections.process import DEAD_LETTER_PREFIX, ProcessManager, Unit, dead_letter_stream
from projections.projection import Projection, Router, handles, handles_raw
from projections.reacting import ProcessWorker
from projections.rebuild import Progress, RebuildResult, rebuild
from projections.source import ClientSource, EmbeddedSource, EventSource
from projections.sqlite_target import SqliteProjection, SqliteTarget
from projections.target import Checkpoint, DeadLetter, Target, Transaction
from projections.worker import Worker, WorkerConfig

__all__ = [
    "DEAD_LETTER_PREFIX",
    "LEASE_PREFIX",
    "Batch",
    "BatchResult",
    "Checkpoint",
    "CheckpointMoved",
    "ClientSource",
    "DeadLetter",
    "EmbeddedSource",
    "EventSource",
    "Feed",
    "FeedEnded",
    "Fenced",
    "Interrupted",
    "LeaseLost",
    "LmdbProjection",
    "LmdbTarget",
    "LmdbWriter",
    "PoisonEvent",
    "PoisonPolicy",
    "ProcessManager",
    "ProcessWorker",
    "Progress",
    "Projection",
    "ProjectionDefinitionError",
    "ProjectionError",
    "RebuildResult",
    "Router",
    "SqliteProjection",
    "SqliteTarget",
    "Target",
    "TargetError",
    "Transaction",
    "Unit",
    "Worker",
    "WorkerConfig",
    "apply_batch",
    "claim",
    "dead_letter_stream",
    "handles",
    "handles_raw",
    "lease_name",
    "rebuild",
]
