"""Passwords are kept as salted scrypt hashes, checked in constant time, and nothing
malformed is ever taken for a match."""

from __future__ import annotations

import pytest

from eventlog.security.passwords import MAX_PASSWORD_BYTES, hash_password, verify_password

FAST = (10, 8, 1)  # the tests' cost: the same code, a thousandth of the work


def test_a_password_matches_its_hash_and_nothing_else() -> None:
    stored = hash_password("correct horse", cost=FAST)
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horse ", stored)
    assert not verify_password("", stored)
    assert "correct horse" not in stored


def test_each_hash_has_its_own_salt() -> None:
    first, second = (hash_password("same", cost=FAST) for _ in range(2))
    assert first != second
    assert verify_password("same", first) and verify_password("same", second)


def test_the_default_cost_is_the_one_stored_and_used() -> None:
    stored = hash_password("pw")
    assert stored.split("$")[:4] == ["scrypt", "15", "8", "1"]
    assert verify_password("pw", stored)


@pytest.mark.parametrize(
    "stored",
    ["", "plain", "scrypt$10$8$1$AAAA", "bcrypt$10$8$1$AAAA$BBBB", "scrypt$99$8$1$AAAA$BBBB",
     "scrypt$x$8$1$AAAA$BBBB", "scrypt$10$8$1$!!$BBBB"],
)  # fmt: skip
def test_a_malformed_hash_matches_no_password(stored: str) -> None:
    assert not verify_password("anything", stored)


@pytest.mark.parametrize("password", ["", "x" * (MAX_PASSWORD_BYTES + 1)])
def test_an_empty_or_huge_password_is_refused(password: str) -> None:
    with pytest.raises(ValueError, match="password"):
        hash_password(password, cost=FAST)
