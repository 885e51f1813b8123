"""The 24-hour window, decided for each message when it is delivered.

WhatsApp takes free text only within 24 hours of the person's last message; outside it only
approved templates. The decision is made at delivery time, not when the message was written,
because a bulk batch, a retry or a helper's reply can be delivered later than the window
lasts. A message that needs free text outside the window is held (never failed): the person
gets the approved `message_waiting` template once ("you have a message, tap to read"), and
their next message releases what was held, delivered in the order it was written. Twilio's
63016 (WhatsApp found the window closed after all) goes the same way: the refused message is
held again as a copy, so the refused one keeps its status for staff.
"""
from __future__ import annotations

import logging

from sqlalchemy import bindparam, select, update

from bot.i18n import N_
from delivery.notices import Notice, free_text_reaches, send_notice
from store.models import Contact, Message, OutboxItem

log = logging.getLogger(__name__)
WAITING_TAG = "delivery:message_waiting"
WAITING = N_("You have a new message from {program}. Tap the button to read it.")


def outside_window(runtime, contact: Contact, message: Message) -> bool:
    """Free text that WhatsApp would refuse now (templates and SMS go out at any time)."""
    return message.content_sid is None and message.kind != "sms" and not free_text_reaches(runtime.settings, contact)


def ask_to_open(session, runtime, contact: Contact) -> bool:
    """Queue the approved message_waiting template, unless one went out since the person last
    wrote. True if one was queued (the caller delivers it after commit)."""
    since = contact.last_inbound_at
    already = select(Message.id).where(Message.contact_id == contact.id, Message.tag == WAITING_TAG)
    if since is not None:
        already = already.where(Message.created_at > since)
    if session.scalar(already.limit(1)) is not None:
        return False
    routed, waiting = send_notice(session, runtime.settings, runtime.translator, contact,
                                  Notice(text=WAITING, template="message_waiting", tag=WAITING_TAG, queue="replies"),
                                  window_closed=True)
    if waiting is None:
        log.warning("%s: held messages wait until the person writes", routed.why_not)
        return False
    return True


def hold_copy(session, runtime, message: Message) -> bool:
    """63016: keep the refused message as it is and hold a copy for when the person writes."""
    copy = Message(contact_id=message.contact_id, direction="out", kind=message.kind, body=message.body,
                   media_url=message.media_url, options=message.options, language=message.language,
                   location=message.location,
                   tag=message.tag, sender=message.sender, author=message.author, status="pending")
    session.add_all([copy, OutboxItem(message=copy, queue="replies", state="held")])
    return ask_to_open(session, runtime, message.contact)


_RELEASE = (update(OutboxItem).where(
    OutboxItem.state == "held",
    OutboxItem.message_id.in_(
        select(Message.id).where(Message.contact_id == bindparam("contact_id")).scalar_subquery()))
    .values(state="pending"))


def release_held(connection, contact_id: int) -> int:
    """The person wrote: what was held for them may go now. Returns how many rows."""
    return connection.execute(_RELEASE, {"contact_id": contact_id}).rowcount
