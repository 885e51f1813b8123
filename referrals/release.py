"""Publishing referral content: the editors' files are a draft; a release is what people see.

A release is a checked bundle in the database, so `flask content reload` on any machine (or the
staff page's button) reaches every web server and worker, SQLite included, without a restart.
Each process looks for a newer release at most every `content.refresh_seconds`.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from privacy.audit import record
from referrals.check import ContentError, load_content
from referrals.content import Content
from store.models import ContentRelease

log = logging.getLogger(__name__)


@dataclass
class Published:
    release_id: int | None  # None: the same content was already live
    content: Content


def check_files(settings) -> Content:
    languages = settings.languages
    return load_content(settings.content.referrals, languages.program, languages.served)


def publish(runtime, actor: str) -> Published:
    """Check the files and make them live; ContentError (nothing published) if they are wrong."""
    content = check_files(runtime.settings)
    with runtime.session() as session:
        latest = latest_release(session)
        if latest is not None and latest.fingerprint == content.fingerprint:
            return Published(None, content)
        release = ContentRelease(published_by=actor, fingerprint=content.fingerprint, bundle=content.to_bundle())
        session.add(release)
        session.flush()
        record(session, actor, "content published", f"content:{release.id}",
               f"{len(content.regions)} regions, {len(content.offers)} offers")
        session.commit()
        release_id = release.id
    runtime.referrals.forget()
    log.info("referral content release %s published", release_id)
    return Published(release_id, content)


def latest_release(session) -> ContentRelease | None:
    return session.scalar(select(ContentRelease).order_by(ContentRelease.id.desc()).limit(1))


class ReferralContent:
    """The content this process serves: the latest release, or the files while none exists."""

    def __init__(self, settings, sessionmaker):
        self.settings, self.session = settings, sessionmaker
        self._lock = threading.Lock()
        self._content: Content | None = None
        self._release_id: int | None = None
        self._checked_at = float("-inf")

    def forget(self) -> None:
        with self._lock:
            self._checked_at = float("-inf")

    @property
    def release_id(self) -> int | None:
        self.current()
        return self._release_id

    def current(self) -> Content:
        with self._lock:
            if time.monotonic() - self._checked_at >= self.settings.content.refresh_seconds:
                self._refresh()
            return self._content or Content()

    def _refresh(self) -> None:
        try:
            with self.session() as session:
                latest = session.scalar(select(ContentRelease.id).order_by(ContentRelease.id.desc()).limit(1))
                if latest is not None and latest != self._release_id:
                    bundle = session.get(ContentRelease, latest).bundle
                    self._content, self._release_id = Content.from_bundle(bundle), latest
                    log.info("serving referral content release %s", latest)
        except SQLAlchemyError as error:  # the database not migrated yet, or gone for a moment
            log.warning("could not look for a content release: %s", type(error).__name__)
        if self._content is None:
            try:
                self._content = check_files(self.settings)
            except ContentError as error:
                log.error("referral content files are invalid and no release exists; nothing to serve:\n%s", error)
        self._checked_at = time.monotonic()
