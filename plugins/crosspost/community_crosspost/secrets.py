"""Secrets at rest: access tokens, app passwords and webhook URLs are stored encrypted.

The key is derived from the instance's secret key with HKDF-SHA256, so the database alone
never reveals a secret. Changing the instance's secret key makes stored secrets unreadable:
``unseal`` then raises ``SecretError`` and the admin enters them again. ``hint`` is the only
trace of a secret that the UI and the API may show.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

INFO = b"community-crosspost secrets v1"
# A fixed salt is enough: the secret key is already random, the salt only separates uses.
SALT = b"community-crosspost/secrets"
MASK = "••••"
HINT_MIN_LENGTH = 12


class SecretError(ValueError):
    """A stored secret cannot be read back."""


def _fernet(secret_key: str) -> Fernet:
    """Build the cipher from the instance's secret key."""
    if not secret_key:
        raise SecretError("the instance's secret key is empty")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=INFO)
    key = hkdf.derive(secret_key.encode("utf-8"))
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret_key: str, plaintext: str) -> str:
    """Encrypt a secret for storage; the result differs on every call."""
    return _fernet(secret_key).encrypt(plaintext.encode("utf-8")).decode("ascii")


def unseal(secret_key: str, sealed: str) -> str:
    """Decrypt a stored secret, or raise SecretError when the key changed or the data is bad."""
    fernet = _fernet(secret_key)
    try:
        return fernet.decrypt(sealed).decode("utf-8")
    except (InvalidToken, ValueError, TypeError) as exc:
        raise SecretError(
            "cannot decrypt the stored secret: the instance's secret key changed "
            "or the stored value is corrupt; enter the secret again"
        ) from exc


def hint(plaintext: str) -> str:
    """What the UI may show of a secret: the last 4 characters of a long one, else nothing."""
    if len(plaintext) >= HINT_MIN_LENGTH:
        return MASK + plaintext[-4:]
    return MASK
