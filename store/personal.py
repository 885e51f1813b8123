"""Personal data (phone numbers, names, message texts) passes through one column type.

Keeping every personal field behind `PersonalText` means encryption at rest is a change
to this module alone: values are encrypted when bound and decrypted when read, so a copied
database file, a leaked dump or a backup shows ciphertext only. Lookups never use the plain
number: `lookup_key` is a keyed hash, so an index on it reveals nothing without the key.

Each value is encrypted under the data key of the person it belongs to (store/data_keys.py:
the keyring, apart from the database), so erasing a person destroys the one key that opens
everything about them, in the database, its log and every backup. A value therefore has to
say whose it is before it is written: the ORM seals it from the row's owner
(store/sealing.py), and Core statements seal it themselves with `seal(value, key_id)`. A value
that names no person is refused rather than encrypted under a key that cannot be destroyed.

From the one operator secret DDA_ENCRYPTION_KEY, HKDF-SHA256 derives (with different `info`
strings) the key that wraps the data keys in the keyring, the key of the lookup hash (mixed
with a secret kept in the keyring, so the master key alone cannot test numbers), and the
key that encrypted values before data keys per person existed (still read, so an existing
database keeps working until `flask privacy rotate-key` moves it). The secret itself is never
used directly, so no key serves two purposes.

Why Fernet rather than raw AES-GCM: Fernet is an authenticated scheme (AES-CBC with
HMAC-SHA256, a fresh random IV per value) with nothing to get wrong — no nonce to manage,
no encoding to invent — and its tokens are URL-safe base64 text that fits the existing Text
columns unchanged. `MultiFernet` decrypts with any of several keys and re-encrypts under the
first, which is exactly what a key rotation without downtime needs. The cost (about 140
bytes and a few microseconds per value) does not matter at this service's scale.

The keys are module-level because SQLAlchemy type objects are shared by every engine and
built at import; `Runtime.__init__` calls `configure` before anything touches the database.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from store.data_keys import DataKeys

# Public, fixed: HKDF's salt separates our keys from anything else derived from the same
# secret; the info strings separate the keys from each other. Changing any of them
# changes every key, so they are versioned rather than edited.
_SALT = b"direct-digital-aid/personal-data"
_ENCRYPTION_INFO = b"dda personal-text fernet v1"
_LOOKUP_INFO = b"dda phone lookup hmac-sha256 v1"  # master key alone: before the keyring
_LOOKUP_INFO_V2 = b"dda phone lookup hmac-sha256 v2 with keyring secret"
_WRAPPING_INFO = b"dda data-key wrapping fernet v1"

# Every Fernet token starts with the version byte 0x80 and a timestamp whose high bytes are
# zero, so in base64 with this prefix. Values under the master-derived key (before data keys
# per person) are bare tokens; values without it were written before encryption at rest.
TOKEN_PREFIX = "gAAAAA"
# A value under a person's data key: the prefix, the key's id (32 hex), a dot, the token.
PERSON_PREFIX = "dk1."
_KEY_END = len(PERSON_PREFIX) + 32


class KeyringError(RuntimeError):
    """Personal data was read or written before `configure`, or with a key that cannot open it."""


@lru_cache(maxsize=16)
def _derive(secret: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info).derive(secret.encode())


def _fernet(secret: str, info: bytes = _ENCRYPTION_INFO) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derive(secret, info)))


@dataclass(frozen=True)
class Keyring:
    """The current secret (wraps new data keys, keys new lookup hashes) and the previous ones
    (still unwrap, decrypt and find people, while `flask privacy rotate-key` moves data over)."""

    current: str
    previous: tuple[str, ...]
    fernet: MultiFernet      # values from before data keys per person
    wrapping: MultiFernet    # the data keys in the keyring

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.current, *self.previous)


_keyring: Keyring | None = None
_data_keys: DataKeys | None = None


def configure(current: str, previous: tuple[str, ...] | list[str] = ()) -> Keyring:
    """Install the master keys for this process. Called by Runtime.__init__ (and by the tests)."""
    global _keyring
    if not current:
        raise KeyringError("no encryption key: set DDA_ENCRYPTION_KEY")
    previous = tuple(dict.fromkeys(key for key in previous if key and key != current))
    secrets = (current, *previous)
    _keyring = Keyring(current, previous, MultiFernet([_fernet(key) for key in secrets]),
                       MultiFernet([_fernet(key, _WRAPPING_INFO) for key in secrets]))
    return _keyring


def open_data_keys(url: str, **options) -> DataKeys:
    """Open the keyring at `url` (any SQLAlchemy URL) for this process; an app made again in
    the same process (the tests, a reload) shares the one already open there."""
    global _data_keys
    from store.data_keys import DataKeys
    from store.db import make_engine

    if _data_keys is None or _data_keys.url != url:
        _data_keys = DataKeys(make_engine(url), lambda: keyring().wrapping, **options)
        _data_keys.url = url
    return _data_keys


def keyring() -> Keyring:
    if _keyring is None:
        raise KeyringError("personal data used before store.personal.configure() was called")
    return _keyring


def data_keys() -> DataKeys:
    if _data_keys is None:
        raise KeyringError("personal data used before the keyring was opened (store.personal.open_data_keys)")
    return _data_keys


class Personal(str):
    """A decrypted personal value: the text itself everywhere except in repr(), which is what
    SQLAlchemy's DEBUG row logging prints (and "%r" in a log line, and a traceback's locals).
    Logs are copied to places the database key never goes, so they must not carry the text."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<personal>'"


