"""Reading Twilio's inbound WhatsApp parameters into what the service keeps of them.

Twilio adds parameters without notice; unknown ones are ignored. Only what the dialogue
needs is kept: not the profile name, not the media itself.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers


class BadRequest(ValueError):
    """The request cannot be a message from a person; the text says why, without personal data."""


# What WhatsApp itself can send; anything beyond is not Twilio and is refused at the door, so
# nothing odd reaches the database (PostgreSQL refuses NUL bytes and over-long values).
MAX_SID = 64
MAX_PAYLOAD = 256       # button payloads and list ids, as stored
MAX_TITLE = 1024        # a button's or list row's title, kept as the message text
MAX_MEDIA = 10
MAX_ERROR_CODE = 16


def _field(form, name: str, limit: int) -> str:
    """A parameter that must be printable text within `limit` characters."""
    value = form.get(name) or ""
    if len(value) > limit or "\x00" in value:
        raise BadRequest(f"{name} is longer than {limit} characters or holds a NUL byte")
    return value


def _coordinate(form, name: str, bound: float) -> float:
    try:
        value = float(form.get(name, ""))
    except ValueError:
        raise BadRequest(f"{name} is not a number") from None
    if not -bound <= value <= bound:  # NaN fails this too
        raise BadRequest(f"{name} is out of range")
    return value


def read_sid(form) -> str:
    sid = (form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid") or "").strip()
    if not sid or len(sid) > MAX_SID or not sid.isascii() or not sid.isalnum():
        raise BadRequest("MessageSid is missing or malformed")
    return sid


def read_error_code(form) -> str | None:
    code = (form.get("ErrorCode") or "").strip()
    if code and (len(code) > MAX_ERROR_CODE or not code.isascii() or not code.isdigit()):
        raise BadRequest("ErrorCode must be Twilio's numeric error code")
    return code or None


@dataclass(frozen=True)
class Received:
    sid: str
    phone: str  # E.164, or a test person's sim: address
    kind: str   # text | button | list | location | media | audio | empty
    body: str
    payload: str | None
    media_types: tuple[str, ...]
    truncated: bool
    channel: str = "whatsapp"  # local: the terminal chat or the simulator


def phone_from_address(address: str, region: str = "NL") -> str:
    """'whatsapp:+31612345678' -> '+31612345678'; anything that is not a valid number is refused."""
    channel, _, number = address.partition(":")
    if not number or channel not in ("whatsapp", "sms"):
        raise BadRequest("sender address is not a WhatsApp number")
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        raise BadRequest("sender number cannot be read") from None
    if not phonenumbers.is_possible_number(parsed):
        raise BadRequest("sender number is not a possible phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# Test people (the phone simulator, `flask chat`) write from their own address space, which no
# WhatsApp number can ever be, so a test can never speak as, or be answered as, a real person.
TEST_SENDER = re.compile(r"sim:[a-z0-9-]{1,32}")


def test_sender(name: str) -> str:
    """The address of a test person called `name` (letters, digits, dashes)."""
    address = f"sim:{name.strip().lower()}"
    if not TEST_SENDER.fullmatch(address):
        raise BadRequest("a test person's name is 1 to 32 letters, digits or dashes")
    return address


def read_inbound(form, region: str, max_chars: int, *, from_test_person: bool = False) -> Received:
    """`from_test_person`: the simulator and `flask chat`, whose senders are `sim:` addresses;
    Twilio's webhook never accepts one."""
    sid = read_sid(form)
    address = form.get("From", "")
    if from_test_person != address.startswith("sim:"):
        raise BadRequest("sender address is not a WhatsApp number" if not from_test_person
                         else "a test person writes from a sim: address")
    phone = test_sender(address[4:]) if from_test_person else phone_from_address(address, region)
    body = (form.get("Body") or "").replace("\x00", "")
    truncated = len(body) > max_chars
    body = body[:max_chars]
    count = (form.get("NumMedia") or "0").strip()
    if not count.isascii() or not count.isdigit() or int(count) > MAX_MEDIA:
        raise BadRequest(f"NumMedia must be a whole number from 0 to {MAX_MEDIA}")
    media_count = int(count)
    media_types = tuple(_field(form, f"MediaContentType{i}", 255) for i in range(media_count))
    payload = _field(form, "ButtonPayload", MAX_PAYLOAD) or _field(form, "ListId", MAX_PAYLOAD) or None
    message_type = _field(form, "MessageType", 32)
    if payload:
        kind = "button" if form.get("ButtonPayload") else "list"
        body = body or _field(form, "ButtonText", MAX_TITLE) or _field(form, "ListTitle", MAX_TITLE)
    elif form.get("Latitude") or form.get("Longitude"):
        kind = "location"
        body = f"geo:{_coordinate(form, 'Latitude', 90):.6f},{_coordinate(form, 'Longitude', 180):.6f}"
    elif body.strip():
        kind = "text"
    elif media_count or message_type in ("audio", "image", "video", "document", "sticker"):
        audio = message_type == "audio" or any(t.startswith("audio/") for t in media_types)
        kind = "audio" if audio else "media"
    else:
        kind = "empty"
    channel = "local" if from_test_person else "whatsapp"
    return Received(sid=sid, phone=phone, kind=kind, body=body, payload=payload,
                    media_types=media_types, truncated=truncated, channel=channel)
