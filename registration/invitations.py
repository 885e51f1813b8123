"""Inviting imported people: an approved WhatsApp template (or an SMS) with a link that
opens this chat with their join code already typed."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from sqlalchemy import func, or_, select

from bot.i18n import N_
from delivery.notices import Notice, send_notice
from registration.lifecycle import change_status
from store.models import Invitation, Message, OutboxItem, Registration, utcnow

INVITATION = N_("Hello. An organisation that helps you asked us to invite you to {program}, for a weekly "
                "supermarket voucher and help in your own language. To start, open this link and send "
                "the message: {link}")


def join_link(whatsapp_number: str, code: str) -> str:
    digits = "".join(ch for ch in whatsapp_number if ch.isdigit())
    return f"https://wa.me/{digits}?text={quote(f'JOIN {code}')}"


def _due(again_after_days: int):
    cutoff = utcnow() - timedelta(days=again_after_days)
    return (Registration.status.in_(("imported", "invited")),
            or_(Registration.invited_at.is_(None), Registration.invited_at < cutoff))


def due_for_invitation(session, again_after_days: int):
    return session.scalars(select(Registration).where(*_due(again_after_days)).order_by(Registration.id))


def count_due(session, again_after_days: int) -> dict[str, int]:
    """How many invite_due would try now: first invitations and reminders, before sending."""
    rows = session.execute(select(Registration.status, func.count()).where(*_due(again_after_days))
                           .group_by(Registration.status)).all()
    counts = {"first": 0, "again": 0} | {"first" if status == "imported" else "again": n for status, n in rows}
    return counts | {"total": counts["first"] + counts["again"]}


def invite(session, runtime, registration: Registration, actor: str) -> str:
    """Queue one invitation; returns how it went, for the report."""
    settings = runtime.settings
    contact = registration.contact
    if contact.opted_out or contact.unreachable_at:
        return "skipped: opted out or unreachable"
    if contact.phone is None:  # known only by a WhatsApp user ID: an invitation needs a number
        return "skipped: no phone number"
    number = settings.connections.twilio_whatsapp_number or "+10000000000"
    link = join_link(number, registration.join_code)
    channel = settings.registration.invitation.channel
    if channel == "sms":
        language = contact.language or settings.languages.source
        body = runtime.translator.text(INVITATION, language, link=link, **settings.placeholders())
        message = Message(contact_id=contact.id, direction="out", kind="sms", body=body, sender="bot",
                          status="pending")
        session.add_all([message, OutboxItem(message=message, queue="bulk")])
    else:
        routed, sent = send_notice(session, settings, runtime.translator, contact,
                                   Notice(text=INVITATION, template="invitation", values={"link": link},
                                          variables={"1": link}))
        if sent is None:
            return f"skipped: {routed.why_not}"
        message = sent
    session.flush()
    session.add(Invitation(registration_id=registration.id, message_id=message.id, channel=channel))
    registration.invited_at = utcnow()
    change_status(session, registration, "invited", actor=actor,
                  reason="invited again" if registration.status == "invited" else "invited")
    return "invited"


def invite_due(runtime, actor: str, progress=None) -> dict[str, int]:
    counts: dict[str, int] = {}
    with runtime.session() as session:
        due = list(due_for_invitation(session, runtime.settings.registration.invitation.again_after_days))
        contacts = set()
        for registration in due:
            outcome = invite(session, runtime, registration, actor)
            counts[outcome] = counts.get(outcome, 0) + 1
            if outcome == "invited":
                contacts.add(registration.contact_id)
            if progress:
                progress(1)
        session.commit()
    runtime.tasks.send_bulk(contacts)
    return counts
