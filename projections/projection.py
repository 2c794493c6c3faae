"""``Projection``: handlers per event type that write a read model.

A projection declares, per event class (or registered type name), a method that writes the
read model through the target's handle::

    class Balances(SqliteProjection):
        name = "balances"
        schema = ("CREATE TABLE IF NOT EXISTS balance (account TEXT PRIMARY KEY, cents INT)",)

        @handles(MoneyDeposited)
        def deposited(self, db: sqlite3.Connection, event: MoneyDeposited, at: Envelope) -> None:
            db.execute("UPDATE balance SET cents = cents + ? WHERE account = ?", ...)

Handlers get the event decoded by the aggregates codec (upcast to its current class) and its
``Envelope`` (position, stream, version, metadata). ``handles_raw`` declares a handler that
gets the undecoded ``RecordedEvent``, for events not written through the codec. Events of
types without a handler are not read at all: the worker reads through a filter of the types
its handlers name (and of ``streams``, the stream prefixes it reads, if it names any), which
the node applies, and the checkpoint still moves past what it skipped. The system's own
streams (``$snapshot-...``) are left out unless ``streams`` names them.

Handlers must be deterministic functions of the read model and the event, since a rebuild
must produce what incremental updates did, and must not commit: the worker commits their
writes together with the checkpoint.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Generic, TypeVar

import attrs

from aggregates import DEFAULT_REGISTRY, Codec, DomainEvent, Registry, caused_by
from eventlog import MAX_FILTER_TERMS, EventFilter, RecordedEvent
from projections.errors import ProjectionDefinitionError
from projections.target import Target

H = TypeVar("H")
F = TypeVar("F", bound=Callable[..., None])
_HANDLES = "__projection_handles__"
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,200}\Z")


@attrs.frozen
class _Declared:
    """What a handler was declared for: an event class, a registered name, or a raw name."""

    event: type[DomainEvent] | str
    raw: bool


def handles(event: type[DomainEvent] | str) -> Callable[[F], F]:
    """Mark a method as the handler of ``event`` (a registered event class, or the name it is
    registered under): ``handler(self, handle, event, at: Envelope) -> None``."""

    def mark(handler: F) -> F:
        setattr(handler, _HANDLES, _Declared(event, raw=False))
        return handler

    return mark


def handles_raw(type_name: str) -> Callable[[F], F]:
    """Mark a method as the handler of the stored type ``type_name``, undecoded:
    ``handler(self, handle, recorded: RecordedEvent) -> None``."""

    def mark(handler: F) -> F:
        setattr(handler, _HANDLES, _Declared(type_name, raw=True))
        return handler

    return mark


class Projection(Generic[H]):
    """Base of projections. Set ``name`` (stable: it names the lease and the checkpoint),
    declare handlers with ``@handles``, and pick a target by subclassing ``SqliteProjection``
    or ``LmdbProjection`` (or implement ``open_target`` for another store)."""

    name: ClassVar[str]
    streams: ClassVar[tuple[str, ...]] = ()
    """Prefixes of the streams whose events it reads (a category, ``"account-"``); none:
    every stream but the system's."""
    registry: ClassVar[Registry] = DEFAULT_REGISTRY
    """Where event classes and type names are looked up, and decoded from."""
    reacts: ClassVar[bool] = False
    """Whether its handlers trigger events (a process manager's): those are then caused by
    the event handled, and continue its correlation."""
    target_is_directory: ClassVar[bool] = False
    """Whether a generation of the target is a directory (LMDB) or a file (SQLite)."""
    _declared: ClassVar[dict[str, _Declared]] = {}
    """Handler method names and what they handle, inherited ones included."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        declared: dict[str, _Declared] = {}
        for klass in reversed(cls.__mro__):
            for attribute, member in vars(klass).items():
                if isinstance(what := getattr(member, _HANDLES, None), _Declared):
                    declared[attribute] = what
                else:  # overridden without a declaration: no longer a handler
                    declared.pop(attribute, None)
        cls._declared = declared
        name = vars(cls).get("name")
        if name is not None and (not isinstance(name, str) or not _NAME.match(name)):
            raise ProjectionDefinitionError(
                f"{cls.__name__}.name {name!r}: 1..200 of letters, digits, '_', '.' and '-'"
            )

    def setup(self, handle: H) -> None:
        """Create the read model's structure (tables, indexes). Runs in the first transaction
        each time a worker opens the target, so it must be idempotent."""

    def open_target(self, path: Path) -> Target[H]:
        """Open (or create) this projection's target at a concrete path."""
        raise NotImplementedError(f"{type(self).__name__} does not say where it writes")


@attrs.frozen
class _Route:
    handler: Callable[..., None]
    raw: bool


@attrs.define
class Router(Generic[H]):
    """A projection bound to its codec: the handler of each stored type name."""

    projection: Projection[H]
    codec: Codec
    routes: dict[str, _Route]

    @classmethod
    def bind(cls, projection: Projection[H]) -> Router[H]:
        """Resolve every declared handler to a stored type name, or refuse the projection."""
        if not isinstance(getattr(projection, "name", None), str):
            raise ProjectionDefinitionError(f"{type(projection).__name__} has no name")
        streams = type(projection).streams
        if (
            not isinstance(streams, tuple)
            or len(streams) > MAX_FILTER_TERMS
            or not all(isinstance(prefix, str) and prefix for prefix in streams)
        ):
            raise ProjectionDefinitionError(
                f"{type(projection).__name__}.streams {streams!r}: a tuple of at most "
                f"{MAX_FILTER_TERMS} stream prefixes, each a non-empty str"
            )
        registry = type(projection).registry
        routes: dict[str, _Route] = {}
        for attribute, declared in type(projection)._declared.items():
            type_name = _type_name(registry, declared, type(projection).__name__)
            if type_name in routes:
                raise ProjectionDefinitionError(
                    f"{type(projection).__name__} has two handlers for {type_name!r}"
                )
            handler = getattr(projection, attribute)
            routes[type_name] = _Route(handler, declared.raw)
        return cls(projection, Codec(registry), routes)

    def handles(self, type_name: str) -> bool:
        return type_name in self.routes

    @property
    def filter(self) -> EventFilter:
        """What the projection reads: the types it handles (every type, if it handles more
        than a filter may name), of the streams it names."""
        types = tuple(self.routes) if len(self.routes) <= MAX_FILTER_TERMS else ()
        return EventFilter(streams=type(self.projection).streams, types=types)

    def apply(self, handle: H, recorded: RecordedEvent) -> bool:
        """Run the handler of ``recorded``'s type (decoding it first); False if it has none.
        Whatever decoding or the handler raises propagates."""
        route = self.routes.get(recorded.type)
        if route is None:
            return False
        if route.raw:
            route.handler(handle, recorded)
        else:
            envelope = self.codec.decode(recorded)
            if type(self.projection).reacts:
                with caused_by(envelope.meta):
                    route.handler(handle, envelope.event, envelope)
            else:
                route.handler(handle, envelope.event, envelope)
        return True


def _type_name(registry: Registry, declared: _Declared, owner: str) -> str:
    event = declared.event
    if isinstance(event, str):
        if declared.raw or registry.event_named(event) is not None:
            return event
        raise ProjectionDefinitionError(f"{owner} handles {event!r}, which is not registered")
    spec = registry.event_for(event)
    if spec is None:
        raise ProjectionDefinitionError(
            f"{owner} handles {event.__name__}, which is not registered"
        )
    return spec.name
