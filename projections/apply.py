"""Applying one batch of events to a target: every handler's writes and the new checkpoint in
one transaction, under the worker's fencing token and poison policy.

Runs in the target's thread (it blocks on the target's I/O). A batch either commits whole,
with the checkpoint at the last position it covers, or not at all, so a crash at any instant
leaves the read model exactly at its checkpoint.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from typing import TypeVar

import attrs

from aggregates import DecodeError
from eventlog import RecordedEvent
from projections.errors import CheckpointMoved, Fenced, LeaseLost, PoisonEvent, TargetError
from projections.feed import Batch
from projections.projection import Projection, Router
from projections.target import Checkpoint, DeadLetter, Target, Transaction

H = TypeVar("H")


class PoisonPolicy(enum.Enum):
    """What a worker does with an event it cannot apply."""

    STOP = "stop"
    """Stop with ``PoisonEvent``, the checkpoint just before the event (the default)."""
    PARK = "park"
    """Undo the event's writes, record it in the target's dead-letter table, go on."""


@attrs.frozen(kw_only=True)
class BatchResult:
    checkpoint: Checkpoint
    handled: int
    """Events that had a handler (the others were passed over)."""
    parked: tuple[PoisonEvent, ...] = ()


def claim(target: Target[H], projection: Projection[H], token: int) -> Checkpoint:
    """Take a target over with ``token``: run the projection's ``setup`` and store the token,
    so from now on any holder of a lower token is refused. Returns the stored checkpoint."""
    txn = target.begin()
    try:
        if txn.start.token > token:
            raise Fenced(projection.name, token, txn.start.token)
        projection.setup(txn.handle)
        checkpoint = Checkpoint(position=txn.start.position, token=token)
        txn.commit(checkpoint)
    except BaseException:
        txn.rollback()
        raise
    return checkpoint


def apply_batch(
    target: Target[H],
    router: Router[H],
    batch: Batch,
    *,
    token: int,
    policy: PoisonPolicy,
    still_owner: Callable[[], bool] = lambda: True,
) -> BatchResult:
    """Apply ``batch`` (its stretch of the log follows the stored checkpoint) in one
    transaction, with the checkpoint at the end of the stretch.

    Under the stop policy a poison event raises ``PoisonEvent`` after what came before it was
    committed, so the checkpoint is just before the poison. ``still_owner`` is asked just
    before the commit; if it says no, nothing is committed (``LeaseLost``)."""
    try:
        return _apply_once(target, router, batch, token, policy, still_owner)
    except PoisonEvent as poison:
        if poison.position > batch.first:
            before = [event for event in batch.events if event.position < poison.position]
            stretch = Batch(before, batch.first, poison.position - 1)
            _apply_once(target, router, stretch, token, policy, still_owner)
        raise


def _apply_once(
    target: Target[H],
    router: Router[H],
    batch: Batch,
    token: int,
    policy: PoisonPolicy,
    still_owner: Callable[[], bool],
) -> BatchResult:
    name = router.projection.name
    txn = target.begin()
    try:
        if txn.start.token > token:
            raise Fenced(name, token, txn.start.token)
        if txn.start.position != batch.first - 1:
            raise CheckpointMoved(name, batch.first - 1, txn.start.position)
        handled, parked = _run(txn, router, batch.events, policy)
        if not still_owner():
            raise LeaseLost(name, "the lease was not renewed in time; nothing committed")
        checkpoint = Checkpoint(position=batch.last, token=token)
        txn.commit(checkpoint)
    except BaseException:
        txn.rollback()
        raise
    return BatchResult(checkpoint=checkpoint, handled=handled, parked=tuple(parked))


def _run(
    txn: Transaction[H],
    router: Router[H],
    events: list[RecordedEvent],
    policy: PoisonPolicy,
) -> tuple[int, list[PoisonEvent]]:
    handled, parked = 0, []
    handle = txn.handle
    for event in events:
        if not router.handles(event.type):
            continue
        handled += 1
        try:
            if policy is PoisonPolicy.PARK:
                txn.isolated(functools.partial(_apply_to, router, event))
            else:
                router.apply(handle, event)
        except TargetError:
            raise
        except Exception as error:
            poison = poison_of(router.projection.name, event, error)
            if policy is PoisonPolicy.STOP:
                raise poison from error
            txn.park(
                DeadLetter(
                    position=event.position,
                    stream=event.stream,
                    type=event.type,
                    error=poison.reason,
                )
            )
            parked.append(poison)
    return handled, parked


def _apply_to(router: Router[H], event: RecordedEvent, handle: H) -> None:
    router.apply(handle, event)


def poison_of(projection: str, event: RecordedEvent, error: Exception) -> PoisonEvent:
    reason = error.reason if isinstance(error, DecodeError) else f"{type(error).__name__}: {error}"
    return PoisonEvent(projection, event.position, event.stream, event.type, reason)