class Sealed(Personal):
    """A personal value on its way to the database, naming the data key it is encrypted under."""

    key_id: str


def seal(value: str, key_id: str) -> Sealed:
    sealed = Sealed(value)
    sealed.key_id = key_id
    return sealed


def encrypt(value: str, key_id: str) -> str:
    """The value encrypted under a person's data key, as stored."""
    fernet = data_keys().fernet(key_id)
    if fernet is None:
        raise KeyringError("this person was erased: their data key is destroyed")
    return f"{PERSON_PREFIX}{key_id}.{fernet.encrypt(value.encode()).decode('ascii')}"


def is_encrypted(stored: str) -> bool:
    return stored.startswith((PERSON_PREFIX, TOKEN_PREFIX))


def is_personal(stored: str) -> bool:
    """Whether a stored value is under a person's data key (the migration skips it)."""
    return stored.startswith(PERSON_PREFIX)


def key_id_of(stored: str) -> str | None:
    return stored[len(PERSON_PREFIX):_KEY_END] if stored.startswith(PERSON_PREFIX) else None


def decrypt(stored: str) -> str | None:
    """The plain text of a stored value, or None when its person was erased (key destroyed).

    A value under the master-derived key (before data keys per person) or in plain text
    (before encryption at rest) is still read, so an existing database keeps working until
    `flask privacy rotate-key` moves it. A token no key opens is an error, never returned as
    is: that means a wrong key or keyring (or tampering), and guessing would be worse.
    """
    if stored.startswith(PERSON_PREFIX):
        fernet = data_keys().fernet(stored[len(PERSON_PREFIX):_KEY_END])
        if fernet is None:
            return None
        try:
            return fernet.decrypt(stored[_KEY_END + 1:].encode("ascii")).decode()
        except InvalidToken:
            raise KeyringError("a personal value cannot be decrypted with its data key (a value was altered)") from None
    if not stored.startswith(TOKEN_PREFIX):
        return stored
    try:
        return keyring().fernet.decrypt(stored.encode("ascii")).decode()
    except InvalidToken:
        raise KeyringError("a personal value cannot be decrypted with DDA_ENCRYPTION_KEY or "
                           "DDA_PREVIOUS_ENCRYPTION_KEYS (wrong key, or a value was altered)") from None


class PersonalText(TypeDecorator):
    """Text that identifies or describes a person; stored encrypted under that person's data
    key and read back as `Personal` (None once the person's key is destroyed)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, Sealed):
            raise KeyringError("a personal value was written without naming its person: write it through the "
                               "ORM (the model names its owner, store/sealing.py) or seal it with "
                               "store.personal.seal(value, key_id)")
        return encrypt(str(value), value.key_id)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        plain = decrypt(value)
        return None if plain is None else Personal(plain)


class SealedList(list):
    """A personal list (the menu options a person was shown) on its way to the database."""

    key_id: str


class SealedDict(dict):
    """A personal mapping (a map pin sent to a person) on its way to the database."""

    key_id: str


def seal_json(value: list | dict, key_id: str) -> SealedList | SealedDict:
    sealed: SealedList | SealedDict = SealedList(value) if isinstance(value, list) else SealedDict(value)
    sealed.key_id = key_id
    return sealed


class PersonalJSON(PersonalText):
    """A list or mapping about a person (what they were offered, where a pin pointed), kept
    as JSON text encrypted like any personal text: which options or places a person was sent
    says what they were looking for."""

    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, SealedList | SealedDict):
            raise KeyringError("a personal list or mapping was written without naming its person (seal_json)")
        return encrypt(json.dumps(value, ensure_ascii=False, separators=(",", ":")), value.key_id)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        plain = decrypt(value)
        return None if plain is None else json.loads(plain)


def lookup_key(secret: str, value: str) -> str:
    """The keyed hash that finds a person by number: HMAC-SHA256 under a key derived from
    `secret` together with the keyring's lookup secret (64 hex characters, the size of
    contacts.phone_key). Neither alone computes it: a copy of the database and the master key
    cannot test phone numbers against the hashes without the keyring too."""
    return hmac.new(_lookup_hmac_key(secret, data_keys().lookup_secret()), value.encode(),
                    hashlib.sha256).hexdigest()


@lru_cache(maxsize=16)
def _lookup_hmac_key(secret: str, keyring_secret: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=_LOOKUP_INFO_V2).derive(
        secret.encode() + keyring_secret)


def _master_only_lookup_key(secret: str, value: str) -> str:
    """The hash as stored before the keyring existed (master key alone): only looked for while
    `flask privacy rotate-key` has not yet moved every contact (see `expect_old_lookup_hashes`)."""
    return hmac.new(_derive(secret, _LOOKUP_INFO), value.encode(), hashlib.sha256).hexdigest()


_old_lookup_hashes = False


def expect_old_lookup_hashes(expected: bool) -> None:
    """Whether contacts from before the keyring may still be stored under a master-only hash
    (Runtime asks the database at start; the rotation says when it has moved them all)."""
    global _old_lookup_hashes
    _old_lookup_hashes = expected


def lookup_keys(value: str) -> list[str]:
    """Every hash the number may be stored under: the current key's first, then each
    previous key's, then (until the migration has run) the hashes from before the keyring.
    Outside a key rotation this is one hash. The one place that knows a rotation may be under
    way; callers adopt the first hash (see inbox/receive.py)."""
    found = [lookup_key(secret, value) for secret in keyring().secrets]
    if _old_lookup_hashes:
        found += [_master_only_lookup_key(secret, value) for secret in keyring().secrets]
    return list(dict.fromkeys(found))
