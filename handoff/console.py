"""What a helper does with a ticket: claim it, pass it on, answer, note, close. The web
console and the CLI call these; the bot stays silent while a ticket is open."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.i18n import N_
from bot.messages import Reply
from delivery.notices import free_text_reaches, route
from delivery.outbox import queue_replies
from delivery.window import WAITING_TAG
from handoff.context import vouchers
from privacy.audit import record
from store import conversations
from store.models import Contact, Message, OutboxItem, StaffUser, Ticket, TicketNote, Voucher, utcnow
from vouchers.delivery import voucher_replies

BACK_TO_BOT = N_("Our helper has finished this conversation. You are talking to the bot again: write MENU to see "
                 "what I can do.")
OUTCOMES = ("resolved", "referred", "no answer", "not needed")


class ConsoleError(ValueError):
    pass


def claim(session, ticket: Ticket, user: StaffUser) -> None:
    if ticket.status != "open":
        raise ConsoleError("this ticket is closed")
    ticket.assigned_to_id = user.id
    ticket.claimed_at = ticket.claimed_at or utcnow()


def assign(session, ticket: Ticket, to: StaffUser) -> None:
    if to.role not in ("agent", "supervisor", "admin") or not to.active:
        raise ConsoleError(f"{to.email} cannot take helpdesk tickets")
    ticket.assigned_to_id = to.id


def reply(session, runtime, ticket: Ticket, user: StaffUser, text: str) -> str:
    """Queue the helper's answer. Outside WhatsApp's 24-hour window free text cannot be sent:
    the console then offers approved templates only."""
    text = (text or "").strip()
    if not text:
        raise ConsoleError("write a message first")
    if ticket.status != "open":
        raise ConsoleError("this ticket is closed")
    contact = ticket.contact
    if not free_text_reaches(runtime.settings, contact):
        raise ConsoleError("the 24-hour window is closed: send an approved template instead")
    if ticket.assigned_to_id is None:
        claim(session, ticket, user)
    items = queue_replies(session, runtime.settings, contact, [Reply(text=text)], sender="agent")
    for item in items:
        item.message.author = user.email
    return "queued"


def note(session, ticket: Ticket, user: StaffUser, text: str) -> TicketNote:
    text = (text or "").strip()
    if not text:
        raise ConsoleError("write a note first")
    entry = TicketNote(ticket_id=ticket.id, author=user.email, text=text)
    session.add(entry)
    return entry


def close(session, runtime, ticket: Ticket, user: StaffUser, outcome: str) -> None:
    from handoff.tickets import close_ticket

    if outcome not in OUTCOMES:
        raise ConsoleError(f"outcome must be one of: {', '.join(OUTCOMES)}")
    if ticket.status != "open":
        raise ConsoleError("this ticket is closed already")
    close_ticket(session, ticket, outcome)
    contact = ticket.contact
    if not contact.opted_out and free_text_reaches(runtime.settings, contact):
        language = contact.language or runtime.settings.languages.source
        text = runtime.translator.text(BACK_TO_BOT, language, **runtime.settings.placeholders())
        queue_replies(session, runtime.settings, contact, [Reply(text=text)])
    conversations.forget(session, contact.id)


def templates_for(runtime, contact) -> dict[str, str]:
    """Approved templates (name -> Content SID) in the person's language: all a helper may send
    once the 24-hour window has closed."""
    found = {}
    for name in sorted(runtime.settings.templates):
        routed = route(runtime.settings, contact, name, window_closed=True)
        if routed.content_sid:
            found[name] = routed.content_sid
    return found


def send_template(session, runtime, ticket: Ticket, user: StaffUser, name: str) -> Message:
    """Queue an approved template from the helper: the only message WhatsApp accepts outside
    the 24-hour window. Like a reply it claims an unclaimed ticket; the caller commits and then
    queues delivery."""
    if ticket.status != "open":
        raise ConsoleError("this ticket is closed")
    contact = ticket.contact
    if contact.opted_out:
        raise ConsoleError("this person has opted out: nothing can be sent")
    content_sid = templates_for(runtime, contact).get(name)
    if not content_sid:
        language = contact.language or runtime.settings.languages.source
        raise ConsoleError(f"there is no approved template {name!r} for {language}")
    if ticket.assigned_to_id is None:
        claim(session, ticket, user)
    message = Message(contact_id=contact.id, direction="out", kind="template", body=f"[approved template: {name}]",
                      content_sid=content_sid, sender="agent", author=user.email, status="pending",
                      tag=WAITING_TAG if name == "message_waiting" else None)  # delivery then asks no second time
    session.add_all([message, OutboxItem(message=message, queue="replies")])
    session.flush()
    return message


RESEND_QUIET = timedelta(minutes=5)  # a second click within this sends nothing more
NOT_ARRIVED = ("failed", "undelivered")


def resend_vouchers(session, runtime, ticket: Ticket, user: StaffUser) -> str:
    """"Send voucher again" on a ticket (see `send_vouchers_again`); the helper who sends it takes
    the ticket if nobody has it."""
    if ticket.status != "open":
        raise ConsoleError("this ticket is closed")
    told, sent = send_vouchers_again(session, runtime, ticket.contact, user.email, f"ticket:{ticket.id}")
    if sent and ticket.assigned_to_id is None:
        claim(session, ticket, user)
    return told


def send_vouchers_again(session, runtime, contact, email: str, where: str) -> tuple[str, int]:
    """Every voucher with money left, as the chat's own "resend" sends it (the image, with the
    code and PIN in the text), through the outbox: from a ticket, or at the desk with the person
    there. Idempotent: a voucher a staff member already re-sent in the last RESEND_QUIET (and not
    failed) is not sent twice, so a double click or two helpers at once send one copy; the
    program's own earlier send does not count (the person is asking because it did not reach
    them). Outside the 24-hour window delivery holds it and sends the approved message_waiting
    template; it goes when the person writes. Audited per voucher, with `where` (ticket:7, desk).
    Returns what staff are told and how many were queued; the caller commits and delivers."""
    if contact.opted_out:
        raise ConsoleError("this person has opted out: nothing can be sent")
    # Two clicks at once: the second waits here for the first's commit, then sees its copy.
    session.execute(select(Contact.id).where(Contact.id == contact.id).with_for_update())
    current = [v.id for v in vouchers(session, runtime.vouchers, contact.id) if v.resendable]
    if not current:
        raise ConsoleError("this person has no voucher with money left to send")
    tags = {f"voucher:{number}": number for number in current}
    recent = set(session.scalars(select(Message.tag).where(
        Message.contact_id == contact.id, Message.tag.in_(tags), Message.sender == "agent",
        Message.created_at >= utcnow() - RESEND_QUIET,
        Message.status.not_in(NOT_ARRIVED))))
    todo = [number for tag, number in tags.items() if tag not in recent]
    if not todo:
        return "already sent in the last few minutes: nothing sent twice", 0
    rows = list(session.scalars(select(Voucher).where(Voucher.id.in_(todo)).order_by(Voucher.id)))
    items = queue_replies(session, runtime.settings, contact, voucher_replies(runtime, contact, rows), sender="agent")
    for item in items:
        item.message.author = email
    for voucher in rows:
        record(session, f"staff:{email}", "resent voucher", f"voucher:{voucher.id}", where)
    count = f"{len(rows)} voucher{'s' if len(rows) != 1 else ''}"
    if free_text_reaches(runtime.settings, contact):
        return f"{count} sent again", len(rows)
    return (f"{count} queued: the 24-hour window is closed, so it waits until the person writes "
            "(they are sent the approved 'you have a message' template where there is one)"), len(rows)
