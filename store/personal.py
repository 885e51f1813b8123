"""Personal data (phone numbers, names, message texts) passes through one column type.

Keeping every personal field behind `PersonalText` means encryption at rest is a change
to this module alone: values are encrypted when bound and decrypted when read, so a copied
database file, a leaked dump or a backup shows ciphertext only. Lookups never use the plain
number: `lookup_key` is a keyed hash, so an index on it reveals nothing without the key.

Two keys come from the one operator secret DDA_ENCRYPTION_KEY, through HKDF-SHA256 with
different `info` strings: one encrypts, the other keys the lookup hash. The secret itself
is never used directly, so no key serves two purposes, and knowing a lookup hash (or its
key) says nothing about the encryption key.

Why Fernet rather than raw AES-GCM: Fernet is an authenticated scheme (AES-CBC with
HMAC-SHA256, a fresh random IV per value) with nothing to get wrong — no nonce to manage,
no encoding to invent — and its tokens are URL-safe base64 text that fits the existing Text
columns unchanged. `MultiFernet` decrypts with any of several keys and re-encrypts under the
first, which is exactly what a key rotation without downtime needs. The cost (about 100
bytes and a few microseconds per value) does not matter at this service's scale.

The keyring is module-level because SQLAlchemy type objects are shared by every engine and
built at import; `Runtime.__init__` calls `configure` before anything touches the database.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

# Public, fixed: HKDF's salt separates our keys from anything else derived from the same
# secret; the info strings separate the two keys from each other. Changing any of them
# changes every key, so they are versioned rather than edited.
_SALT = b"direct-digital-aid/personal-data"
_ENCRYPTION_INFO = b"dda personal-text fernet v1"
_LOOKUP_INFO = b"dda phone lookup hmac-sha256 v1"

# Every Fernet token starts with the version byte 0x80 and a timestamp whose high bytes are
# zero, so in base64 with this prefix. Values without it were written before encryption at
# rest existed (see `decrypt`).
TOKEN_PREFIX = "gAAAAA"


class KeyringError(RuntimeError):
    """Personal data was read or written before `configure`, or with a key that cannot open it."""


@lru_cache(maxsize=16)
def _derive(secret: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info).derive(secret.encode())


def _fernet(secret: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derive(secret, _ENCRYPTION_INFO)))


@dataclass(frozen=True)
class Keyring:
    """The current secret (encrypts, keys new lookup hashes) and the previous ones (still
    decrypt and still find people, while `flask privacy rotate-key` moves data over)."""

    current: str
    previous: tuple[str, ...]
    fernet: MultiFernet
    current_fernet: Fernet

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.current, *self.previous)


_keyring: Keyring | None = None


def configure(current: str, previous: tuple[str, ...] | list[str] = ()) -> Keyring:
    """Install the keys for this process. Called by Runtime.__init__ (and by the tests)."""
    global _keyring
    if not current:
        raise KeyringError("no encryption key: set DDA_ENCRYPTION_KEY")
    previous = tuple(dict.fromkeys(key for key in previous if key and key != current))
    fernets = [_fernet(key) for key in (current, *previous)]
    _keyring = Keyring(current, previous, MultiFernet(fernets), fernets[0])
    return _keyring


def keyring() -> Keyring:
    if _keyring is None:
        raise KeyringError("personal data used before store.personal.configure() was called")
    return _keyring


def encrypt(value: str) -> str:
    return keyring().fernet.encrypt(value.encode()).decode("ascii")


def is_encrypted(stored: str) -> bool:
    return stored.startswith(TOKEN_PREFIX)


def is_current(stored: str) -> bool:
    """Whether a stored value is already encrypted under the current key (rotation skips it)."""
    if not is_encrypted(stored):
        return False
    try:
        keyring().current_fernet.decrypt(stored.encode("ascii"))
    except InvalidToken:
        return False
    return True


def decrypt(stored: str) -> str:
    """The plain text of a stored value.

    A value that is not a Fernet token was stored before encryption at rest and is returned
    as it is, so an existing database keeps working until `flask privacy rotate-key`
    encrypts it. A token that no configured key opens is an error, never returned as is:
    that means a wrong or missing key (or tampering), and guessing would be worse.
    """
    if not is_encrypted(stored):
        return stored
    try:
        return keyring().fernet.decrypt(stored.encode("ascii")).decode()
    except InvalidToken:
        raise KeyringError("a personal value cannot be decrypted with DDA_ENCRYPTION_KEY or "
                           "DDA_PREVIOUS_ENCRYPTION_KEYS (wrong key, or a value was altered)") from None


def reencrypt(stored: str) -> str:
    """The value encrypted under the current key, whatever key (or none) it had before."""
    if not is_encrypted(stored):
        return encrypt(stored)
    try:
        return keyring().fernet.rotate(stored.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise KeyringError("a personal value cannot be decrypted with DDA_ENCRYPTION_KEY or "
                           "DDA_PREVIOUS_ENCRYPTION_KEYS (wrong key, or a value was altered)") from None


class Personal(str):
    """A decrypted personal value: the text itself everywhere except in repr(), which is what
    SQLAlchemy's DEBUG row logging prints (and "%r" in a log line, and a traceback's locals).
    Logs are copied to places the database key never goes, so they must not carry the text."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<personal>'"


class PersonalText(TypeDecorator):
    """Text that identifies or describes a person; stored encrypted (Fernet token text) and
    read back as `Personal`."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(str(value))

    def process_result_value(self, value, dialect):
        return None if value is None else Personal(decrypt(value))


def lookup_key(secret: str, value: str) -> str:
    """The keyed hash that finds a person by number: HMAC-SHA256 under a key derived from
    `secret` for this purpose alone (64 hex characters, the size of contacts.phone_key)."""
    return hmac.new(_derive(secret, _LOOKUP_INFO), value.encode(), hashlib.sha256).hexdigest()


def lookup_keys(value: str) -> list[str]:
    """Every hash the number may be stored under: the current key's first, then each
    previous key's. Outside a key rotation this is one hash. The one place that knows a
    rotation may be under way; callers adopt the first hash (see inbox/receive.py)."""
    return list(dict.fromkeys(lookup_key(secret, value) for secret in keyring().secrets))
