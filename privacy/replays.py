"""Replays after an erasure: Twilio may send a message again (a retried webhook, a re-sent
MessageSid) after the person was erased. Their MessageSids are kept as keyed hashes for the
deduplication window (privacy.replay_days), so such a message is recognised and dropped
instead of bringing the person back; the hashes say nothing about who sent them.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from store.models import ForgottenMessage, utcnow
from store.personal import lookup_keys


def forget_message(session, sid: str) -> None:
    """Remember that the message `sid` belonged to someone erased."""
    key = lookup_keys(sid)[0]
    if session.get(ForgottenMessage, key) is None:
        session.add(ForgottenMessage(sid_key=key, at=utcnow()))


def purge_forgotten(session, days: int) -> int:
    """Hashes older than the deduplication window go: Twilio retries for hours, not weeks."""
    result = session.execute(delete(ForgottenMessage).where(ForgottenMessage.at < utcnow() - timedelta(days=days)))
    return result.rowcount or 0
