"""What happens to a bank account. Amounts are integer cents."""

from __future__ import annotations

import attrs

from aggregates import DomainEvent, Payload, event_type, upcaster


@event_type("AccountOpened", version=2)
@attrs.frozen
class AccountOpened(DomainEvent):
    owner: str
    currency: str


@upcaster("AccountOpened", 1)
def _opened_before_currencies(payload: Payload) -> Payload:
    """Version 1 had no currency: every account opened then was in euros."""
    return {**payload, "currency": "EUR"}


@event_type("MoneyDeposited")
@attrs.frozen
class MoneyDeposited(DomainEvent):
    amount: int


@event_type("MoneyWithdrawn")
@attrs.frozen
class MoneyWithdrawn(DomainEvent):
    amount: int


@event_type("AccountClosed")
@attrs.frozen
class AccountClosed(DomainEvent):
    pass
