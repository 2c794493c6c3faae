"""Upcaster chains: functions that turn the payload of schema version N of a type into N+1.

A chain is keyed by (type name, N) and always goes to N+1 of the same type, so it cannot
loop: the shape rules out cycles, and ``check_chain`` catches the mistakes that remain, a gap
(N+1 missing between N and the current version), an upcaster from the current version or past
it, and upcasters for a type nobody registered. Upcasters work on the decoded primitives
(dicts, lists, strings, numbers) before they are structured into the class.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from aggregates.errors import UpcasterChainError

Payload = dict[str, Any]
"""Decoded fields of one stored event or snapshot, before structuring into its class."""
Upcaster = Callable[[Payload], Payload]


def check_chain(
    kind: str, name: str, current: int, versions: Collection[int], *, from_first: bool
) -> None:
    """Event chains must cover 1..current-1 (every old event loads). Snapshot chains may
    start later (older snapshots are ignored) but must run unbroken to current-1."""
    for version in sorted(versions):
        if version >= current:
            raise UpcasterChainError(
                kind, name, version, f"the current version is {current}; nothing to upcast to"
            )
    if not versions and not from_first:
        return
    first = 1 if from_first else min(versions)
    for version in range(first, current):
        if version not in versions:
            raise UpcasterChainError(
                kind, name, version, f"no upcaster from {version} to {version + 1}"
            )


def can_upcast(upcasters: Mapping[int, Upcaster], version: int, current: int) -> bool:
    return all(v in upcasters for v in range(version, current))


def upcast(
    upcasters: Mapping[int, Upcaster], version: int, current: int, payload: Payload
) -> Payload:
    """Run the chain from ``version`` to ``current``; each step must return a dict."""
    for step in range(version, current):
        payload = upcasters[step](payload)
        if not isinstance(payload, dict):
            raise TypeError(f"the upcaster from {step} returned {type(payload).__name__}")
    return payload
