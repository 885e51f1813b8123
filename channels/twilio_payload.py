"""Reading Twilio's inbound WhatsApp parameters into what the service keeps of them.

Twilio adds parameters without notice; unknown ones are ignored. Only what the dialogue
needs is kept: not the profile name, not the media itself. This is the one place that knows
Twilio's parameter names, so a change of naming is a change here.

A sender is a phone number (`whatsapp:+31612345678`, with `WaId` beside it) or, for someone
who uses a WhatsApp username and hides their number, a business-scoped user ID
(`whatsapp:NL.13491208655302741918`). A message may carry the other one too: the BSUID in
`ExternalUserIdentifier` beside a number, or the number in `WaId` beside a BSUID. Both are
kept, so the two are known to be one person.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import phonenumbers

from store.identifiers import Identity
from store.models import BSUID, PHONE

log = logging.getLogger(__name__)

FROM, WA_ID, EXTERNAL_USER_ID = "From", "WaId", "ExternalUserIdentifier"
# Two-letter country code, a period, up to 128 alphanumerics; managed businesses see a parent
# form with one more segment (NL.ENT.…).
BSUID_PATTERN = re.compile(r"[A-Z]{2}\.(?:[A-Z]{2,8}\.)?[A-Za-z0-9]{1,128}")


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
    sender: Identity  # the identifier the person wrote from: replies go there
    linked: tuple[Identity, ...]  # other identifiers of the same person the message carried
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


def is_bsuid(value: str) -> bool:
    return BSUID_PATTERN.fullmatch(value) is not None


def sender_from_address(address: str, region: str = "NL") -> Identity:
    """'whatsapp:+31612345678' or 'whatsapp:NL.1349…' -> who wrote; anything else is refused."""
    channel, _, rest = address.partition(":")
    if channel == "whatsapp" and rest[:1].isalpha():
        if not is_bsuid(rest):
            raise BadRequest("sender is neither a WhatsApp number nor a WhatsApp user ID")
        return Identity(BSUID, rest)
    return Identity(PHONE, phone_from_address(address, region))


def _linked(form, sender: Identity, region: str) -> tuple[Identity, ...]:
    """The other identifier a message may carry beside its sender. A malformed one is left out
    (the message itself is fine and is answered); only a well-formed one links."""
    found = []
    external = (form.get(EXTERNAL_USER_ID) or "").strip()
    if external and external != sender.value:
        if is_bsuid(external):
            found.append(Identity(BSUID, external))
        else:
            log.info("inbound %s ignored: not a WhatsApp user ID", EXTERNAL_USER_ID)
    wa_id = (form.get(WA_ID) or "").strip()
    if wa_id and sender.kind == BSUID:
        try:
            found.append(Identity(PHONE, phone_from_address(f"whatsapp:+{wa_id.lstrip('+')}", region)))
        except BadRequest:
            log.info("inbound %s ignored: not a phone number", WA_ID)
    return tuple(found)


def read_inbound(form, region: str, max_chars: int, *, from_test_person: bool = False) -> Received:
    """`from_test_person`: the simulator and `flask chat`, whose senders are `sim:` addresses;
    Twilio's webhook never accepts one."""
    sid = read_sid(form)
    address = form.get(FROM, "")
    if from_test_person != address.startswith("sim:"):
        raise BadRequest("sender address is not a WhatsApp number" if not from_test_person
                         else "a test person writes from a sim: address")
    sender = Identity(PHONE, test_sender(address[4:])) if from_test_person else sender_from_address(address, region)
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
    linked = () if from_test_person else _linked(form, sender, region)
    return Received(sid=sid, sender=sender, linked=linked, kind=kind, body=body, payload=payload,
                    media_types=media_types, truncated=truncated, channel=channel)
