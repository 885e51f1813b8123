"""Conversation state per person, in the database.

The state is read and written inside the transaction that processes a message (inbox/process.py),
the same one that marks the message processed and puts its replies in the outbox: either all of
it happens or none of it, so a message is never applied twice and never lost, and nothing about
where a person is depends on Redis. A conversation left longer than
`conversation.state_ttl_hours` starts again from the menu.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete

from store.models import ConversationState, utcnow

_ABSENT = "conversation states found missing"


def load(session, contact_id: int, ttl: timedelta) -> dict | None:
    """The person's state as the engine wrote it, or None (new, expired or forgotten)."""
    row = session.get(ConversationState, contact_id)
    absent = session.info.setdefault(_ABSENT, set())
    if row is None:
        absent.add(contact_id)
        return None
    absent.discard(contact_id)  # made since an earlier look in this session (a turn tried again)
    if row.state is None:  # the person's data key is destroyed (erased)
        return None
    updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC)
    if updated < utcnow() - ttl:
        return None
    return json.loads(row.state)


def save(session, contact_id: int, state: dict) -> None:
    """In the caller's transaction; call `load` first in it: it fetches the row this updates, or
    notes that there is none (a session looks up a missing row again each time it is asked)."""
    absent = session.info.get(_ABSENT, set())
    row = None if contact_id in absent else session.get(ConversationState, contact_id)
    absent.discard(contact_id)
    if row is None:
        session.add(ConversationState(contact_id=contact_id, state=json.dumps(state), updated_at=utcnow()))
    else:
        row.state, row.updated_at = json.dumps(state), utcnow()


def forget(session, contact_id: int) -> None:
    """The next message starts from the menu (a closed ticket, an expired registration, erasure)."""
    session.execute(delete(ConversationState).where(ConversationState.contact_id == contact_id))


def forget_untouched_since(session, before: datetime) -> int:
    """Conversations nobody can continue any more (older than the time-to-live), with the
    answers they held; the retention purge calls it."""
    return session.execute(delete(ConversationState).where(ConversationState.updated_at < before)).rowcount
