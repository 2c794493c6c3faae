"""aggregates: the domain layer. Application code defines events and aggregates as attrs
classes and loads and saves them through a repository; bytes, positions and Raft stay below.
"""

from __future__ import annotations

from aggregates.aggregate import Aggregate, applies
from aggregates.codec import Codec
from aggregates.errors import (
    AggregateError,
    AggregateNotFound,
    ConcurrencyError,
    DecodeError,
    DefinitionError,
    DomainError,
    EncodeError,
    MalformedEvent,
    ReplayError,
    UnhandledEvent,
    UnknownEventType,
    UnsupportedSchemaVersion,
    UpcasterChainError,
)
from aggregates.events import (
    DomainEvent,
    Envelope,
    EventMeta,
    PendingEvent,
    caused_by,
    correlated,
)
from aggregates.formats import Format
from aggregates.policy import SnapshotPolicy, every, never
from aggregates.registry import (
    DEFAULT_REGISTRY,
    Registry,
    aggregate_type,
    event_type,
    snapshot_upcaster,
    upcaster,
)
from aggregates.repository import AsyncRepository, Repository
from aggregates.retry import retry_on_conflict, retry_on_conflict_async
from aggregates.saving import SaveResult
from aggregates.upcasting import Payload

__all__ = [
    "DEFAULT_REGISTRY",
    "Aggregate",
    "AggregateError",
    "AggregateNotFound",
    "AsyncRepository",
    "Codec",
    "ConcurrencyError",
    "DecodeError",
    "DefinitionError",
    "DomainError",
    "DomainEvent",
    "EncodeError",
    "Envelope",
    "EventMeta",
    "Format",
    "MalformedEvent",
    "Payload",
    "PendingEvent",
    "Registry",
    "ReplayError",
    "Repository",
    "SaveResult",
    "SnapshotPolicy",
    "UnhandledEvent",
    "UnknownEventType",
    "UnsupportedSchemaVersion",
    "UpcasterChainError",
    "aggregate_type",
    "applies",
    "caused_by",
    "correlated",
    "event_type",
    "every",
    "never",
    "retry_on_conflict",
    "retry_on_conflict_async",
    "snapshot_upcaster",
    "upcaster",
]
