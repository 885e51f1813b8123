"""How a conversation and a waiting time look to helpers, in the pages and in their JSON.

The console and the simulator show the same rows, so a helper's answer looks the same in
both; the JSON is built here once for the pages' first render and for every refresh.
"""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from staff.display import when
from store.models import Message, utcnow

MAX_MESSAGES = 200
SENDERS = {"person": "Person", "bot": "Bot", "agent": "Agent"}


def aware(value: datetime | None) -> datetime | None:
    """SQLite gives back naive times; they are stored in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def waiting(since: datetime | None, now: datetime | None = None) -> str:
    """'4 min', '2 h 05 min', '3 d 4 h': short enough for a table cell, exact enough to triage."""
    if since is None:
        return ""
    minutes = max(0, int(((now or utcnow()) - aware(since)).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def who(message: Message) -> str:
    label = SENDERS.get(message.sender, message.sender)
    if message.sender == "agent" and message.author:
        return f"{label} ({message.author})"
    return label


def map_link(location: dict | None) -> dict | None:
    """A map pin as staff see it: a link to the place on OpenStreetMap."""
    if not location:
        return None
    latitude, longitude = location["latitude"], location["longitude"]
    return {"label": location.get("label") or f"{latitude}, {longitude}",
            "url": f"https://www.openstreetmap.org/?mlat={latitude}&mlon={longitude}#map=17/{latitude}/{longitude}"}


def message_row(message: Message) -> dict:
    if message.body is not None:
        text = str(message.body)
    elif message.kind in ("text", "button", "list"):
        text = "(text erased after the retention period)"
    else:
        text = f"({message.kind})"
    return {
        "id": message.id,
        "direction": message.direction,
        "sender": message.sender,
        "who": who(message),
        "kind": message.kind,
        "text": text,
        "options": [{"payload": o.get("payload"), "label": o.get("label")} for o in (message.options or [])],
        "map": map_link(message.location),
        "status": message.status,
        "at": aware(message.created_at).isoformat() if message.created_at else None,
        "when": when(message.created_at),
    }


def conversation(session, contact_id: int) -> list[dict]:
    """The latest messages in and out, oldest first, so the newest sits at the bottom as in WhatsApp."""
    rows = list(session.scalars(select(Message).where(Message.contact_id == contact_id)
                                .order_by(Message.id.desc()).limit(MAX_MESSAGES)))
    return [message_row(message) for message in reversed(rows)]
