"""Merging two contacts that staff know to be one person.

A person who starts using a WhatsApp username writes from a business-scoped user ID instead of
their number. When no message ever carried both, nothing ties the two, so the bot meets a new
person; staff who learn it is the same person (the helpdesk, a partner) merge the two contacts.
Everything moves to the contact kept: identifiers (so replies reach wherever the person last
wrote from), messages, helpdesk tickets, vouchers, and the registration when only the other one
has it. The other contact goes. The merge is recorded in the audit log, by ids only.

Two registrations cannot become one: when both contacts have one, the other one may only be
dropped while it has no vouchers and was never verified or included; otherwise staff end one
first, deliberately.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Text, func, select, type_coerce, update

from privacy.audit import record
from privacy.rotate import personal_tables
from store import conversations
from store.models import PHONE, Base, Contact, ContactIdentifier, Message, Registration, Ticket, Voucher, utcnow
from store.personal import decrypt, encrypt, key_id_of
from store.sealing import contact_key, owner_expression

DROPPABLE = ("imported", "invited", "registering", "registered", "declined", "ended")


class MergeRefused(ValueError):
    """The two contacts cannot be merged; the text says why, for staff."""


@dataclass
class Holdings:
    """What one contact holds, for staff to compare before merging (no identifier in clear)."""

    contact_id: int
    identifiers: list[str] = field(default_factory=list)  # "phone" | "WhatsApp username", per identifier
    phone: str | None = None
    language: str | None = None
    registration_id: int | None = None
    registration_status: str | None = None
    vouchers: int = 0
    messages: int = 0
    tickets: int = 0
    open_ticket: bool = False
    opted_out: bool = False
    created_at: datetime | None = None
    last_inbound_at: datetime | None = None

    def as_dict(self) -> dict:
        return {"contact": self.contact_id, "identifiers": self.identifiers, "language": self.language,
                "registration": self.registration_id, "registration_status": self.registration_status,
                "vouchers": self.vouchers, "messages": self.messages, "tickets": self.tickets,
                "open_ticket": self.open_ticket, "opted_out": self.opted_out}


def holdings(session, contact_id: int) -> Holdings | None:
    contact = session.get(Contact, contact_id)
    if contact is None or contact.erased_at is not None:
        return None
    registration = session.scalar(select(Registration).where(Registration.contact_id == contact_id))

    def count(model, *where) -> int:
        return session.scalar(select(func.count()).select_from(model).where(model.contact_id == contact_id, *where))

    return Holdings(
        contact_id=contact.id,
        identifiers=["phone" if i.kind == PHONE else "WhatsApp username" for i in contact.identifiers],
        phone=contact.phone, language=contact.language,
        registration_id=registration.id if registration else None,
        registration_status=registration.status if registration else None,
        vouchers=count(Voucher), messages=count(Message), tickets=count(Ticket),
        open_ticket=bool(count(Ticket, Ticket.status == "open")), opted_out=contact.opted_out,
        created_at=contact.created_at, last_inbound_at=contact.last_inbound_at)


def _reseal(connection, keep_id: int, old_key: str | None) -> None:
    """Everything that moved is still encrypted under the other contact's data key, which is
    destroyed with that contact: encrypt it again under the kept person's key first."""
    if old_key is None:
        return
    new_key = contact_key(connection, keep_id)
    for table, columns in personal_tables():
        model = next(m.class_ for m in Base.registry.mappers if m.local_table is table)
        key_column = next(iter(table.primary_key.columns))
        raw = [type_coerce(column, Text()).label(column.name) for column in columns]
        rows = connection.execute(select(key_column, *raw).where(owner_expression(model) == keep_id)).all()
        for row in rows:
            values = {name: type_coerce(encrypt(decrypt(stored), new_key), Text())
                      for name, stored in zip([c.name for c in columns], row[1:], strict=True)
                      if stored is not None and key_id_of(stored) == old_key}
            if values:
                connection.execute(update(table).where(key_column == row[0]).values(**values))


def merge(session, keep_id: int, other_id: int, actor: str) -> Holdings:
    """Move everything of contact `other_id` to `keep_id` and remove `other_id` (with where it
    was in the conversation), in the caller's transaction; returns what the kept contact holds."""
    if keep_id == other_id:
        raise MergeRefused("a contact cannot be merged with itself")
    keep, other = holdings(session, keep_id), holdings(session, other_id)
    for wanted, found in ((keep_id, keep), (other_id, other)):
        if found is None:
            raise MergeRefused(f"no contact {wanted} (or it was erased)")
    assert keep is not None and other is not None
    kept_registration = session.get(Registration, keep.registration_id) if keep.registration_id else None
    other_registration = session.get(Registration, other.registration_id) if other.registration_id else None
    if kept_registration and other_registration:
        has_vouchers = session.scalar(select(func.count()).select_from(Voucher)
                                      .where(Voucher.registration_id == other_registration.id))
        if has_vouchers or other_registration.status not in DROPPABLE:
            raise MergeRefused(f"both contacts have a registration (#{kept_registration.id} and "
                               f"#{other_registration.id}, {other_registration.status}); end one first")
        session.delete(other_registration)
        session.flush()
    elif other_registration:
        other_registration.contact_id = keep_id

    if keep.open_ticket and other.open_ticket:
        session.execute(update(Ticket).where(Ticket.contact_id == other_id, Ticket.status == "open")
                        .values(status="closed", open_marker=None, outcome="merged", closed_at=utcnow())
                        .execution_options(synchronize_session=False))
    for model in (Ticket, Message, Voucher, ContactIdentifier):
        session.execute(update(model).where(model.contact_id == other_id).values(contact_id=keep_id)
                        .execution_options(synchronize_session=False))

    session.expire_all()  # what was loaded before the moves (identifiers above all) is stale now
    kept, gone = session.get(Contact, keep_id), session.get(Contact, other_id)
    _reseal(session.connection(), keep_id, gone.data_key_id)
    kept.language = kept.language or gone.language
    kept.region = kept.region or gone.region
    kept.opted_out = kept.opted_out or gone.opted_out
    moments = [m for m in (kept.last_inbound_at, gone.last_inbound_at) if m is not None]
    kept.last_inbound_at = max(moments) if moments else None
    conversations.forget(session, other_id)
    session.delete(gone)
    moved = f"#{other.registration_id}" if other.registration_id else "none"
    record(session, actor, "contacts.merge", f"contact:{keep_id}",
           f"contact:{other_id} merged in ({len(other.identifiers)} identifier(s), {other.messages} message(s), "
           f"{other.vouchers} voucher(s), {other.tickets} ticket(s), registration {moved})")
    session.flush()
    result = holdings(session, keep_id)
    assert result is not None
    return result
