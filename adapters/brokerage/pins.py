"""Salted slow hashes for trading and fund PINs. A PIN is never stored, logged or returned.

Format: `pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>`, so the cost can rise later
without a migration. Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 200_000
_DUMMY = f"{ALGORITHM}${ITERATIONS}${'00' * 16}${'00' * 32}"


def _derive(pin: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", pin.encode("utf-8"), salt, iterations)


def hash_pin(pin: str) -> str:
    salt = secrets.token_bytes(16)
    return f"{ALGORITHM}${ITERATIONS}${salt.hex()}${_derive(pin, salt, ITERATIONS).hex()}"


def verify_pin(pin: str, stored: str | None) -> bool:
    """True when `pin` matches `stored`. With no stored hash (unknown account) the same work
    is done against a dummy, so timing does not reveal which accounts exist."""
    algorithm, iterations, salt, expected = (stored or _DUMMY).split("$")
    if algorithm != ALGORITHM:
        raise ValueError(f"unknown PIN hash algorithm {algorithm!r}")
    actual = _derive(pin, bytes.fromhex(salt), int(iterations))
    return hmac.compare_digest(actual, bytes.fromhex(expected)) and stored is not None
