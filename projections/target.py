"""The target port: where a projection writes its read model, together with its checkpoint.

A crash must never skip or double-apply an event, so the read model's writes, the checkpoint
(the position of the last event applied) and the writer's fencing token commit in one
transaction. To bring another store, implement these two protocols:

- ``Target.begin()`` opens a write transaction, holding the store's write lock until it ends,
  and reads what is stored (``Transaction.start``).
- The worker calls the projection's handlers with ``Transaction.handle`` (what the handlers
  write through: a ``sqlite3.Connection``, an ``LmdbWriter``, ...). Under the ``park`` poison
  policy it wraps each handler call in ``Transaction.isolated``, which undoes that call's
  writes if it raises, and parks the event with ``Transaction.park``.
- ``Transaction.commit(checkpoint)`` writes the checkpoint and commits everything at once. It
  must refuse, inside the same transaction, a ``checkpoint.token`` lower than the stored one
  (raise ``Fenced`` and roll back): that is what stops a former owner that lost its lease
  while paused. ``Transaction.rollback()`` undoes everything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

import attrs

H = TypeVar("H", covariant=True)
"""What handlers write through; covariant, since a transaction only hands it out."""


@attrs.frozen(kw_only=True)
class Checkpoint:
    """What a target stores with its read model.

    Invariants: ``position >= 0`` is the position of the last event applied (0: none yet),
    and ``token >= 0`` only grows (0: written without a lease, as a rebuild does)."""

    position: int = attrs.field(validator=attrs.validators.ge(0))
    token: int = attrs.field(validator=attrs.validators.ge(0))


@attrs.frozen(kw_only=True)
class DeadLetter:
    """An event parked under the ``park`` poison policy, and why."""

    position: int
    stream: str
    type: str
    error: str


class Transaction(Protocol[H]):
    """One write transaction of a target; see the module's docstring for the contract."""

    @property
    def start(self) -> Checkpoint:
        """The checkpoint stored when the transaction began."""
        ...

    @property
    def handle(self) -> H:
        """What the projection's handlers write through."""
        ...

    def isolated(self, write: Callable[[H], None]) -> None:
        """Run ``write``; if it raises, undo only its writes and re-raise."""
        ...

    def park(self, letter: DeadLetter) -> None:
        """Record a poison event in the dead-letter table, in this transaction."""
        ...

    def commit(self, checkpoint: Checkpoint) -> None:
        """Write ``checkpoint`` and commit; raise ``Fenced`` (rolled back) if its token is
        lower than the stored one."""
        ...

    def rollback(self) -> None: ...


class Target(Protocol[H]):
    """A read model with its checkpoint, opened at one concrete path (a generation)."""

    def checkpoint(self) -> Checkpoint:
        """What is stored now (``Checkpoint(position=0, token=0)`` for a new target)."""
        ...

    def begin(self) -> Transaction[H]: ...

    def dead_letters(self) -> list[DeadLetter]:
        """The parked events, in position order."""
        ...

    def close(self) -> None: ...
