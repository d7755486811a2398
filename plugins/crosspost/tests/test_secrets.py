"""Secrets are encrypted at rest and only a hint of them is ever shown."""

from __future__ import annotations

import base64

import pytest
from community_crosspost.secrets import SecretError, hint, seal, unseal

KEY = "instance-secret-key-0123456789"
TOKEN = "mastodon-access-token-s3cr3t-XYZW"


def test_round_trip() -> None:
    assert unseal(KEY, seal(KEY, TOKEN)) == TOKEN


def test_round_trip_unicode_and_empty() -> None:
    assert unseal(KEY, seal(KEY, "pässwörd ✓")) == "pässwörd ✓"
    assert unseal(KEY, seal(KEY, "")) == ""


def test_different_key_fails() -> None:
    sealed = seal(KEY, TOKEN)
    with pytest.raises(SecretError, match="secret key changed"):
        unseal("another-instance-secret-key", sealed)


def test_secret_error_is_a_value_error() -> None:
    assert issubclass(SecretError, ValueError)


@pytest.mark.parametrize("sealed", ["", "not a token", "gAAAAABcorrupt", "é"])
def test_corrupt_data_fails(sealed: str) -> None:
    with pytest.raises(SecretError):
        unseal(KEY, sealed)


def test_tampered_ciphertext_fails() -> None:
    sealed = seal(KEY, TOKEN)
    raw = bytearray(base64.urlsafe_b64decode(sealed))
    raw[40] ^= 1
    with pytest.raises(SecretError):
        unseal(KEY, base64.urlsafe_b64encode(bytes(raw)).decode())


def test_empty_instance_key_is_refused() -> None:
    with pytest.raises(SecretError, match="secret key is empty"):
        seal("", TOKEN)


def test_ciphertext_differs_each_time() -> None:
    assert seal(KEY, TOKEN) != seal(KEY, TOKEN)


def test_nothing_of_the_plaintext_in_the_sealed_text() -> None:
    url = "https://discord.com/api/webhooks/123456/abcdefTOKENghijkl"
    sealed = seal(KEY, url)
    for part in ("discord", "webhooks", "123456", "TOKEN", "abcdef", "ghijkl"):
        assert part not in sealed
    assert base64.urlsafe_b64encode(url.encode()).decode()[:12] not in sealed
    assert base64.b64encode(url.encode()).decode()[:12] not in sealed


def test_hint_of_a_long_secret_shows_the_last_four() -> None:
    assert hint(TOKEN) == "••••XYZW"
    assert hint("123456789012") == "••••9012"


def test_hint_of_a_short_secret_shows_nothing() -> None:
    assert hint("12345678901") == "••••"
    assert hint("abc") == "••••"
    assert hint("") == "••••"
