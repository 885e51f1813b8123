"""How a conversation and a waiting time look to helpers, in the pages and in their JSON.

The console and the simulator show the same rows, so a helper's answer looks the same in
both; the JSON is built here once for the pages' first render and for every refresh.
"""
from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select

from bot.menus import LIST_BUTTON, layout
from bot.messages import prompt_of
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


def menu_view(message: Message) -> dict | None:
    """A menu as WhatsApp shows it (bot/menus.py): its text, and reply buttons or a list behind
    one button; None for numbered text (more than ten options) and everything else. The
    numbered text stays what the database keeps and what a failed Content API sends."""
    if message.direction != "out" or not message.options or message.content_sid or message.body is None:
        return None
    options = list(message.options)
    prompt = prompt_of(str(message.body), [option.get("label", "") for option in options])
    menu = layout(prompt, options) if prompt else None
    if menu is None:
        return None
    button = current_app.extensions["dda"].translator.text(LIST_BUTTON, message.language)
    return {"kind": menu.kind, "text": menu.body, "button": button,
            "items": [{"payload": item.id, "title": item.title, "description": item.description}
                      for item in menu.items]}


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
        "menu": menu_view(message),
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
