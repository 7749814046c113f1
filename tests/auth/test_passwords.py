from __future__ import annotations

from argon2 import PasswordHasher

from shared.auth.passwords import hash_password, needs_rehash, verify_password


def test_hash_verifies_only_the_right_password() -> None:
    stored = hash_password("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse battery staple")
    assert not verify_password(stored, "correct horse battery stapl")
    assert hash_password("same") != hash_password("same")  # salted


def test_garbled_hash_is_false_not_an_error() -> None:
    assert not verify_password("not-a-hash", "pw")
    assert needs_rehash("not-a-hash")


def test_weaker_parameters_need_rehash() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("pw")
    assert verify_password(weak, "pw")
    assert needs_rehash(weak)
    assert not needs_rehash(hash_password("pw"))
