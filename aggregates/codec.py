"""Domain events to the log's ``NewEvent`` and back from ``RecordedEvent``.

A stored event's ``type`` is its registered name, its ``data`` the event's fields and its
``metadata`` a map with the schema version and the ``EventMeta`` fields, both in one format
(msgpack unless the codec is built for JSON). Decoding reads the format from the metadata,
upcasts old schema versions to the current class, and names the type, stream and position in
every error.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import attrs
import cattrs

from aggregates.errors import (
    DefinitionError,
    EncodeError,
    MalformedEvent,
    UnknownEventType,
    UnsupportedSchemaVersion,
)
from aggregates.events import DomainEvent, Envelope, EventMeta, PendingEvent
from aggregates.formats import CONVERTER, Format, dumps, loads, sniff
from aggregates.registry import DEFAULT_REGISTRY, EventSpec, Registry
from aggregates.upcasting import can_upcast, upcast
from eventlog import NewEvent, RecordedEvent


@attrs.frozen(kw_only=True)
class StoredMeta:
    """The metadata map as stored (unknown keys are ignored, so it can grow)."""

    schema: int
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None

    def meta(self) -> EventMeta:
        return EventMeta(
            event_id=self.event_id,
            occurred_at=self.occurred_at,
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
        )


def describe(error: Exception) -> str:
    """A short reason for a failed structure: cattrs' paths when it has them."""
    if isinstance(error, cattrs.BaseValidationError):
        return "; ".join(cattrs.transform_error(error))
    return f"{type(error).__name__}: {error}"


class Codec:
    """Writes in one format (``format``); reads records in either."""

    def __init__(self, registry: Registry = DEFAULT_REGISTRY, format: Format = Format.MSGPACK):
        self.registry, self.format = registry, format

    def check(self) -> None:
        """Every registered class can be structured (its field types are ones the converter
        knows); raises ``DefinitionError`` naming the class, at start-up."""
        for cls in self.registry.classes():
            try:
                CONVERTER.get_structure_hook(cls)
            except Exception as error:
                raise DefinitionError(f"{cls.__name__} cannot be decoded: {error}") from error

    def encode(self, pending: PendingEvent) -> NewEvent:
        spec = self._spec_of(pending.event)
        meta = StoredMeta(schema=spec.version, **attrs.asdict(pending.meta, recurse=False))
        try:
            data = dumps(CONVERTER.unstructure(pending.event, spec.cls), self.format)
            metadata = dumps(CONVERTER.unstructure(meta), self.format)
        except (TypeError, ValueError, OverflowError) as error:
            raise EncodeError(spec.name, describe(error)) from error
        return NewEvent(spec.name, data, metadata)

    def _spec_of(self, event: DomainEvent) -> EventSpec:
        spec = self.registry.event_for(type(event))
        if spec is None:
            raise EncodeError(type(event).__name__, "the event class is not registered")
        return spec

    def decode(self, recorded: RecordedEvent) -> Envelope:
        spec = self._spec_named(recorded)
        format, raw_meta = self._metadata(recorded)
        schema, meta = self._stored_meta(recorded, raw_meta)
        return Envelope(
            event=self._event(spec, schema, format, recorded),
            meta=meta,
            stream=recorded.stream,
            version=recorded.version,
            position=recorded.position,
            recorded_at=datetime.fromtimestamp(recorded.timestamp / 1000, UTC),
            schema_version=schema,
        )

    def _stored_meta(self, recorded: RecordedEvent, raw: object) -> tuple[int, EventMeta]:
        """The schema version and the ``EventMeta``. Metadata as this codec writes it is
        built directly (a projection decodes every event it reads); anything else goes
        through the converter, whose errors say what is wrong."""
        if type(raw) is dict:
            schema, event_id = raw.get("schema"), raw.get("event_id")
            occurred, correlation = raw.get("occurred_at"), raw.get("correlation_id")
            causation = raw.get("causation_id")
            if (
                type(schema) is int
                and type(event_id) is str
                and type(occurred) is str
                and type(correlation) is str
                and (causation is None or type(causation) is str)
            ):
                with contextlib.suppress(ValueError):  # not ISO 8601: the converter says so
                    return schema, EventMeta(
                        event_id=event_id,
                        occurred_at=datetime.fromisoformat(occurred),
                        correlation_id=correlation,
                        causation_id=causation,
                    )
        try:
            stored = CONVERTER.structure(raw, StoredMeta)
        except cattrs.BaseValidationError as error:
            raise self._malformed(recorded, error) from error
        return stored.schema, stored.meta()

    def decode_event(self, recorded: RecordedEvent) -> DomainEvent:
        """The event alone, for replay: of the metadata only the schema version is read."""
        spec = self._spec_named(recorded)
        format, raw_meta = self._metadata(recorded)
        schema = raw_meta.get("schema") if isinstance(raw_meta, dict) else None
        if type(schema) is not int:
            raise self._malformed(recorded, ValueError("metadata has no int 'schema'"))
        return self._event(spec, schema, format, recorded)

    def _spec_named(self, recorded: RecordedEvent) -> EventSpec:
        spec = self.registry.event_named(recorded.type)
        if spec is None:
            raise UnknownEventType(
                recorded.type, recorded.stream, recorded.position, "no class registered"
            )
        return spec

    def _metadata(self, recorded: RecordedEvent) -> tuple[Format, object]:
        try:
            format = sniff(recorded.metadata)
            return format, loads(recorded.metadata, format)
        except ValueError as error:
            raise self._malformed(recorded, error) from error

    def _event(
        self, spec: EventSpec, schema: int, format: Format, recorded: RecordedEvent
    ) -> DomainEvent:
        self._check_schema(spec, schema, recorded)
        try:
            payload = loads(recorded.data, format)
            if not isinstance(payload, dict):
                raise TypeError(f"data is a {type(payload).__name__}")
            if schema != spec.version:
                upcasters = self.registry.event_upcasters(spec.name)
                payload = upcast(upcasters, schema, spec.version, payload)
            event: DomainEvent = CONVERTER.structure(payload, spec.cls)
        except Exception as error:
            raise self._malformed(recorded, error) from error
        return event

    def _check_schema(self, spec: EventSpec, schema: int, recorded: RecordedEvent) -> None:
        if schema == spec.version:
            return  # the current version: nothing to upcast
        upcasters = self.registry.event_upcasters(spec.name)
        if schema < 1 or schema > spec.version or not can_upcast(upcasters, schema, spec.version):
            raise UnsupportedSchemaVersion(
                spec.name,
                recorded.stream,
                recorded.position,
                f"written with schema version {schema}; this code reads versions up to "
                f"{spec.version} with upcasters from {sorted(upcasters) or 'none'}",
            )

    @staticmethod
    def _malformed(recorded: RecordedEvent, error: Exception) -> MalformedEvent:
        return MalformedEvent(recorded.type, recorded.stream, recorded.position, describe(error))
