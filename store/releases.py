"""Numbered releases of checked content, one history per kind ("referrals", "flows", "ready_answers").

Editors' files are a draft; a release is a bundle (plain JSON) that passed its kind's checks,
stored in the database so every web server and worker, on any machine, serves the same one.
The live release of a kind is simply its newest row: publishing adds a row, and so does a
rollback (a copy of an earlier bundle, noted "rollback to N"), so numbers only grow and the
audit log reads in order. The newest `content.keep_releases` of each kind are kept (`prune`).
Each process asks the database for the newest number at most every `refresh_seconds` (one
indexed query), which is how a release reaches everyone without a restart.

What a bundle holds and how it is checked belongs to the kind (referrals/release.py,
releases/flows.py); this module only stores, numbers and finds them.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from store.models import ContentRelease

log = logging.getLogger(__name__)
T = TypeVar("T")


def fingerprint_of(bundle: dict) -> str:
    """The same content gives the same fingerprint, whatever order it was collected in."""
    return hashlib.sha256(json.dumps(bundle, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass
class ReleaseInfo:
    number: int
    kind: str
    published_at: datetime
    published_by: str
    fingerprint: str
    note: str
    live: bool = False

    def as_dict(self) -> dict:
        return {"number": self.number, "published_at": self.published_at.isoformat(),
                "published_by": self.published_by, "note": self.note, "live": self.live,
                "fingerprint": self.fingerprint}


def _info(row: ContentRelease, live: bool = False) -> ReleaseInfo:
    return ReleaseInfo(row.number, row.kind, row.published_at, row.published_by, row.fingerprint, row.note, live)


def latest(session, kind: str) -> ContentRelease | None:
    return session.scalar(select(ContentRelease).where(ContentRelease.kind == kind)
                          .order_by(ContentRelease.number.desc()).limit(1))


def latest_number(session, kind: str) -> int | None:
    return session.scalar(select(func.max(ContentRelease.number)).where(ContentRelease.kind == kind))


def find(session, kind: str, number: int) -> ContentRelease | None:
    return session.scalar(select(ContentRelease).where(ContentRelease.kind == kind, ContentRelease.number == number))


def history(session, kind: str) -> list[ReleaseInfo]:
    """Every release of `kind`, newest first; the first is live."""
    rows = session.scalars(select(ContentRelease).where(ContentRelease.kind == kind)
                           .order_by(ContentRelease.number.desc())).all()
    return [_info(row, live=index == 0) for index, row in enumerate(rows)]


def add(session, kind: str, bundle: dict, actor: str, note: str = "",
        fingerprint: str | None = None) -> ContentRelease | None:
    """Store `bundle` as the next release of `kind`, in the caller's transaction (the caller
    audits and commits). None when the live release already has this content: publishing twice
    is not two releases."""
    current = latest(session, kind)
    print_ = fingerprint or fingerprint_of(bundle)
    if current is not None and current.fingerprint == print_:
        return None
    row = ContentRelease(kind=kind, number=(current.number if current else 0) + 1, published_by=actor,
                         fingerprint=print_, bundle=bundle, note=note[:500])
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # another editor published the same number a moment ago
        session.rollback()
        raise ReleaseConflict(kind) from None
    return row


def prune(session, keep: int) -> dict[str, int]:
    """Delete all but the newest `keep` releases of each kind, in the caller's transaction; how
    many went, by kind. The live one is the newest, so it always stays; the audit log keeps
    who published what."""
    newest = dict(session.execute(select(ContentRelease.kind, func.max(ContentRelease.number))
                                  .group_by(ContentRelease.kind)).all())
    gone = {}
    for kind, number in newest.items():
        count = session.execute(delete(ContentRelease).where(ContentRelease.kind == kind,
                                                             ContentRelease.number <= number - keep)).rowcount
        if count:
            gone[kind] = count
    return gone


class ReleaseConflict(Exception):
    def __init__(self, kind: str):
        super().__init__(f"another {kind} release was published at the same moment; look at the list and try again")


class LiveRelease(Generic[T]):
    """What this process serves of one kind: the newest release, built into a `T` by `build`
    (bundle -> T) and kept until a newer number appears. `fallback()` gives something to serve
    while the database has no release or cannot be read (not migrated yet); it is asked once."""

    def __init__(self, kind: str, sessionmaker, refresh_seconds: Callable[[], float],
                 build: Callable[[dict], T], fallback: Callable[[], T | None]):
        self.kind, self.session, self.refresh_seconds = kind, sessionmaker, refresh_seconds
        self.build, self.fallback = build, fallback
        self._lock = threading.Lock()
        self._value: T | None = None
        self._number: int | None = None
        self._checked_at = float("-inf")
        self._fell_back = False

    def forget(self) -> None:
        """Look again at the next use (this process just published)."""
        with self._lock:
            self._checked_at = float("-inf")

    @property
    def number(self) -> int | None:
        self.current()
        return self._number

    def current(self) -> T | None:
        with self._lock:
            if time.monotonic() - self._checked_at >= self.refresh_seconds():
                self._refresh()
            return self._value

    def _refresh(self) -> None:
        try:
            with self.session() as session:
                newest = latest(session, self.kind) if self._number is None else None
                number = newest.number if newest is not None else latest_number(session, self.kind)
                if number is not None and number != self._number:
                    row = newest if newest is not None and newest.number == number else find(session, self.kind, number)
                    if row is not None:
                        self._use(row.bundle, number)
        except SQLAlchemyError as error:  # the database not migrated yet, or gone for a moment
            log.warning("could not look for a %s release: %s", self.kind, type(error).__name__)
        if self._value is None and not self._fell_back:
            self._fell_back = True
            self._value = self.fallback()
        self._checked_at = time.monotonic()

    def _use(self, bundle: dict, number: int) -> None:
        try:
            value = self.build(bundle)
        except Exception:  # a release that no longer fits this code: keep serving what runs now
            log.exception("%s release %s cannot be served by this version; the one before stays", self.kind, number)
            self._number = number  # not tried again on every message
            return
        self._value, self._number = value, number
        log.info("serving %s release %s", self.kind, number)
