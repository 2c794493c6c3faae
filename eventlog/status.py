"""What ``eventraft status`` reports about one node."""

from __future__ import annotations

from typing import Any

from eventlog.raft.core import RaftCore
from eventlog.storage import LmdbStorage


def status_of(core: RaftCore, storage: LmdbStorage) -> dict[str, Any]:
    """The fields of ``eventraft status``, for a cluster node and the embedded store alike."""
    return {
        "id": int(core.id),
        "role": core.role.value,
        "term": int(core.term),
        "leader": int(core.leader),
        "commit_index": int(core.log.committed),
        "last_index": int(core.log.last_index()),
        "applied_index": int(storage.applied_index()),
        "last_position": int(storage.last_position()),
        "digest": storage.digest().hex(),
    }
