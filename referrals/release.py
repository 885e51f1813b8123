"""Publishing referral content: the editors' files are a draft; a release is what people see.

A release is a checked bundle in the database, so `flask content reload` on any machine (or the
staff page's button) reaches every web server and worker, SQLite included, without a restart.
Each process looks for a newer release at most every `content.refresh_seconds`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from privacy.audit import record
from referrals.check import ContentError, load_content
from referrals.content import Content
from store import releases
from store.models import ContentRelease

log = logging.getLogger(__name__)
KIND = "referrals"


@dataclass
class Published:
    release_id: int | None  # the release's number; None: the same content was already live
    content: Content


def check_files(settings) -> Content:
    languages = settings.languages
    return load_content(settings.content.referrals, languages.program, languages.served)


def publish(runtime, actor: str) -> Published:
    """Check the files and make them live; ContentError (nothing published) if they are wrong."""
    content = check_files(runtime.settings)
    with runtime.session() as session:
        release = releases.add(session, KIND, content.to_bundle(), actor, fingerprint=content.fingerprint)
        if release is None:
            return Published(None, content)
        record(session, actor, "content published", f"content:{release.number}",
               f"{len(content.regions)} regions, {len(content.offers)} offers")
        session.commit()
        number = release.number
    runtime.referrals.forget()
    log.info("referral content release %s published", number)
    return Published(number, content)


class NoSuchRelease(LookupError):
    """Rollback to a release number that was never published."""


def rollback(runtime, number: int, actor: str) -> Published:
    """Make an earlier release live again, as a new release with the same content (noted
    "rollback to N"): the numbers only grow, so every server sees a change, and the audit log keeps
    the whole history. The files on disk stay as they are (they are the draft; publishing them
    again undoes this)."""
    with runtime.session() as session:
        earlier = releases.find(session, KIND, number)
        if earlier is None:
            raise NoSuchRelease(number)
        content = Content.from_bundle(earlier.bundle)
        release = releases.add(session, KIND, earlier.bundle, actor, note=f"rollback to {number}",
                               fingerprint=earlier.fingerprint)
        if release is None:
            return Published(None, content)
        record(session, actor, "content rolled back", f"content:{release.number}", f"rollback to {number}")
        session.commit()
        restored = release.number
    runtime.referrals.forget()
    log.info("referral content release %s restores release %s", restored, number)
    return Published(restored, content)


def history(session) -> list[releases.ReleaseInfo]:
    """The referral content's releases, the newest (live) first: what editors roll back from."""
    return releases.history(session, KIND)


def latest_release(session) -> ContentRelease | None:
    return releases.latest(session, KIND)


def _files_or_nothing(settings) -> Content | None:
    try:
        return check_files(settings)
    except ContentError as error:
        log.error("referral content files are invalid and no release exists; nothing to serve:\n%s", error)
        return None


class ReferralContent:
    """The content this process serves: the latest release, or the files while none exists."""

    def __init__(self, settings, sessionmaker):
        self._live = releases.LiveRelease(KIND, sessionmaker, lambda: settings.content.refresh_seconds,
                                          Content.from_bundle, lambda: _files_or_nothing(settings))

    def forget(self) -> None:
        self._live.forget()

    @property
    def release_id(self) -> int | None:
        return self._live.number

    def current(self) -> Content:
        return self._live.current() or Content()
