"""What ``eventraft status`` reports about one node, a cluster node and the embedded store alike."""

from __future__ import annotations

import time

from eventlog.raft.core import RaftCore
from eventlog.records import LeaseStatus, NodeStatus
from eventlog.store.storage import LmdbStorage

__all__ = [
    "leases_of",
    "reader_status",
    "status_of",
]


def status_of(core: RaftCore, storage: LmdbStorage, now_ms: int | None = None) -> NodeStatus:
    """``now_ms`` is the clock that stamps this node's batches (the wall clock if None), so a
    lag is measured on the clock its events carry."""
    return NodeStatus(
        id=int(core.id),
        role=core.role.value,
        term=int(core.term),
        leader=int(core.leader),
        commit_index=int(core.log.committed),
        last_index=int(core.log.last_index()),
        applied_index=int(storage.applied_index()),
        last_position=int(storage.last_position()),
        digest=storage.digest().hex(),
        leases=leases_of(storage, now_ms),
        cluster_id=storage.cluster_id,
        voters=tuple(sorted(core.membership.voters)),
        learners=tuple(sorted(core.membership.learners)),
    )


def reader_status(storage: LmdbStorage) -> NodeStatus:
    """A store read beside its writer: what is on disk, with no Raft role of its own."""
    hard_state = storage.hard_state()
    return NodeStatus(
        id=0,
        role="reader",
        term=int(hard_state.term),
        leader=0,
        commit_index=int(hard_state.commit),
        last_index=int(storage.last_index()),
        applied_index=int(storage.applied_index()),
        last_position=int(storage.last_position()),
        digest=storage.digest().hex(),
        leases=leases_of(storage),
        cluster_id=storage.cluster_id,
    )


def leases_of(storage: LmdbStorage, now_ms: int | None = None) -> tuple[LeaseStatus, ...]:
    """Each lease (a projection worker's, usually) with how far its holder lags: in events
    behind this node's last position, and in seconds since the first event it has not
    reported (0 when it is caught up)."""
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    last = storage.last_position()
    result = []
    for grant in storage.leases():
        behind = max(0, last - grant.checkpoint)
        lag_ms = 0
        if behind:
            unreported = storage.read_all(grant.checkpoint + 1, 1)
            lag_ms = max(0, now_ms - unreported[0].timestamp) if unreported else 0
        result.append(
            LeaseStatus(
                name=grant.name,
                owner=grant.owner,
                token=grant.token,
                checkpoint=grant.checkpoint,
                lag_events=behind,
                lag_seconds=round(lag_ms / 1000, 3),
                expired=grant.released or grant.expires_ms <= storage.clock_ms(),
                stopped=grant.released,
            )
        )
    return tuple(result)
