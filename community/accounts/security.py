"""Secrets: argon2id password hashes (off the event loop) and hashed random tokens."""

from __future__ import annotations

import hashlib
import secrets

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
_DUMMY_HASH: str | None = None
"""Verified against when the username is unknown, so timing does not reveal which names exist;
made at the first sign-in (at import it cost every process and command 0.16 s and 64 MB)."""

TOKEN_BYTES = 24
"""192 random bits in every invite and API token."""


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    def verify() -> bool:
        global _DUMMY_HASH
        if _DUMMY_HASH is None:
            _DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(verify)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_token(prefix: str = "") -> tuple[str, str]:
    """A fresh token and the hash to store in its place."""
    token = prefix + secrets.token_urlsafe(TOKEN_BYTES)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    # The tokens carry 192 random bits, so a plain SHA-256 is safe; no salt or stretching needed.
    return hashlib.sha256(token.encode()).hexdigest()
