"""The registry: stable names and schema versions for event and aggregate classes, and their
upcasters. Stored data names a type by its registered name, never by its import path, so
classes can be renamed and moved freely; only the registered name is forever.

``DEFAULT_REGISTRY`` serves the module-level decorators (``event_type``, ``aggregate_type``,
``upcaster``, ``snapshot_upcaster``); an application or a test may build its own.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from typing import TypeVar

import attrs

from aggregates.aggregate import Aggregate
from aggregates.errors import DefinitionError
from aggregates.events import DomainEvent
from aggregates.policy import SnapshotPolicy, never
from aggregates.upcasting import Upcaster, check_chain

E = TypeVar("E", bound=DomainEvent)
A = TypeVar("A", bound=Aggregate)
U = TypeVar("U", bound=Upcaster)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,199}\Z")
"""No ``-`` (it separates type and id in stream names) and no ``$`` (reserved)."""


@attrs.frozen
class EventSpec:
    name: str
    version: int
    cls: type[DomainEvent]


@attrs.frozen
class AggregateSpec:
    name: str
    version: int
    """The schema version of the aggregate's state, as written into snapshots."""
    cls: type[Aggregate]
    snapshots: SnapshotPolicy
    fingerprint: str
    """A digest of the state's field names and types: a snapshot whose schema version
    matches but whose fingerprint does not was written by an edit that forgot to bump the
    version, and is ignored rather than mis-loaded."""


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise DefinitionError(
            f"bad type name {name!r}: 1..200 of letters, digits, '_' and '.', not a digit first"
        )


def _check_version(name: str, version: int) -> None:
    if type(version) is not int or version < 1:
        raise DefinitionError(f"{name}: schema version must be an int >= 1, not {version!r}")


def _check_attrs_class(cls: type, base: type) -> None:
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise DefinitionError(f"{cls!r} is not a subclass of {base.__name__}")
    if "__attrs_attrs__" not in vars(cls):
        raise DefinitionError(
            f"{cls.__name__} is not decorated with attrs "
            "(the registering decorator goes above @attrs.frozen or @attrs.define)"
        )


def _state_fields(cls: type[Aggregate]) -> list[attrs.Attribute[object]]:
    return [f for f in attrs.fields(cls) if f.init and f.name not in ("id", "version")]


def fingerprint(cls: type[Aggregate]) -> str:
    shape = ";".join(f"{f.name}:{f.type!r}" for f in _state_fields(cls))
    return hashlib.sha256(shape.encode()).hexdigest()[:16]


