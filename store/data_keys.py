"""The keyring: one data key per person, wrapped by the master key, kept apart from the database.

Crypto-shredding needs a place that forgets for real. Deleting rows from the main database
does not: their bytes stay in free pages, in the write-ahead log and in every backup taken
before. So each person's personal values are encrypted under a key of their own, and that key
lives here, in a second small database (`DDA_KEYRING_URL`; by default a SQLite file beside
the main one) with its own, short backup retention. Erasing a person destroys their key: what
is left of them anywhere else is ciphertext nobody can open, the master key included.

A key is stored wrapped (Fernet) under a key-encryption key derived from DDA_ENCRYPTION_KEY,
so a copy of the keyring alone opens nothing either. A destroyed key leaves a tombstone (the
id and when), never the key: the service can then tell "this person was erased" from "this
keyring is not the one the database was written with", which must stop it rather than read as
an erasure.

Unwrapped keys are cached in the process for `cache_seconds`, never in Redis or anywhere
else, so answering a person who writes costs no keyring round trip; a key destroyed in
another process may still open values in this one until its entry expires (those rows are
deleted from the main database in the same moment, so only a copy could be read that way).
"""
from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, func, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, ProgrammingError

from store.db import statements_commit_alone

KEY_ID_LENGTH = 32  # hex characters: 128 random bits
LOOKUP_KEY_ID = "lookup"  # the one shared secret of the keyring: part of the lookup hash's key

metadata = MetaData()
data_keys = Table(
    "data_keys", metadata,
    Column("id", String(KEY_ID_LENGTH), primary_key=True),
    Column("wrapped", Text),  # NULL once destroyed
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("shredded_at", DateTime(timezone=True)),
)

_SHREDDED = object()
_LOAD_BATCH = 500


class UnknownDataKey(RuntimeError):
    """A value names a data key this keyring has never held: the wrong DDA_KEYRING_URL, or a
    keyring restored from before the data was written. Never read as "erased"."""


