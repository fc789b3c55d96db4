"""Agents' OAuth tokens at rest: encrypted with Fernet (AES-128-CBC + HMAC-SHA256).

TOKEN_ENCRYPTION_KEYS lists keys newest first. MultiFernet encrypts with the first and
decrypts with any, so a new key can be put in front without signing anyone out; then
`manage.py rotate_token_keys` re-encrypts every stored token with it, after which the old key
can be dropped.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class UndecryptableToken(Exception):
    """A stored token no configured key can read (its key was dropped too early)."""


@cache
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("TOKEN_ENCRYPTION_KEYS is empty: tokens cannot be stored.")
    try:
        return MultiFernet([Fernet(key.strip()) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(
            "TOKEN_ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64 bytes): "
            "make one with `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`."
        ) from error


def fernet() -> MultiFernet:
    """The MultiFernet of the current settings (cached per key list)."""
    return _fernet_for(tuple(settings.TOKEN_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode("ascii")


def decrypt(ciphertext: str) -> str:
    try:
        return fernet().decrypt(ciphertext.encode("ascii")).decode()
    except InvalidToken:
        raise UndecryptableToken("No TOKEN_ENCRYPTION_KEYS key decrypts this token.") from None


def rotate(ciphertext: str) -> str:
    """Re-encrypt with the newest key (readable with any configured key)."""
    try:
        return fernet().rotate(ciphertext.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise UndecryptableToken("No TOKEN_ENCRYPTION_KEYS key decrypts this token.") from None
