"""One root for every error of the domain layer, split by who is at fault: the domain refused
a command, the code is defined inconsistently, stored data does not decode, another writer got
there first, or the caller asked for something that does not exist."""

from __future__ import annotations


class AggregateError(Exception):
    """Root of every error raised by :mod:`aggregates`."""


class DomainError(AggregateError):
    """A command refused by the domain. Raise a subclass from a command method before it
    triggers anything: the aggregate stays unchanged and emits nothing."""


class DefinitionError(AggregateError):
    """The application's code defines events, aggregates or upcasters inconsistently
    (a duplicate name, a missing handler, a class that is not attrs, ...)."""


class UpcasterChainError(DefinitionError):
    """The upcasters of one type do not form a complete chain to its current version."""

    def __init__(self, kind: str, type_name: str, version: int, reason: str) -> None:
        self.kind, self.type_name, self.version, self.reason = kind, type_name, version, reason
        super().__init__(f"{kind} upcasters of {type_name!r} at version {version}: {reason}")


class UnhandledEvent(DefinitionError):
    """An aggregate was given an event type it has no ``@applies`` handler for."""

    def __init__(self, aggregate: str, event: str) -> None:
        self.aggregate, self.event = aggregate, event
        super().__init__(f"{aggregate} has no handler for {event}")


class EncodeError(AggregateError):
    """An event or a snapshot cannot be encoded (not registered, or a value the codec cannot
    represent); nothing was written."""

    def __init__(self, type_name: str, reason: str) -> None:
        self.type_name, self.reason = type_name, reason
        super().__init__(f"cannot encode {type_name}: {reason}")


class DecodeError(AggregateError):
    """A stored event does not decode; names its type, stream and position."""

    def __init__(self, type_name: str, stream: str, position: int, reason: str) -> None:
        self.type_name, self.stream, self.position = type_name, stream, position
        self.reason = reason
        super().__init__(
            f"event {type_name!r} in stream {stream!r} at position {position}: {reason}"
        )


class UnknownEventType(DecodeError):
    """The stored type name is not registered with this registry."""


class UnsupportedSchemaVersion(DecodeError):
    """The event was written with a schema version this code cannot turn into its class
    (newer than the class, or older with no upcaster)."""


class MalformedEvent(DecodeError):
    """The payload or metadata bytes do not decode into the registered class."""


class ReplayError(AggregateError):
    """A stored event decoded but could not be applied to its aggregate while loading."""

    def __init__(
        self, aggregate_type: str, aggregate_id: str, stream: str, version: int, position: int
    ) -> None:
        self.aggregate_type, self.aggregate_id = aggregate_type, aggregate_id
        self.stream, self.version, self.position = stream, version, position
        super().__init__(
            f"cannot apply version {version} of {aggregate_type} {aggregate_id!r} "
            f"(stream {stream!r}, position {position})"
        )


class AggregateNotFound(AggregateError):
    """No aggregate of this type has this id (or it never reached the version asked for)."""

    def __init__(
        self,
        aggregate_type: str,
        aggregate_id: str,
        version: int | None = None,
        actual: int | None = None,
    ) -> None:
        self.aggregate_type, self.aggregate_id = aggregate_type, aggregate_id
        self.version, self.actual = version, actual
        if version is None or actual is None:
            message = f"no {aggregate_type} with id {aggregate_id!r}"
        else:
            message = (
                f"{aggregate_type} {aggregate_id!r} has no version {version} (it is at {actual})"
            )
        super().__init__(message)


class ConcurrencyError(AggregateError):
    """Someone else saved the aggregate since it was loaded; nothing of this save was written.
    Load it again and repeat the command (see ``retry_on_conflict``)."""

    def __init__(
        self, aggregate_type: str, aggregate_id: str, stream: str, expected: int, actual: int
    ) -> None:
        self.aggregate_type, self.aggregate_id, self.stream = aggregate_type, aggregate_id, stream
        self.expected, self.actual = expected, actual
        super().__init__(
            f"{aggregate_type} {aggregate_id!r} is at version {actual}, "
            f"this save expected {expected}"
        )
