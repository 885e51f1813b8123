"""How personal data and times appear on staff pages."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import phonenumbers
from markupsafe import Markup, escape

MASK = "\u2022" * 7
# Someone who writes with a WhatsApp username and hides their number: staff never see their user ID.
NO_NUMBER = "WhatsApp username user"


def mask_phone(phone: str | None) -> str:
    """The country code and the last 3 digits: enough to tell people apart on a list or on the
    phone, not enough to write to them. A fixed number of dots hides the number's length too."""
    if not phone:
        return NO_NUMBER
    digits = "".join(ch for ch in phone if ch.isdigit())
    try:
        prefix = f"+{phonenumbers.parse(phone, None).country_code}"
    except phonenumbers.NumberParseException:
        prefix = ""
    return f"{prefix}{MASK}{digits[-3:]}"


def when(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:  # SQLite gives back naive times; they are stored in UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def whatsapp(text: str | None) -> Markup:
    """A message as WhatsApp shows it, for previews (in a .wa-bubble, which keeps line breaks): *bold* in bold."""
    return Markup(re.sub(r"\*([^*\n]+)\*", r"<strong>\1</strong>", str(escape(text or ""))))