class DataKeys:
    """The keyring's one table, with a short-lived in-process cache of unwrapped keys."""

    def __init__(self, engine: Engine, wrapping: Callable[[], MultiFernet], cache_seconds: float = 300,
                 cache_size: int = 20_000, stock_size: int = 32):
        self.engine = engine
        self.url = str(engine.url)
        self._wrapping = wrapping  # the master key's wrapping Fernets, current first
        self.cache_seconds = cache_seconds
        self.cache_size = cache_size
        self._cache: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()
        self._lookup: bytes | None = None
        self._mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self.stock_size = stock_size
        self._stock: list[str] = []
        try:
            metadata.create_all(engine)
        except (IntegrityError, ProgrammingError):  # another process created it in the same moment
            metadata.create_all(engine)

    # --- making and opening keys ----------------------------------------------------------

    def create(self, count: int = 1) -> list[str]:
        """New data keys, stored (committed) before any value is encrypted under them, so a
        value never names a key the keyring does not have. A key whose person is then never
        stored (a rolled-back transaction, a lost race) is left unused and opens nothing."""
        if count < 1:
            return []
        made = [(secrets.token_hex(KEY_ID_LENGTH // 2), Fernet.generate_key()) for _ in range(count)]
        wrapper = self._wrapping()
        with self.engine.begin() as connection:
            connection.execute(data_keys.insert(), [{"id": key_id, "wrapped": wrapper.encrypt(key).decode("ascii")}
                                                    for key_id, key in made])
        now = time.monotonic()
        with self._lock:
            for key_id, key in made:
                self._remember(key_id, Fernet(key), now)
        return [key_id for key_id, _ in made]

    def take(self) -> str:
        """A new data key for one new person. Keys are made ahead, `stock_size` at a time: at a
        campaign peak most messages are first contacts, and one keyring round trip then serves
        many of them. A key still in stock when the process ends was never used and opens nothing."""
        with self._lock:
            if self._stock:
                return self._stock.pop()
        first, *rest = self.create(self.stock_size)
        with self._lock:
            self._stock.extend(rest)
        return first

    def forget(self) -> None:
        """Drop the unused keys in stock and every cached key: the keyring was emptied behind our
        back (the test suite does, between tests)."""
        with self._lock:
            self._stock.clear()
            self._cache.clear()

    def fernet(self, key_id: str) -> Fernet | None:
        """The person's key, or None when it was destroyed (the person was erased)."""
        now = time.monotonic()
        cached = self._cache.get(key_id)
        if cached is None or cached[0] < now:
            self.load([key_id])
            cached = self._cache[key_id]
        value = cached[1]
        return None if value is _SHREDDED else value  # type: ignore[return-value]

    def load(self, key_ids: Iterable[str]) -> None:
        """Fetch and unwrap several keys in one round trip (key rotation, bulk reads)."""
        wanted = list(dict.fromkeys(key_ids))
        if not wanted:
            return
        rows: dict[str, str | None] = {}
        for start in range(0, len(wanted), _LOAD_BATCH):
            rows.update(self._fetch(wanted[start:start + _LOAD_BATCH]))
        missing = [key_id for key_id in wanted if key_id not in rows]
        if missing:
            raise UnknownDataKey(f"{len(missing)} data key(s) are not in the keyring (DDA_KEYRING_URL): "
                                 "is it the keyring this database was written with?")
        wrapper = self._wrapping()
        now = time.monotonic()
        with self._lock:
            for key_id, wrapped in rows.items():
                if wrapped is None:
                    self._remember(key_id, _SHREDDED, now)
                    continue
                try:
                    key = wrapper.decrypt(wrapped.encode("ascii"))
                except InvalidToken:
                    raise UnknownDataKey("a data key cannot be unwrapped with DDA_ENCRYPTION_KEY or "
                                         "DDA_PREVIOUS_ENCRYPTION_KEYS") from None
                self._remember(key_id, Fernet(key), now)

    def _fetch(self, key_ids: list[str]) -> dict[str, str | None]:
        """The wrapped keys, read in one round trip on the pooled DB-API connection. Every first
        sight of a person in a process reads one, at a campaign peak on the webhook's path:
        SQLAlchemy's statement machinery cost twice what the read itself does, and a
        transaction around it two round trips more."""
        marks = ", ".join([self._mark] * len(key_ids))
        with statements_commit_alone(self.engine) as connection:
            cursor = connection.cursor()
            cursor.execute(f"SELECT id, wrapped FROM data_keys WHERE id IN ({marks})", key_ids)
            rows = dict(cursor.fetchall())
            cursor.close()
        return rows

    def lookup_secret(self) -> bytes:
        """A random secret kept here, mixed into the key of the phone lookup hash, so that the
        master key alone (with a copy of the database) cannot test numbers against the hashes.
        Made on first use; wrapped, re-wrapped and backed up like the data keys."""
        if self._lookup is None:
            select_it = select(data_keys.c.wrapped).where(data_keys.c.id == LOOKUP_KEY_ID)
            with self.engine.connect() as connection:
                wrapped = connection.scalar(select_it)
            if wrapped is None:
                made = self._wrapping().encrypt(Fernet.generate_key()).decode("ascii")  # stored like a data key
                try:
                    with self.engine.begin() as connection:
                        connection.execute(data_keys.insert(), {"id": LOOKUP_KEY_ID, "wrapped": made})
                except IntegrityError:
                    pass  # another process made it first: theirs is the one
                with self.engine.connect() as connection:
                    wrapped = connection.scalar(select_it)
            try:
                self._lookup = self._wrapping().decrypt(wrapped.encode("ascii"))
            except InvalidToken:
                raise UnknownDataKey("the keyring's lookup secret cannot be unwrapped with DDA_ENCRYPTION_KEY or "
                                     "DDA_PREVIOUS_ENCRYPTION_KEYS") from None
        return self._lookup

    def _remember(self, key_id: str, value: object, now: float) -> None:
        if len(self._cache) >= self.cache_size:
            for stale in [k for k, (expires, _) in self._cache.items() if expires < now] or list(self._cache)[:1000]:
                self._cache.pop(stale, None)
        self._cache[key_id] = (now + self.cache_seconds, value)

    # --- destroying keys ------------------------------------------------------------------

    def shred(self, key_ids: Iterable[str]) -> int:
        """Destroy keys for good: the wrapped key is overwritten by a tombstone, and on SQLite
        the write-ahead log is checkpointed and truncated so no old page keeps it
        (secure_delete zeroes what the overwrite freed)."""
        wanted = [key_id for key_id in dict.fromkeys(key_ids) if key_id]
        if not wanted:
            return 0
        with self.engine.begin() as connection:
            destroyed = connection.execute(update(data_keys).where(data_keys.c.id.in_(wanted),
                                                                   data_keys.c.wrapped.is_not(None))
                                           .values(wrapped=None, shredded_at=func.now())).rowcount
        now = time.monotonic()
        with self._lock:
            for key_id in wanted:
                self._remember(key_id, _SHREDDED, now)
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as connection:
                connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        return destroyed or 0

    def shredded(self, key_ids: Iterable[str]) -> set[str]:
        """Which of these keys were destroyed (their people were erased)."""
        wanted = list(dict.fromkeys(key_ids))
        found: set[str] = set()
        with self.engine.connect() as connection:
            for start in range(0, len(wanted), 500):
                found.update(connection.scalars(select(data_keys.c.id).where(
                    data_keys.c.id.in_(wanted[start:start + 500]), data_keys.c.wrapped.is_(None))))
        return found

    # --- rotation -------------------------------------------------------------------------

    def rewrap(self, batch_size: int = 500, progress: Callable[[int], None] = lambda rows: None) -> tuple[int, int]:
        """Wrap every live key under the current master key: (re-wrapped, already current).
        Batches of one transaction each; a key already wrapped under the current key is left."""
        wrapper = self._wrapping()
        current = wrapper._fernets[0]  # MultiFernet's first key encrypts
        rewrapped = unchanged = 0
        last = ""
        while True:
            with self.engine.begin() as connection:
                rows = connection.execute(select(data_keys.c.id, data_keys.c.wrapped)
                                          .where(data_keys.c.id > last, data_keys.c.wrapped.is_not(None))
                                          .order_by(data_keys.c.id).limit(batch_size)).all()
                if not rows:
                    return rewrapped, unchanged
                last = rows[-1].id
                for row in rows:
                    token = row.wrapped.encode("ascii")
                    try:
                        current.decrypt(token)
                        unchanged += 1
                        continue
                    except InvalidToken:
                        pass
                    try:
                        new = wrapper.rotate(token).decode("ascii")
                    except InvalidToken:
                        raise UnknownDataKey("a data key cannot be unwrapped with DDA_ENCRYPTION_KEY or "
                                             "DDA_PREVIOUS_ENCRYPTION_KEYS") from None
                    rewrapped += connection.execute(update(data_keys).where(
                        data_keys.c.id == row.id, data_keys.c.wrapped == row.wrapped).values(wrapped=new)).rowcount
            progress(len(rows))

    def count(self) -> int:
        with self.engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(data_keys)) or 0
