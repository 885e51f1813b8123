"""Erasing a person: the one way it is done, whoever asks.

The chat ("delete my data"), `flask privacy erase` and the retention purge all call `erase`,
so a table added later needs handling here once and every path erases it. What remains is
what the program must account for without knowing who: vouchers keep their amount and week
but lose the link to the person.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from privacy.replays import forget_message
from store import conversations, models
from store.models import Contact, Message, Registration, Ticket, utcnow


@dataclass
class Erased:
    messages: int = 0
    tickets: int = 0
    registrations: int = 0
    vouchers: int = 0


def erase(session, contact: Contact, *, keep=()) -> Erased:
    """Remove what the service holds about `contact` inside the caller's transaction.

    `keep` names outbound messages still to be delivered (the chat's confirmation): the
    contact row, which holds the number they go to, then stays marked `erased_at` and
    delivery drops it once they are sent (delivery/send.py). Without `keep` the contact row
    goes now. The conversation state (which may hold a name typed half-way through
    registering) goes in the same transaction, so a rollback leaves the person as they were.
    """
    keep = set(keep)
    erased = Erased()
    for message in session.scalars(select(Message).where(Message.contact_id == contact.id)):
        if message.id not in keep:
            if message.direction == "in" and message.provider_sid:
                forget_message(session, message.provider_sid)
            session.delete(message)
            erased.messages += 1
    for ticket in session.scalars(select(Ticket).where(Ticket.contact_id == contact.id)):
        session.delete(ticket)
        erased.tickets += 1
    registrations = list(session.scalars(select(Registration).where(Registration.contact_id == contact.id)))
    erased.vouchers = _anonymise_vouchers(session, contact.id, [r.id for r in registrations])
    for registration in registrations:
        session.delete(registration)  # its history goes with it; invitations by the database's cascade
    erased.registrations = len(registrations)
    conversations.forget(session, contact.id)
    contact.language = None
    contact.erased_at = utcnow()
    if not keep:
        session.delete(contact)
    return erased


def _anonymise_vouchers(session, contact_id: int, registration_ids: list[int]) -> int:
    """Vouchers stay for the accounts (amount, week, redemption) without saying whose they were.
    Looked up by name because the vouchers table is newer than this module's first version."""
    voucher = getattr(models, "Voucher", None)
    if voucher is None or not hasattr(voucher, "contact_id"):
        return 0
    links = {"contact_id": None}
    condition = voucher.contact_id == contact_id
    if hasattr(voucher, "registration_id"):
        links["registration_id"] = None
        if registration_ids:
            condition = condition | voucher.registration_id.in_(registration_ids)
    result = session.execute(update(voucher).where(condition).values(**links)
                             .execution_options(synchronize_session="fetch"))
    return result.rowcount or 0
