"""``ProcessManager``: a projection whose read model is the log itself. Its handlers react to
events by running commands on aggregates (and appending events of their own) through a
``Unit``, which the worker saves in one atomic append together with the manager's tracking
record, so each reaction lands exactly once, whatever crashes::

    class Transfers(ProcessManager):
        name = "transfers"

        @handles(TransferRequested)
        def requested(self, unit: Unit, event: TransferRequested, at: Envelope) -> None:
            payer = unit.get(Account, event.source)
            payer.withdraw(event.amount)
            unit.get(Transfer, at.aggregate_id).debited()

A handler runs again, from a fresh ``Unit``, when a save meets a concurrent one
(``ConcurrencyError``); one that writes nothing leaves no record of its own, so after a crash
it may run again (the next record moves past it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TypeVar

import attrs

from aggregates import Aggregate, Repository, SaveResult
from eventlog import ANY, NewEvent, Tracking
from projections.projection import Projection

A = TypeVar("A", bound=Aggregate)

DEAD_LETTER_PREFIX = "$dead-letters-"
"""A manager parks the events it cannot react to in the stream of this prefix and its name
(``--on-poison park``), one ``ReactionFailed`` event each."""


def dead_letter_stream(manager: str) -> str:
    return f"{DEAD_LETTER_PREFIX}{manager}"


def dead_letter(position: int, stream: str, type: str, error: str) -> NewEvent:
    """What a parked reaction leaves: the event's position, stream and type, and why."""
    body = {"position": position, "stream": stream, "type": type, "error": error}
    return NewEvent("ReactionFailed", json.dumps(body, sort_keys=True).encode())


@attrs.define
class Unit:
    """What one reaction does: the aggregates it loads and changes (or creates: ``add``) and
    the raw events it appends, saved together, with the tracking record, by the worker."""

    repository: Repository
    _loaded: dict[tuple[type[Aggregate], str], Aggregate] = attrs.field(factory=dict)
    _added: list[Aggregate] = attrs.field(factory=list)
    _appends: list[tuple[str, list[NewEvent], int]] = attrs.field(factory=list)

    def get(self, cls: type[A], aggregate_id: str) -> A:
        """The aggregate as of now (``AggregateNotFound`` if there is none), loaded once per
        unit: a second ``get`` returns the same object, with the changes made to it."""
        key = (cls, aggregate_id)
        found = self._loaded.get(key)
        if found is None:
            found = self._loaded[key] = self.repository.get(cls, aggregate_id)
        assert isinstance(found, cls)
        return found

    def add(self, aggregate: Aggregate) -> None:
        """Save a new aggregate (one made by its class's creation command) with the rest."""
        self._added.append(aggregate)

    def append(self, stream: str, events: Iterable[NewEvent], expected_version: int = ANY) -> None:
        """Append raw events with the rest (a message for another system, say)."""
        self._appends.append((stream, list(events), expected_version))

    @property
    def writes(self) -> bool:
        return bool(self._appends) or any(
            aggregate.pending_events for aggregate in self._aggregates()
        )

    def save(self, tracking: Tracking) -> SaveResult:
        return self.repository.save(*self._aggregates(), tracking=tracking, appends=self._appends)

    def _aggregates(self) -> list[Aggregate]:
        return [*self._loaded.values(), *self._added]


class ProcessManager(Projection[Unit]):
    """Base of process managers (sagas). Set ``name`` (stable: it names the lease and the
    tracking record), declare handlers with ``@handles``: ``handler(self, unit, event, at)``.
    ``eventraft project MODULE:CLASS`` runs one, with no ``--target``: it writes to the log.
    The events a handler triggers are caused by the event it handles (their metadata's
    ``causation_id``) and carry on its ``correlation_id``, so a saga's steps trace back."""

    reacts = True
