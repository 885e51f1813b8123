"""Supermarkets whose tills spend vouchers: adding one (with its till key) and disabling one.

`flask vouchers add-store` / `disable-store` and the staff page /staff/stores both call these
functions, so a store is made and stopped one way. The till key is returned once, to be shown
once: only its hash is kept (vouchers.provider.hash_key), so nobody can read it back later; a
lost key means a new store entry. A store is disabled rather than deleted, so its past
redemptions keep their store and the figures stay right.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import func, select

from privacy.audit import record
from settings import DEFAULT_KIND
from store.models import LedgerRedemption, Store, utcnow
from vouchers.provider import hash_key

MAX_NAME = 120


class StoreError(ValueError):
    """The store cannot be added or changed; the message says why, for the person who asked."""


@dataclass(frozen=True)
class StoreRow:
    id: int
    name: str
    kinds: list[str]
    created_at: object
    disabled_at: object
    disabled_by: str | None
    redemptions: int


def clean_kinds(kinds, known) -> list[str]:
    """The kinds of voucher a store takes: those of vouchers.kinds in config.yml."""
    cleaned = sorted({kind.strip().lower() for kind in kinds if kind and kind.strip()}) or [DEFAULT_KIND]
    if any(kind not in known for kind in cleaned):
        raise StoreError(f"Kinds are those of vouchers.kinds in config.yml: {', '.join(known)}.")
    return cleaned


def add_store(session, name: str, kinds: list[str], *, actor: str) -> tuple[Store, str]:
    """A new store and its till key (shown once; only the hash is stored). `kinds` went
    through clean_kinds."""
    name = " ".join((name or "").split())
    if not name:
        raise StoreError("Give the store a name.")
    if len(name) > MAX_NAME:
        raise StoreError(f"The name is longer than {MAX_NAME} characters.")
    if session.scalar(select(Store.id).where(func.lower(Store.name) == name.lower())) is not None:
        raise StoreError(f"A store named {name!r} exists already.")
    key = secrets.token_urlsafe(32)
    store = Store(name=name, key_hash=hash_key(key), kinds=",".join(kinds))
    session.add(store)
    session.flush()
    record(session, actor, "added store", f"store:{store.id}", f"{name} ({', '.join(kinds)})")
    return store, key


def disable_store(session, store_id: int, *, actor: str) -> Store:
    """Its tills are refused from now on (vouchers/pos.py); doing it twice changes nothing."""
    store = session.get(Store, store_id)
    if store is None:
        raise StoreError("There is no such store.")
    if store.disabled_at is None:
        store.disabled_at, store.disabled_by = utcnow(), actor[:254]
        record(session, actor, "disabled store", f"store:{store.id}", store.name)
    return store


def store_named(session, name: str) -> Store:
    store = session.scalar(select(Store).where(func.lower(Store.name) == " ".join(name.split()).lower()))
    if store is None:
        raise StoreError(f"There is no store named {name!r}.")
    return store


def stores(session) -> list[StoreRow]:
    """Every store, enabled first, with how many payments its tills took."""
    counts = dict(session.execute(select(LedgerRedemption.store_id, func.count())
                                  .group_by(LedgerRedemption.store_id)).all())
    rows = session.scalars(select(Store).order_by(Store.disabled_at.is_not(None), func.lower(Store.name)))
    return [StoreRow(s.id, s.name, s.kinds.split(","), s.created_at, s.disabled_at, s.disabled_by,
                     counts.get(s.id, 0)) for s in rows]
