"""Recording who saw or changed whose data. One call per view or change; the entries are
read on /staff/audit and never edited."""
from __future__ import annotations

from store.models import AuditEntry


def record(session, actor: str, action: str, subject: str, detail: str = "") -> None:
    session.add(AuditEntry(actor=actor, action=action, subject=subject, detail=detail[:500]))
