"""Stream names: an aggregate's events in ``<type>-<id>``, its snapshots in
``$snapshot-<type>-<id>``. Registered type names contain no ``-`` and never start with ``$``,
so a name maps back to one type and one id, and ``$`` marks streams that hold no domain
events (projections skip them)."""

from __future__ import annotations

_SNAPSHOT_PREFIX = "$snapshot-"
MAX_STREAM_BYTES = 1024 - len(_SNAPSHOT_PREFIX)
"""The log's stream-name cap, less room for the snapshot stream's prefix."""


def aggregate_stream(type_name: str, aggregate_id: str) -> str:
    if not isinstance(aggregate_id, str) or not aggregate_id:
        raise ValueError(f"an aggregate id is a non-empty string, not {aggregate_id!r}")
    stream = f"{type_name}-{aggregate_id}"
    if len(stream.encode()) > MAX_STREAM_BYTES:
        raise ValueError(f"aggregate id {aggregate_id!r:.60} is too long for a stream name")
    return stream


def snapshot_stream(stream: str) -> str:
    return f"{_SNAPSHOT_PREFIX}{stream}"
