"""What a permanent delivery failure means for the person, by Twilio's error code.

63003/63024/21211: the number cannot get WhatsApp messages; bulk sends skip it from now on.
63014: the person blocked us; that is an opt-out. 63016: outside the 24-hour window; the
message is held until the person writes, behind the approved "you have a message" template
(delivery/window.py, the same path as a message found outside the window before sending).
"""
from __future__ import annotations

import logging

from delivery.window import hold_copy
from store.models import Contact, Message, utcnow

log = logging.getLogger(__name__)
UNREACHABLE = {"63003", "63024", "21211", "21614"}
BLOCKED = {"63014"}
OUTSIDE_WINDOW = {"63016"}


def apply_failure(session, runtime, message: Message, code: str | None) -> str | None:
    if not code or message.direction != "out":
        return None
    contact: Contact = message.contact
    if code in UNREACHABLE:
        contact.unreachable_at = contact.unreachable_at or utcnow()
        return "unreachable"
    if code in BLOCKED:
        contact.opted_out = True
        return "opted out"
    if code in OUTSIDE_WINDOW and message.kind != "template":
        return "template queued" if hold_copy(session, runtime, message) else "held"
    return None
