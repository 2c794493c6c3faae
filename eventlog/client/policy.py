"""What a client does with an answer, pure: typed errors for the caller, a redirect or a retry
for the client; which address comes next; how long to pause between attempts.

No I/O and no clock here, so every rule is unit-tested without a node.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import attrs

from eventlog.errors import FrameError, NotLeader, Overloaded, Unavailable
from eventlog.protocol.answers import unpack_error

__all__ = [
    "SUBSCRIPTION_PAUSE",
    "Backoff",
    "Retry",
    "answer",
    "next_address",
]

SUBSCRIPTION_PAUSE = (0.05, 0.3)
"""Seconds (from, to) a failed subscription waits before it resumes at the next address."""


class Retry(Exception):
    """Try again (at ``address`` if given, else elsewhere after a pause) while the deadline
    allows. Internal to the client: callers only ever see the contract's errors."""

    def __init__(self, reason: str, address: str | None = None, *, stay: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.address, self.stay = reason, address, stay
        """``stay``: the node is right but busy; try it again after the pause."""


def answer(kind: str, payload: Any, *, follow_leader: bool) -> Any:
    """The payload of an ``ok`` answer; otherwise raise what the caller or the client must
    handle: a typed error of the contract, or ``Retry`` (with the leader's address when the
    call should follow it)."""
    if kind == "ok":
        return payload
    if kind != "error":
        raise Retry(f"unexpected {kind!r:.20} answer")
    try:
        error = unpack_error(payload)
    except FrameError as malformed:
        raise Retry(malformed.reason) from None
    if isinstance(error, NotLeader):
        raise Retry("not the leader", error.address if follow_leader else None)
    if isinstance(error, Unavailable):
        raise Retry(error.reason)
    if isinstance(error, Overloaded):
        raise Retry(str(error), stay=True)
    raise error


def known_addresses(given: Sequence[str], members: Sequence[str]) -> list[str]:
    """The addresses to try: the members a node of the client's cluster named (so one that
    dies leaves the others), then whatever else the caller gave."""
    valid = [m for m in members if _is_address(m)]
    return [*valid, *[g for g in given if g not in valid]]


def _is_address(text: str) -> bool:
    host, _, port = text.rpartition(":")
    return bool(host) and port.isdigit() and 0 < int(port) < 65536


MIN_ATTEMPT_SECONDS = 1.0
"""The least one attempt gets before a client with other addresses tries the next."""


def attempt_timeout(remaining: float, addresses: int) -> float:
    """How long one attempt may wait for its answer: the whole deadline when there is one
    address, else a share of it, so a node that takes calls and never answers (paused,
    cut off) costs one share and the next address gets the rest."""
    share = remaining if addresses <= 1 else max(MIN_ATTEMPT_SECONDS, remaining / addresses)
    return max(0.001, min(remaining, share))


def next_address(addresses: Sequence[str], current: str) -> str:
    """The address after ``current`` in the list, round and round (the first if it is not
    in the list, as after a redirect to a node the caller did not name)."""
    index = addresses.index(current) if current in addresses else -1
    return addresses[(index + 1) % len(addresses)]


@attrs.define
class Backoff:
    """Full-jitter exponential pauses between attempts of one call, within its deadline."""

    rng: random.Random
    bound: float = 0.02
    cap: float = 0.5

    def pause(self, remaining: float) -> float:
        """Seconds to wait before the next attempt; never past the deadline."""
        delay = min(self.bound, max(0.0, remaining)) * self.rng.random()
        self.bound = min(self.bound * 2, self.cap)
        return delay
