"""Declaring handlers, binding them to stored type names, and applying one event."""

from __future__ import annotations

import sqlite3

import attrs
import pytest

from aggregates import DomainEvent, Envelope, MalformedEvent, Registry
from eventlog import NewEvent, RecordedEvent
from eventlog.types import Position
from projections import (
    ProjectionDefinitionError,
    Router,
    SqliteProjection,
    handles,
    handles_raw,
)
from tests.projections.sample import REGISTRY, Deposited, Totals, encode


def recorded(new: NewEvent, position: int = 1, stream: str = "s") -> RecordedEvent:
    return RecordedEvent(
        position=Position(position),
        stream=stream,
        version=1,
        type=new.type,
        data=new.data,
        metadata=new.metadata,
        id=bytes(16),
        timestamp=0,
    )


def test_handlers_are_bound_to_registered_names_by_class_or_name() -> None:
    router = Router.bind(Totals())
    assert sorted(router.routes) == ["Deposited", "Flaky", "Note", "Withdrawn"]
    assert router.routes["Note"].raw
    assert not router.routes["Deposited"].raw


def test_apply_decodes_and_passes_the_envelope() -> None:
    seen: list[tuple[object, Envelope]] = []

    class Spy(Totals):
        name = "spy"

        @handles(Deposited)
        def deposited(self, db: sqlite3.Connection, event: Deposited, at: Envelope) -> None:
            seen.append((event, at))

    router = Router.bind(Spy())
    assert router.apply(None, recorded(encode(Deposited(amount=7)), position=42, stream="a-1"))
    [(event, at)] = seen
    assert event == Deposited(amount=7)
    assert (at.position, at.stream) == (42, "a-1")


def test_an_event_without_a_handler_is_passed_over() -> None:
    router = Router.bind(Totals())
    assert not router.apply(None, recorded(NewEvent("Unrelated", b"x")))


def test_a_handled_event_that_does_not_decode_raises_the_codecs_error() -> None:
    router = Router.bind(Totals())
    with pytest.raises(MalformedEvent) as raised:
        router.apply(None, recorded(NewEvent("Deposited", b"\xc1", b"\xc1"), position=9))
    assert raised.value.position == 9


def test_a_handler_for_an_unregistered_class_is_refused_at_bind() -> None:
    @attrs.frozen
    class Stray(DomainEvent):
        pass

    class Bad(SqliteProjection):
        name = "bad"
        registry = REGISTRY

        @handles(Stray)
        def stray(self, db: sqlite3.Connection, event: Stray, at: Envelope) -> None: ...

    with pytest.raises(ProjectionDefinitionError, match="Stray, which is not registered"):
        Router.bind(Bad())


def test_a_handler_for_an_unregistered_name_is_refused_unless_raw() -> None:
    class Bad(SqliteProjection):
        name = "bad"
        registry = Registry()

        @handles("Nope")
        def nope(self, db: sqlite3.Connection, event: DomainEvent, at: Envelope) -> None: ...

    with pytest.raises(ProjectionDefinitionError, match="'Nope', which is not registered"):
        Router.bind(Bad())


def test_two_handlers_for_one_type_are_refused() -> None:
    class Twice(Totals):
        name = "twice"

        @handles("Deposited")
        def again(self, db: sqlite3.Connection, event: Deposited, at: Envelope) -> None: ...

    with pytest.raises(ProjectionDefinitionError, match="two handlers for 'Deposited'"):
        Router.bind(Twice())


def test_a_handler_overridden_without_a_declaration_is_no_longer_one() -> None:
    class Quiet(Totals):
        name = "quiet"

        def note(self, db: sqlite3.Connection, recorded: RecordedEvent) -> None: ...

    assert "Note" not in Router.bind(Quiet()).routes


def test_names_are_checked_and_required() -> None:
    with pytest.raises(ProjectionDefinitionError, match="name"):

        class Spaced(SqliteProjection):
            name = "has space"

    class Nameless(SqliteProjection):
        @handles_raw("X")
        def x(self, db: sqlite3.Connection, recorded: RecordedEvent) -> None: ...

    with pytest.raises(ProjectionDefinitionError, match="has no name"):
        Router.bind(Nameless())
