"""Recording who saw or changed whose data. One call per view or change; the entries are
read on /staff/audit and never edited."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from store.models import AuditEntry, utcnow

# A page that refreshes itself every few seconds is one reading, not hundreds: the same person
# reading the same subject again within this window is not recorded again.
READING_WINDOW = timedelta(minutes=10)


def record(session, actor: str, action: str, subject: str, detail: str = "") -> None:
    session.add(AuditEntry(actor=actor, action=action, subject=subject, detail=detail[:500]))


def record_reading(session, actor: str, action: str, subject: str, detail: str = "") -> None:
    """Record that `actor` read a person's data, once per READING_WINDOW."""
    recent = session.scalar(select(AuditEntry.id).where(
        AuditEntry.actor == actor, AuditEntry.action == action, AuditEntry.subject == subject,
        AuditEntry.at >= utcnow() - READING_WINDOW).limit(1))
    if recent is None:
        record(session, actor, action, subject, detail)
