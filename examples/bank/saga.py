"""``TransferSaga``: moves the money of each requested ``Transfer`` in two steps, each one
atomic with the saga's tracking record: take it from the source (or fail the transfer, if
the source refuses), then give it to the target (or, if the target refuses, give it back to
the source: the compensation). Money is never created or lost, whatever crashes when. Each
reaction happens once: one run again would find its step taken (``TransferStepRefused``)
and stop the saga, which the tracking record rules out::

    eventraft project --cluster HOST:PORT examples.bank.saga:TransferSaga
"""

from __future__ import annotations

from aggregates import AggregateNotFound, DomainError, Envelope
from examples.bank.account import Account
from examples.bank.transfers import Transfer, TransferDebited, TransferRequested
from projections import ProcessManager, Unit, handles


def _transfer_id(at: Envelope) -> str:
    return at.stream.partition("-")[2]


class TransferSaga(ProcessManager):
    name = "transfer-saga"
    streams = ("Transfer-",)

    @handles(TransferRequested)
    def requested(self, unit: Unit, event: TransferRequested, at: Envelope) -> None:
        transfer = unit.get(Transfer, _transfer_id(at))
        try:
            unit.get(Account, event.source).withdraw(event.amount)
        except (DomainError, AggregateNotFound) as refused:
            transfer.fail(str(refused))
            return
        transfer.debit()

    @handles(TransferDebited)
    def debited(self, unit: Unit, event: TransferDebited, at: Envelope) -> None:
        transfer = unit.get(Transfer, _transfer_id(at))
        try:
            unit.get(Account, transfer.target).deposit(transfer.amount)
        except (DomainError, AggregateNotFound) as refused:
            unit.get(Account, transfer.source).deposit(transfer.amount)
            transfer.compensate(str(refused))
            return
        transfer.complete()
