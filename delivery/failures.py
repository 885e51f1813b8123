"""What a permanent delivery failure means for the person, by Twilio's error code.

63003/63024/21211: the number cannot get WhatsApp messages; bulk sends skip it from now on.
63014: the person blocked us; that is an opt-out. 63016: outside the 24-hour window; the
message waits and the person gets the approved "you have a message" template to open it.
"""
from __future__ import annotations

import logging

from bot.i18n import N_
from store.models import Contact, Message, OutboxItem, utcnow

log = logging.getLogger(__name__)
UNREACHABLE = {"63003", "63024", "21211", "21614"}
BLOCKED = {"63014"}
OUTSIDE_WINDOW = {"63016"}
WAITING = N_("You have a new message from {program}. Tap the button to read it.")


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
        from registration.lifecycle import runtime_placeholders

        language = contact.language or runtime.settings.languages.source
        content_sid = runtime.settings.registration.templates.get("message_waiting", {}).get(language)
        if not content_sid:
            log.warning("no approved message_waiting template for %s: a message stays undelivered", language)
            return "no template"
        body = runtime.translator.text(WAITING, language, **runtime_placeholders(runtime))
        waiting = Message(contact_id=contact.id, direction="out", kind="template", body=body, content_sid=content_sid,
                          sender="bot", status="pending")
        session.add_all([waiting, OutboxItem(message=waiting)])
        return "template queued"
    return None
