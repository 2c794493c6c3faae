"""Snapshots: an aggregate's state at some version, stored in the replicated log itself.

The snapshots of stream ``S`` are events of type ``$snapshot`` in the stream ``$snapshot-S``,
so every node holds them and they survive the loss of a node like any event, yet they are not
events of ``S``: its versions, its expected-version checks and its readers never see them. The
repository writes a snapshot in the same atomic append as the events it follows, so a snapshot
never describes a version the aggregate's stream does not have, and the newest snapshot is one
backwards read of one event.

A snapshot is used only when it certainly fits the current class: same aggregate type, and
either the current schema version with the same field fingerprint, or an older version with a
complete chain of snapshot upcasters. Anything else is ignored (and logged), and the aggregate
is loaded by full replay: never mis-loaded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs
import cattrs
import structlog

from aggregates.aggregate import Aggregate
from aggregates.codec import describe
from aggregates.errors import EncodeError
from aggregates.formats import CONVERTER, Format, dumps, loads, sniff
from aggregates.registry import AggregateSpec, Registry
from aggregates.upcasting import can_upcast, upcast
from eventlog import NewEvent, RecordedEvent

A = TypeVar("A", bound=Aggregate)
SNAPSHOT_TYPE = "$snapshot"
_log = structlog.get_logger(__name__)


@attrs.frozen(kw_only=True)
class SnapshotMeta:
    aggregate_type: str
    schema: int
    aggregate_version: int
    fingerprint: str
    taken_at: datetime


def encode_snapshot(aggregate: Aggregate, spec: AggregateSpec, format: Format) -> NewEvent:
    """The state of ``aggregate`` at its current version (pending events included)."""
    meta = SnapshotMeta(
        aggregate_type=spec.name,
        schema=spec.version,
        aggregate_version=aggregate.version,
        fingerprint=spec.fingerprint,
        taken_at=datetime.now(UTC),
    )
    state = CONVERTER.unstructure(aggregate, spec.cls)
    del state["id"], state["version"]
    try:
        return NewEvent(
            SNAPSHOT_TYPE, dumps(state, format), dumps(CONVERTER.unstructure(meta), format)
        )
    except (TypeError, ValueError, OverflowError) as error:
        raise EncodeError(f"{spec.name} snapshot", describe(error)) from error


def snapshot_meta(record: RecordedEvent) -> SnapshotMeta | None:
    """The metadata of a snapshot record, or None if it is not one we can read."""
    if record.type != SNAPSHOT_TYPE:
        return None
    try:
        raw = loads(record.metadata, sniff(record.metadata))
        return CONVERTER.structure(raw, SnapshotMeta)
    except (ValueError, cattrs.BaseValidationError):
        return None


def decode_snapshot(
    record: RecordedEvent, cls: type[A], spec: AggregateSpec, registry: Registry, id: str
) -> A | None:
    """The aggregate stored in ``record``, or None (logged with the reason) if the snapshot
    does not certainly fit the current class."""
    meta = snapshot_meta(record)
    reason = _unfit(meta, spec, registry)
    if reason is None:
        assert meta is not None
        try:
            state = loads(record.data, sniff(record.metadata))
            if not isinstance(state, dict):
                raise TypeError(f"state is a {type(state).__name__}")
            upcasters = registry.snapshot_upcasters(spec.name)
            state = upcast(upcasters, meta.schema, spec.version, state)
            raw: dict[str, Any] = {**state, "id": id, "version": meta.aggregate_version}
            return CONVERTER.structure(raw, cls)
        except Exception as error:
            reason = f"does not decode: {describe(error)}"
    _log.warning(
        "snapshot_ignored",
        stream=record.stream,
        position=record.position,
        aggregate_type=spec.name,
        reason=reason,
    )
    return None


def _unfit(meta: SnapshotMeta | None, spec: AggregateSpec, registry: Registry) -> str | None:
    if meta is None:
        return "not a readable snapshot"
    if meta.aggregate_type != spec.name:
        return f"a snapshot of {meta.aggregate_type!r}, not {spec.name!r}"
    if meta.schema == spec.version:
        return None if meta.fingerprint == spec.fingerprint else "the fields changed"
    if meta.schema > spec.version:
        return f"written by newer code (schema {meta.schema} > {spec.version})"
    if not can_upcast(registry.snapshot_upcasters(spec.name), meta.schema, spec.version):
        return f"schema {meta.schema} has no upcasters to {spec.version}"
    return None