class Registry:
    def __init__(self) -> None:
        self._events: dict[str, EventSpec] = {}
        self._event_classes: dict[type[DomainEvent], EventSpec] = {}
        self._aggregates: dict[str, AggregateSpec] = {}
        self._aggregate_classes: dict[type[Aggregate], AggregateSpec] = {}
        self._upcasters: dict[str, dict[int, Upcaster]] = {}
        self._snapshot_upcasters: dict[str, dict[int, Upcaster]] = {}

    # -- registering ------------------------------------------------------------------------
    def event(self, name: str, *, version: int = 1) -> Callable[[type[E]], type[E]]:
        """Register a frozen attrs ``DomainEvent`` class under ``name`` at schema ``version``."""
        _check_name(name)
        _check_version(name, version)

        def register(cls: type[E]) -> type[E]:
            _check_attrs_class(cls, DomainEvent)
            if name in self._events or cls in self._event_classes:
                raise DefinitionError(f"event {name!r} ({cls.__name__}) is registered twice")
            spec = EventSpec(name, version, cls)
            self._events[name] = self._event_classes[cls] = spec
            return cls

        return register

    def aggregate(
        self, name: str, *, version: int = 1, snapshots: SnapshotPolicy = never
    ) -> Callable[[type[A]], type[A]]:
        """Register an attrs ``Aggregate`` class under ``name`` (its streams are
        ``name-<id>``), with the schema ``version`` of its state and its snapshot policy."""
        _check_name(name)
        _check_version(name, version)

        def register(cls: type[A]) -> type[A]:
            _check_attrs_class(cls, Aggregate)
            _check_blank(cls)
            if name in self._aggregates or cls in self._aggregate_classes:
                raise DefinitionError(f"aggregate {name!r} ({cls.__name__}) is registered twice")
            spec = AggregateSpec(name, version, cls, snapshots, fingerprint(cls))
            self._aggregates[name] = self._aggregate_classes[cls] = spec
            return cls

        return register

    def upcaster(self, name: str, from_version: int) -> Callable[[U], U]:
        """Register the step from schema ``from_version`` of event ``name`` to the next."""
        return self._add_upcaster(self._upcasters, "event", name, from_version)

    def snapshot_upcaster(self, name: str, from_version: int) -> Callable[[U], U]:
        """Register the step from schema ``from_version`` of aggregate ``name``'s snapshot
        state to the next. Without a full chain, older snapshots are ignored (full replay)."""
        return self._add_upcaster(self._snapshot_upcasters, "snapshot", name, from_version)

    def _add_upcaster(
        self, table: dict[str, dict[int, Upcaster]], kind: str, name: str, from_version: int
    ) -> Callable[[U], U]:
        _check_version(name, from_version)

        def register(function: U) -> U:
            steps = table.setdefault(name, {})
            if from_version in steps:
                raise DefinitionError(f"two {kind} upcasters of {name!r} from {from_version}")
            steps[from_version] = function
            return function

        return register

    # -- start-up check ---------------------------------------------------------------------
    def check(self) -> None:
        """Every upcaster chain complete, every handled event registered; raises
        ``DefinitionError`` (``UpcasterChainError`` for chains) naming what is wrong."""
        for kind, table, known in (
            ("event", self._upcasters, self._events),
            ("snapshot", self._snapshot_upcasters, self._aggregates),
        ):
            for name in table:
                if name not in known:
                    raise DefinitionError(f"{kind} upcasters for unregistered type {name!r}")
        for name, spec in self._events.items():
            check_chain("event", name, spec.version, self._upcasters.get(name, {}), from_first=True)
        for name, aggregate in self._aggregates.items():
            steps = self._snapshot_upcasters.get(name, {})
            check_chain("snapshot", name, aggregate.version, steps, from_first=False)
            for event_type in aggregate.cls._handlers:
                if event_type not in self._event_classes:
                    raise DefinitionError(
                        f"{aggregate.cls.__name__} handles {event_type.__name__}, "
                        "which is not registered"
                    )

    # -- lookups ----------------------------------------------------------------------------
    def classes(self) -> list[type[DomainEvent] | type[Aggregate]]:
        """Every registered event and aggregate class."""
        return [*self._event_classes, *self._aggregate_classes]

    def event_named(self, name: str) -> EventSpec | None:
        return self._events.get(name)

    def event_for(self, cls: type[DomainEvent]) -> EventSpec | None:
        return self._event_classes.get(cls)

    def aggregate_for(self, cls: type[Aggregate]) -> AggregateSpec:
        spec = self._aggregate_classes.get(cls)
        if spec is None:
            raise DefinitionError(f"aggregate class {cls.__name__} is not registered")
        return spec

    def event_upcasters(self, name: str) -> Mapping[int, Upcaster]:
        return self._upcasters.get(name, {})

    def snapshot_upcasters(self, name: str) -> Mapping[int, Upcaster]:
        return self._snapshot_upcasters.get(name, {})


def _check_blank(cls: type[Aggregate]) -> None:
    """Loading starts from ``cls.blank(id)``; by default that needs a default for every
    field, which is cheaper to learn at import than at the first load."""
    if cls.blank.__func__ is not Aggregate.blank.__func__:  # type: ignore[attr-defined]
        return
    missing = [f.name for f in _state_fields(cls) if f.default is attrs.NOTHING]
    if missing:
        raise DefinitionError(
            f"{cls.__name__} fields {missing} have no default: give every field a default "
            "(the state before the first event) or override blank()"
        )


DEFAULT_REGISTRY = Registry()
event_type = DEFAULT_REGISTRY.event
aggregate_type = DEFAULT_REGISTRY.aggregate
upcaster = DEFAULT_REGISTRY.upcaster
snapshot_upcaster = DEFAULT_REGISTRY.snapshot_upcaster
