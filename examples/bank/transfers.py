"""The ``Transfer`` aggregate: a transfer between two accounts as a process of its own steps,
each recorded, which the ``TransferSaga`` drives (``examples.bank.saga``). A transfer moves
from requested to debited to completed, or ends failed (nothing was taken) or compensated
(what was taken was given back); each step is taken once, from the step before it."""

from __future__ import annotations

import attrs

from aggregates import Aggregate, DomainError, DomainEvent, aggregate_type, applies, event_type


@event_type("TransferRequested")
@attrs.frozen
class TransferRequested(DomainEvent):
    source: str
    target: str
    amount: int


@event_type("TransferDebited")
@attrs.frozen
class TransferDebited(DomainEvent):
    pass


@event_type("TransferCompleted")
@attrs.frozen
class TransferCompleted(DomainEvent):
    pass


@event_type("TransferFailed")
@attrs.frozen
class TransferFailed(DomainEvent):
    reason: str


@event_type("TransferCompensated")
@attrs.frozen
class TransferCompensated(DomainEvent):
    reason: str


class TransferStepRefused(DomainError):
    def __init__(self, transfer_id: str, status: str, step: str) -> None:
        self.transfer_id, self.status, self.step = transfer_id, status, step
        super().__init__(f"transfer {transfer_id!r} is {status}: it cannot be {step}")


ENDED = ("completed", "failed", "compensated")
"""The statuses a transfer ends in."""


@aggregate_type("Transfer")
@attrs.define
class Transfer(Aggregate):
    source: str = ""
    target: str = ""
    amount: int = 0
    status: str = ""
    reason: str = ""

    @classmethod
    def request(cls, source: str, target: str, amount: int, *, id: str | None = None) -> Transfer:
        return cls.start(TransferRequested(source=source, target=target, amount=amount), id=id)

    def debit(self) -> None:
        self._step("requested", "debited")
        self.trigger(TransferDebited())

    def complete(self) -> None:
        self._step("debited", "completed")
        self.trigger(TransferCompleted())

    def fail(self, reason: str) -> None:
        self._step("requested", "failed")
        self.trigger(TransferFailed(reason=reason))

    def compensate(self, reason: str) -> None:
        self._step("debited", "compensated")
        self.trigger(TransferCompensated(reason=reason))

    def _step(self, expected: str, step: str) -> None:
        if self.status != expected:
            raise TransferStepRefused(self.id, self.status, step)

    @applies(TransferRequested)
    def _requested(self, event: TransferRequested) -> None:
        self.source, self.target, self.amount = event.source, event.target, event.amount
        self.status = "requested"

    @applies(TransferDebited)
    def _debited(self, event: TransferDebited) -> None:
        self.status = "debited"

    @applies(TransferCompleted)
    def _completed(self, event: TransferCompleted) -> None:
        self.status = "completed"

    @applies(TransferFailed)
    def _failed(self, event: TransferFailed) -> None:
        self.status, self.reason = "failed", event.reason

    @applies(TransferCompensated)
    def _compensated(self, event: TransferCompensated) -> None:
        self.status, self.reason = "compensated", event.reason
