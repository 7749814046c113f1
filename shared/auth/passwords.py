"""Password hashing with argon2id (the library's current recommended parameters)."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from shared.config import get_settings


@lru_cache(maxsize=2)
def _hasher_for(env: str) -> PasswordHasher:
    # The test suite hashes hundreds of passwords; the cheapest profile keeps it fast.
    # Everywhere else the library's recommended (deliberately slow) parameters apply.
    if env == "test":
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    return PasswordHasher()


def _hasher() -> PasswordHasher:
    return _hasher_for(get_settings().env)


def hash_password(password: str) -> str:
    """An argon2id hash with its own salt and parameters encoded in it."""
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches; a garbled or foreign hash is simply ``False``."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's (rehash at next login)."""
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
