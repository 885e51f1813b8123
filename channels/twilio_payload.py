"""Reading Twilio's inbound WhatsApp parameters into what the service keeps of them.

Twilio adds parameters without notice; unknown ones are ignored. Only what the dialogue
needs is kept: not the profile name, not the media itself.
"""
from __future__ import annotations

from dataclasses import dataclass

import phonenumbers


class BadRequest(ValueError):
    """The request cannot be a message from a person; the text says why, without personal data."""


@dataclass(frozen=True)
class Received:
    sid: str
    phone: str  # E.164
    kind: str   # text | button | list | location | media | audio | empty
    body: str
    payload: str | None
    media_types: tuple[str, ...]
    truncated: bool
    channel: str = "whatsapp"  # local: the terminal chat or the simulator


def phone_from_address(address: str, region: str = "NL") -> str:
    """'whatsapp:+31612345678' -> '+31612345678'; anything that is not a valid number is refused."""
    channel, _, number = address.partition(":")
    if not number or channel not in ("whatsapp", "sms", "local"):
        raise BadRequest("sender address is not a WhatsApp number")
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        raise BadRequest("sender number cannot be read") from None
    if not phonenumbers.is_possible_number(parsed):
        raise BadRequest("sender number is not a possible phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def read_inbound(form, region: str, max_chars: int) -> Received:
    sid = (form.get("MessageSid") or form.get("SmsMessageSid") or "").strip()
    if not sid or len(sid) > 64 or not sid.isalnum():
        raise BadRequest("MessageSid is missing or malformed")
    phone = phone_from_address(form.get("From", ""), region)
    body = form.get("Body") or ""
    truncated = len(body) > max_chars
    body = body[:max_chars]
    try:
        media_count = int(form.get("NumMedia") or 0)
    except ValueError:
        media_count = 0
    media_types = tuple(form.get(f"MediaContentType{i}", "") for i in range(min(media_count, 10)))
    payload = form.get("ButtonPayload") or form.get("ListId") or None
    message_type = form.get("MessageType", "")
    if payload:
        kind = "button" if form.get("ButtonPayload") else "list"
        body = body or form.get("ButtonText") or form.get("ListTitle") or ""
    elif form.get("Latitude") and form.get("Longitude"):
        kind = "location"
        body = f"geo:{form.get('Latitude')},{form.get('Longitude')}"
    elif body.strip():
        kind = "text"
    elif media_count or message_type in ("audio", "image", "video", "document", "sticker"):
        audio = message_type == "audio" or any(t.startswith("audio/") for t in media_types)
        kind = "audio" if audio else "media"
    else:
        kind = "empty"
    channel = "local" if form.get("From", "").startswith("local:") else "whatsapp"
    return Received(sid=sid, phone=phone, kind=kind, body=body, payload=payload,
                    media_types=media_types, truncated=truncated, channel=channel)
