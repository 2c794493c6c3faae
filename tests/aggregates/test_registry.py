"""Registration and the start-up check: mistakes in the code fail early, naming what is wrong."""

from __future__ import annotations

import attrs
import pytest

from aggregates import (
    Aggregate,
    DefinitionError,
    DomainEvent,
    Payload,
    Registry,
    Repository,
    UpcasterChainError,
    applies,
)
from eventlog import EmbeddedStore


@attrs.frozen
class Happened(DomainEvent):
    what: str


@attrs.define
class Thing(Aggregate):
    what: str = ""

    @applies(Happened)
    def _happened(self, event: Happened) -> None:
        self.what = event.what


def same(payload: Payload) -> Payload:
    return payload


@pytest.mark.parametrize("name", ["", "with-dash", "$snapshot", "1st", "x" * 201, "a b"])
def test_bad_type_names_are_refused(name: str) -> None:
    with pytest.raises(DefinitionError, match="bad type name"):
        Registry().event(name)


def test_schema_versions_start_at_one() -> None:
    with pytest.raises(DefinitionError, match="schema version"):
        Registry().event("Happened", version=0)


def test_an_event_must_be_an_attrs_domain_event() -> None:
    registry = Registry()

    class NotAnEvent:
        pass

    class Undecorated(DomainEvent):
        pass

    with pytest.raises(DefinitionError, match="not a subclass of DomainEvent"):
        registry.event("A")(NotAnEvent)  # type: ignore[type-var]
    with pytest.raises(DefinitionError, match="not decorated with attrs"):
        registry.event("B")(Undecorated)


def test_a_name_or_a_class_registered_twice_is_refused() -> None:
    registry = Registry()
    registry.event("Happened")(Happened)

    @attrs.frozen
    class Other(DomainEvent):
        pass

    with pytest.raises(DefinitionError, match="registered twice"):
        registry.event("Happened")(Other)
    with pytest.raises(DefinitionError, match="registered twice"):
        registry.event("Again")(Happened)


def test_an_aggregate_needs_defaults_for_a_blank_state_or_its_own_blank() -> None:
    registry = Registry()

    @attrs.define
    class NoDefault(Aggregate):
        name: str

    with pytest.raises(DefinitionError, match=r"\['name'\] have no default"):
        registry.aggregate("NoDefault")(NoDefault)

    @attrs.define
    class OwnBlank(NoDefault):
        @classmethod
        def blank(cls, id: str) -> OwnBlank:
            return cls(id=id, name="")

    assert registry.aggregate("OwnBlank")(OwnBlank) is OwnBlank


def registry_with(version: int, *upcasters_from: int) -> Registry:
    registry = Registry()
    registry.event("Happened", version=version)(Happened)
    registry.aggregate("Thing")(Thing)
    for step in upcasters_from:
        registry.upcaster("Happened", step)(same)
    return registry


def test_a_complete_chain_passes_the_check() -> None:
    registry_with(3, 1, 2).check()
    registry_with(1).check()


@pytest.mark.parametrize(
    ("version", "steps", "at", "reason"),
    [
        (3, (1,), 2, "no upcaster from 2 to 3"),
        (3, (2,), 1, "no upcaster from 1 to 2"),
        (2, (), 1, "no upcaster from 1 to 2"),
        (2, (1, 2), 2, "the current version is 2; nothing to upcast to"),
    ],
)
def test_a_gap_or_an_upcaster_past_the_current_version_fails_the_check(
    version: int, steps: tuple[int, ...], at: int, reason: str
) -> None:
    with pytest.raises(UpcasterChainError) as failed:
        registry_with(version, *steps).check()
    assert (failed.value.type_name, failed.value.version, failed.value.reason) == (
        "Happened",
        at,
        reason,
    )


def test_snapshot_chains_may_start_late_but_not_break() -> None:
    registry = Registry()
    registry.event("Happened")(Happened)
    registry.aggregate("Thing", version=4)(Thing)
    registry.check()
    registry.snapshot_upcaster("Thing", 3)(same)
    registry.check()
    registry.snapshot_upcaster("Thing", 1)(same)
    with pytest.raises(UpcasterChainError, match="no upcaster from 2 to 3"):
        registry.check()


def test_upcasters_for_unknown_types_and_duplicate_upcasters_are_refused() -> None:
    registry = registry_with(1)
    registry.upcaster("Unheard", 1)(same)
    with pytest.raises(DefinitionError, match="unregistered type 'Unheard'"):
        registry.check()
    with pytest.raises(DefinitionError, match="two event upcasters"):
        registry.upcaster("Unheard", 1)(same)


def test_an_aggregate_handling_an_unregistered_event_fails_the_check() -> None:
    registry = Registry()
    registry.aggregate("Thing")(Thing)
    with pytest.raises(DefinitionError, match="handles Happened, which is not registered"):
        registry.check()


def test_a_repository_checks_its_registry_when_it_is_built(store: EmbeddedStore) -> None:
    with pytest.raises(UpcasterChainError):
        Repository(store, registry=registry_with(2))


def test_an_unregistered_aggregate_cannot_be_loaded(store: EmbeddedStore) -> None:
    with pytest.raises(DefinitionError, match="Thing is not registered"):
        Repository(store, registry=Registry()).get(Thing, "x")


class Opaque:
    pass


@attrs.frozen
class Holding(DomainEvent):
    thing: Opaque


def test_a_field_type_the_codec_cannot_decode_fails_at_start_up(store: EmbeddedStore) -> None:
    registry = Registry()
    registry.event("Holding")(Holding)
    with pytest.raises(DefinitionError, match="Holding cannot be decoded: Unsupported type"):
        Repository(store, registry=registry)
