"""``Aggregate``: the base of attrs classes whose commands emit events. Pure domain code.

A command validates its arguments against the current state, raises a ``DomainError`` to
refuse, or calls ``self.trigger(*events)`` once. ``trigger`` applies each event through the
handler registered for its type with ``@applies`` (a table lookup, not an if-chain) and keeps
the events pending until the repository saves them. State changes only in handlers, so loading
an aggregate is applying its stored events to a blank one.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, TypeVar

import attrs

from aggregates.errors import DefinitionError, UnhandledEvent
from aggregates.events import DomainEvent, PendingEvent, new_meta

A = TypeVar("A", bound="Aggregate")
E = TypeVar("E", bound=DomainEvent)
_Handler = Callable[[Any, Any], None]
_APPLIES = "__aggregates_applies__"


def applies(event_type: type[E]) -> Callable[[Callable[[A, E], None]], Callable[[A, E], None]]:
    """Mark a method as the handler of ``event_type``: it changes the state, and nothing else
    does. It must not fail for an event its own commands let through."""

    def mark(handler: Callable[[A, E], None]) -> Callable[[A, E], None]:
        setattr(handler, _APPLIES, event_type)
        return handler

    return mark


def _collect_handlers(cls: type) -> dict[type[DomainEvent], _Handler]:
    """The handler table of ``cls``: inherited handlers, overridden by the class's own."""
    table: dict[type[DomainEvent], _Handler] = {}
    for klass in reversed(cls.__mro__):
        own: dict[type[DomainEvent], str] = {}
        for name, member in vars(klass).items():
            event_type = getattr(member, _APPLIES, None)
            if event_type is None:
                continue
            if event_type in own:
                raise DefinitionError(
                    f"{klass.__name__} has two handlers for {event_type.__name__}: "
                    f"{own[event_type]} and {name}"
                )
            own[event_type] = name
            table[event_type] = member
    return table


@attrs.define(kw_only=True)
class Aggregate:
    """Base of aggregates. Subclass it with ``@attrs.define`` and register it with
    ``@aggregate_type("Name")``; give every state field a default (or override ``blank``)."""

    id: str
    version: int = 0
    """Events applied so far, saved or pending. While a handler runs it is that event's
    version. Invariant: ``version - len(pending_events)`` is the stream's version when loaded
    or last saved, which is what the next save expects."""
    _pending: list[PendingEvent] = attrs.field(factory=list, init=False, repr=False, eq=False)

    _handlers: ClassVar[Mapping[type[DomainEvent], _Handler]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._handlers = _collect_handlers(cls)

    @classmethod
    def blank(cls, id: str) -> Self:
        """The state before the first event: what loading starts from."""
        return cls(id=id)

    @classmethod
    def start(cls, *events: DomainEvent, id: str | None = None) -> Self:
        """A new aggregate created by ``events`` (a fresh UUID id unless ``id`` is given)."""
        if not events:
            raise ValueError("start() needs the event that creates the aggregate")
        aggregate = cls.blank(str(uuid.uuid4()) if id is None else id)
        aggregate.trigger(*events)
        return aggregate

    def trigger(self, *events: DomainEvent) -> None:
        """Apply ``events`` and keep them pending: all of them, or (if a handler raises)
        none, with the state as it was before the call (restored from a deep copy taken
        first, which is why a command should trigger once, with all its events)."""
        handlers = [self._handler_for(event) for event in events]
        before = self._state()
        try:
            for handler, event in zip(handlers, events, strict=True):
                self.version += 1
                handler(self, event)
        except BaseException:
            self._restore(before)
            raise
        self._pending.extend(PendingEvent(event, new_meta()) for event in events)

    @property
    def pending_events(self) -> tuple[PendingEvent, ...]:
        """Events triggered since the aggregate was loaded or last saved."""
        return tuple(self._pending)

    @property
    def saved_version(self) -> int:
        """The stream's version this aggregate was loaded at or last saved at."""
        return self.version - len(self._pending)

    def _apply_stored(self, event: DomainEvent, version: int) -> None:
        """Apply an event read from the store (the repository's side of ``trigger``)."""
        if version != self.version + 1:
            raise ValueError(f"version {version} does not follow {self.version}")
        handler = self._handler_for(event)
        self.version = version
        handler(self, event)

    def _mark_saved(self) -> None:
        self._pending.clear()

    def _handler_for(self, event: DomainEvent) -> _Handler:
        handler = type(self)._handlers.get(type(event))
        if handler is None:
            raise UnhandledEvent(type(self).__name__, type(event).__name__)
        return handler

    def _state(self) -> dict[str, Any]:
        return {
            field.name: copy.deepcopy(getattr(self, field.name))
            for field in attrs.fields(type(self))
            if field.name != "_pending"
        }

    def _restore(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)


Aggregate._handlers = _collect_handlers(Aggregate)
