"""What the simulated clients ask of the event store: real request batches, as a node's leader
builds them, so every node applies the real state machine.

Appends go to a few streams with any, no-stream or guessed expected versions (some guesses are
wrong, and must be refused alike on every node), some span two streams atomically, some are
retries of an earlier request with the same id (which must never append twice), some carry a
consumer's tracking record (some at a position it holds already, to be refused alike; some
alone, with no stream), and some take, renew or release leases. Everything is drawn from the
run's seeded RNG.
"""

from __future__ import annotations

import random

import attrs

from eventlog.protocol.requests import (
    KIND_ACCESS,
    KIND_APPEND,
    KIND_LEASE,
    LEASE_ACQUIRE,
    LEASE_RELEASE,
    REQUEST_ID_BYTES,
)
from eventlog.records import ANY, NO_STREAM
from eventlog.state.batch import batch_of

__all__ = [
    "CONSUMERS",
    "EPOCH_MS",
    "LEASES",
    "OWNERS",
    "STREAMS",
    "Request",
    "Workload",
]

STREAMS = ("account-1", "account-2", "account-3", "order-1")
LEASES = ("projection:a", "projection:b")
OWNERS = ("worker-1", "worker-2")
CONSUMERS = ("saga-a", "saga-b")
USERS = ("admin", "ann", "bob")
ROLES = ("admin", "reader", "clerk", "auditor")
PERMISSIONS = (["read", "account-"], ["write", "order-"], ["lease", "projection:"])
HASH = "scrypt$10$8$1$" + "A" * 22 + "$" + "A" * 43
"""A password hash of the right form: the state machine stores hashes, it never checks them."""
EPOCH_MS = 1_700_000_000_000
"""Virtual time 0 as a wall clock, so batch timestamps look like a leader's (give or take the
skew of its node's wall clock)."""
Request = list[object]


@attrs.define
class Workload:
    rng: random.Random
    sent: list[Request] = attrs.field(factory=list)
    """Every request sent, so a later batch can retry one with its id."""
    guesses: dict[str, int] = attrs.field(factory=dict)
    """The version a client believes each stream has: right often, wrong sometimes."""
    tracked: dict[str, int] = attrs.field(factory=dict)
    """The position each consumer last sent in a tracking record."""

    def batch(self, timestamp_ms: int, clock_ms: int) -> bytes:
        """One entry's data: one to three requests, stamped as the leader stamps it (its wall
        clock, the cluster's clock). The first is always new, so no two batches are the same
        bytes."""
        requests = [self._fresh()]
        requests += [self._request() for _ in range(self.rng.choice((0, 0, 1, 2)))]
        return batch_of(timestamp_ms, clock_ms, requests)

    def _request(self) -> Request:
        if self.sent and self.rng.random() < 0.15:
            return self.rng.choice(self.sent)  # a retry: same id, same body
        return self._fresh()

    def _fresh(self) -> Request:
        roll = self.rng.random()
        request = self._lease() if roll < 0.1 else self._access() if roll < 0.13 else self._append()
        self.sent.append(request)
        return request

    def _append(self) -> Request:
        roll = self.rng.random()
        streams = [] if roll < 0.03 else self.rng.sample(STREAMS, self.rng.choice((1, 1, 1, 2)))
        body = [
            [stream, self._expected(stream), [["Happened", self._data(), b""]] * self._count()]
            for stream in streams
        ]
        if roll < 0.2:  # a reaction: its consumer's tracking record goes with it
            return [KIND_APPEND, self._id(), body, self._tracking()]
        return [KIND_APPEND, self._id(), body]

    def _tracking(self) -> list[object]:
        consumer = self.rng.choice(CONSUMERS)
        position = max(0, self.tracked.get(consumer, 0) + self.rng.choice((-1, 0, 1, 1, 2)))
        self.tracked[consumer] = position
        return [consumer, position]

    def _expected(self, stream: str) -> int:
        roll = self.rng.random()
        if roll < 0.6:
            return ANY
        if roll < 0.7:
            return NO_STREAM
        guess = self.guesses.get(stream, 0) + self.rng.choice((0, 1, 1, 2))
        self.guesses[stream] = guess
        return guess

    def _lease(self) -> Request:
        name, owner = self.rng.choice(LEASES), self.rng.choice(OWNERS)
        if self.rng.random() < 0.2:
            return [KIND_LEASE, self._id(), [LEASE_RELEASE, name, owner, 1, self.rng.randint(0, 5)]]
        ttl_ms = self.rng.choice((50, 200, 1000))
        return [KIND_LEASE, self._id(), [LEASE_ACQUIRE, name, owner, ttl_ms, self._count()]]

    def _access(self) -> Request:
        """A change of users or roles, many of them refused (a user that exists, a role that
        does not, the last admin removed): every node must refuse alike."""
        op = self.rng.choice(
            ("init", "user_add", "user_remove", "user_passwd", "user_grant", "user_revoke",
             "role_add", "role_remove", "role_grant", "role_revoke")
        )  # fmt: skip
        user, role, permission = (
            self.rng.choice(USERS),
            self.rng.choice(ROLES),
            self.rng.choice(PERMISSIONS),
        )
        bodies: dict[str, list[object]] = {
            "init": ["init", "admin", HASH],
            "user_add": ["user_add", user, [HASH, [role]]],
            "user_remove": ["user_remove", user, None],
            "user_passwd": ["user_passwd", user, HASH],
            "user_grant": ["user_grant", user, role],
            "user_revoke": ["user_revoke", user, role],
            "role_add": ["role_add", role, [permission]],
            "role_remove": ["role_remove", role, None],
            "role_grant": ["role_grant", role, permission],
            "role_revoke": ["role_revoke", role, permission],
        }
        return [KIND_ACCESS, self._id(), bodies[op]]

    def _count(self) -> int:
        return self.rng.choice((1, 1, 2, 3))

    def _data(self) -> bytes:
        return self.rng.randbytes(self.rng.choice((0, 8, 40)))

    def _id(self) -> bytes:
        return self.rng.randbytes(REQUEST_ID_BYTES)
