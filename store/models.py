"""The tables. Alembic migrations in migrations/ are the source of the schema in a database;
these classes must match them (a test compares the two).
"""
from __future__ import annotations

import secrets
from datetime import UTC, date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from settings import DEFAULT_KIND
from store import sealing
from store.personal import PersonalJSON, PersonalText

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Ids of what concerns a person are never handed out twice: SQLite otherwise gives the highest
# id again after that row is deleted (an erasure), and an old id would then name someone new.
# PostgreSQL's sequences never go back.
NEVER_REUSED = {"sqlite_autoincrement": True}


def utcnow() -> datetime:
    return datetime.now(UTC)


def _instant(moment: datetime | None) -> float:
    """Seconds since the epoch; SQLite gives back naive times, stored in UTC. None is earliest."""
    if moment is None:
        return 0.0
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Contact(Base):
    """A person who writes to the service, known by one or more identifiers (a phone number, a
    WhatsApp business-scoped user ID): see `ContactIdentifier`."""

    __tablename__ = "contacts"
    __personal_owner__ = "id"  # the person themselves: their PersonalText columns use data_key_id
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    language: Mapped[str | None] = mapped_column(String(8))
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str] = mapped_column(String(16), default="whatsapp", server_default="whatsapp")  # or local
    unreachable_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # WhatsApp said: no such user
    region: Mapped[str | None] = mapped_column(PersonalText)  # where the person looks for help (referral content)
    last_inbound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The id of this person's data key in the keyring (store/data_keys.py); erasure destroys it.
    data_key_id: Mapped[str | None] = mapped_column(String(32), unique=True)

    messages: Mapped[list[Message]] = relationship(back_populates="contact", cascade="all, delete-orphan",
                                                     passive_deletes=True)
    identifiers: Mapped[list[ContactIdentifier]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", passive_deletes=True, lazy="selectin",
        order_by="ContactIdentifier.id")

    @property
    def phone(self) -> str | None:
        """The person's phone number (E.164), or None for someone known only by their WhatsApp username."""
        return next((i.value for i in self.identifiers if i.kind == PHONE), None)

    @property
    def address(self) -> str | None:
        """Where replies go: the identifier the person last wrote from; their number if they never wrote."""
        if not self.identifiers:
            return None
        return max(self.identifiers, key=lambda i: (_instant(i.last_inbound_at), i.kind == PHONE)).value


PHONE, BSUID = "phone", "bsuid"


class ContactIdentifier(Base):
    """One way WhatsApp names a person: their phone number, or the business-scoped user ID
    (BSUID) WhatsApp gives someone who hides their number behind a username. Kept only as a
    keyed hash (`key`, to find the person) and encrypted (`value`, to send to them). A person
    has several when one message carried both, or when staff merged two contacts."""

    __tablename__ = "contact_identifiers"
    __table_args__ = NEVER_REUSED
    __personal_owner__ = "contact_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # phone | bsuid
    key: Mapped[str] = mapped_column(String(64), unique=True)  # store.personal.lookup_key of the value
    value: Mapped[str] = mapped_column(PersonalText)
    last_inbound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # last written from
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    contact: Mapped[Contact] = relationship(back_populates="identifiers")


class Message(Base):
    """One WhatsApp message, in or out. `provider_sid` is Twilio's MessageSid: unique, so a
    retried webhook or a second callback finds the row it already made."""

    __tablename__ = "messages"
    __personal_owner__ = "contact_id"
    __table_args__ = (Index("ix_messages_contact_direction_processed", "contact_id", "direction", "processed_at"),
                      NEVER_REUSED)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed by ix_messages_contact_direction_processed, which leads with it.
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # text, button, list, location, media, empty, template, sms
    body: Mapped[str | None] = mapped_column(PersonalText)
    payload: Mapped[str | None] = mapped_column(PersonalText)  # the button or list row a person tapped
    media_types: Mapped[list | None] = mapped_column(JSON(none_as_null=True))
    media_url: Mapped[str | None] = mapped_column(String(2048))
    content_sid: Mapped[str | None] = mapped_column(String(64))
    content_variables: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    options: Mapped[list | None] = mapped_column(PersonalJSON)
    language: Mapped[str | None] = mapped_column(String(8))  # a menu's: its buttons speak the language of its text
    location: Mapped[dict | None] = mapped_column(PersonalJSON)  # a map pin: latitude, longitude, label
    tag: Mapped[str | None] = mapped_column(String(64))  # what the message carries, e.g. voucher:42
    sender: Mapped[str] = mapped_column(String(16), default="person")  # person | bot | agent
    author: Mapped[str | None] = mapped_column(String(254))  # the agent's email, for agent messages
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # An inbound message whose processing failed: how often, the last error's class (never its
    # text), and when it was set aside so the person's later messages go on (inbox/poison.py).
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failure: Mapped[str | None] = mapped_column(String(64))
    set_aside_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    contact: Mapped[Contact] = relationship(back_populates="messages")
    outbox: Mapped[OutboxItem | None] = relationship(back_populates="message", cascade="all, delete-orphan",
                                                       passive_deletes=True)


class OutboxItem(Base):
    """A reply waiting for delivery. Written in the transaction that decided to send it, so a
    crash can lose neither the state change nor the reply; delivery works through this table."""

    __tablename__ = "outbox"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    queue: Mapped[str] = mapped_column(String(16), default="replies")
    # pending | sending | uncertain (may have reached Twilio: reconciled, never sent blindly again)
    # | held (free text outside the 24-hour window: waits for the person to write) | sent | failed
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    attempted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the last request's start
    # pending: not tried again before (backoff); uncertain: not reconciled before
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_by: Mapped[str | None] = mapped_column(String(32))  # the worker process sending it (workers.id)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    message: Mapped[Message] = relationship(back_populates="outbox")


class Worker(Base):
    """A worker process that delivers, with when it last said it is alive. Kept in the database
    rather than Redis, so a Redis restart cannot make live workers look dead: a row left
    `sending` by a worker that stopped saying so is settled in seconds, not minutes."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConversationState(Base):
    """Where a person is in the conversation (flow, step, answers so far; encrypted: it may hold
    a name typed half-way through registering). Written in the transaction that records the
    replies to the message that moved it, so a crash, a retry or a lost Redis can neither set
    anyone back nor apply a message twice."""

    __tablename__ = "conversation_states"
    __personal_owner__ = "contact_id"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(PersonalText)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class EarlyStatus(Base):
    """A status callback that arrived before the send that caused it was recorded."""

    __tablename__ = "early_statuses"

    provider_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Ticket(Base):
    """A conversation handed to the helpdesk."""

    __tablename__ = "tickets"
    __table_args__ = (UniqueConstraint("contact_id", "open_marker"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    language: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="open")
    # 1 while open, NULL when closed: the unique constraint allows one open ticket per person.
    open_marker: Mapped[int | None] = mapped_column(Integer, default=1)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    contact: Mapped[Contact] = relationship()
    notes: Mapped[list[TicketNote]] = relationship(cascade="all, delete-orphan", passive_deletes=True,
                                                     order_by="TicketNote.id")


class TicketNote(Base):
    """An internal note on a ticket: for the team, never sent to the person."""

    __tablename__ = "ticket_notes"
    __personal_owner__ = ("ticket_id", Ticket.contact_id)
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(254))
    text: Mapped[str] = mapped_column(PersonalText)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Partner(Base):
    """An organisation that refers people to the program."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Registration(Base):
    """A person's place in the program, from import or first contact to inclusion."""

    __tablename__ = "registrations"
    __personal_owner__ = "contact_id"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), unique=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), index=True)
    partner_ref: Mapped[str | None] = mapped_column(PersonalText)
    partner_named: Mapped[str | None] = mapped_column(PersonalText)  # what the person said, when not imported
    status: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str | None] = mapped_column(PersonalText)
    number_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Who took the consent when staff registered the person at the desk (their staff account's email).
    consent_by: Mapped[str | None] = mapped_column(String(254))
    # Registered at the desk without WhatsApp: served on paper (printed vouchers), never messaged.
    no_whatsapp: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    join_code: Mapped[str] = mapped_column(String(12), unique=True)
    # What the voucher provider knows this person's vouchers by (period:issue_key): random and
    # never re-used, so no one is handed a voucher meant for someone erased before them.
    issue_key: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: secrets.token_hex(16))
    # What staff marked about the person for the kinds of voucher that need it (vouchers.kinds.*.
    # eligibility.flags), comma-separated words such as "pharmacy"; never free text about them.
    flags: Mapped[str] = mapped_column(String(200), default="", server_default="")
    invited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    contact: Mapped[Contact] = relationship()
    partner: Mapped[Partner | None] = relationship()
    events: Mapped[list[RegistrationEvent]] = relationship(
        back_populates="registration", cascade="all, delete-orphan", passive_deletes=True,
        order_by="RegistrationEvent.id")


class RegistrationEvent(Base):
    """Who changed a registration's status, when and why."""

    __tablename__ = "registration_events"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    registration: Mapped[Registration] = relationship(back_populates="events")


class Invitation(Base):
    """One invitation sent to an imported person."""

    __tablename__ = "invitations"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StaffUser(Base):
    """Someone who works on the program: staff, helpdesk, editors, partners."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # admin | supervisor | agent | editor | partner
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StaffSession(Base):
    """A signed-in browser. The cookie holds a random token; only its hash is kept here, so
    signing out (deleting the row) ends that session wherever the cookie was copied."""

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie's token
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))




class Store(Base):
    """A supermarket (or chain) whose tills redeem vouchers; it authenticates with a key."""

    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The kinds of voucher its tills may spend, comma-separated: a leaked key of a pharmacy
    # cannot spend supermarket vouchers.
    kinds: Mapped[str] = mapped_column(String(200), default=DEFAULT_KIND, server_default=DEFAULT_KIND)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Disabled, never deleted: its tills are refused from then on, its past redemptions keep their store.
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_by: Mapped[str | None] = mapped_column(String(254))

    def accepts(self, kind: str) -> bool:
        return kind in self.kinds.split(",")


class LedgerVoucher(Base):
    """The embedded provider's side of a voucher: its code, PIN and balance. A real issuer
    keeps this on their side; the program only keeps `Voucher`."""

    __tablename__ = "ledger_vouchers"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    pin: Mapped[str] = mapped_column(String(8))
    currency: Mapped[str] = mapped_column(String(3))
    amount_cents: Mapped[int] = mapped_column(Integer)
    balance_cents: Mapped[int] = mapped_column(Integer)
    valid_until: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(32), default=DEFAULT_KIND, server_default=DEFAULT_KIND)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the till refuses it from then
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LedgerRedemption(Base):
    """A spend at a till. The store's transaction id makes a retried request a no-op."""

    __tablename__ = "ledger_redemptions"
    __table_args__ = (UniqueConstraint("store_id", "transaction_id"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(primary_key=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("ledger_vouchers.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    transaction_id: Mapped[str] = mapped_column(String(64))
    amount_cents: Mapped[int] = mapped_column(Integer)
    balance_after_cents: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Voucher(Base):
    """The program's record of a voucher for a person. One per person, kind and period,
    enforced by the database. After erasure only the anonymous accounting remains."""

    __tablename__ = "vouchers"
    __table_args__ = (UniqueConstraint("registration_id", "kind", "period"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registrations.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    # The kind's period: an ISO week (2026-W49), a month (2026-12) or "once" (a one-off kind).
    period: Mapped[str] = mapped_column(String(8), index=True)
    kind: Mapped[str] = mapped_column(String(32), default=DEFAULT_KIND, server_default=DEFAULT_KIND)
    provider_reference: Mapped[str] = mapped_column(String(64), unique=True)
    code: Mapped[str] = mapped_column(String(32))
    pin: Mapped[str] = mapped_column(String(8))
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    valid_until: Mapped[date] = mapped_column(Date)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(String(200))
    # Printed and handed to the person at the desk (vouchers/printing.py), and by which staff account.
    handed_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handed_out_by: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    contact: Mapped[Contact | None] = relationship()


class AuditEntry(Base):
    """Who looked at or changed a person's data, for staff to read. Append-only: no page
    edits it, and in PostgreSQL a trigger refuses UPDATE and DELETE. It names subjects by id,
    never by personal data, so erasing a person leaves it intact."""

    __tablename__ = "audit_log"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(64))  # e.g. registration:42, ticket:7
    detail: Mapped[str] = mapped_column(String(500), default="")


class ContentRelease(Base):
    """Content as published by an editor (`kind`: referral content, flows with their texts, ready answers):
    what every process serves until the next release of that kind. Files on disk are the draft;
    only a bundle that passed the check is stored here. A rollback is a new release with an
    earlier one's bundle, so the history only grows (store/releases.py)."""

    __tablename__ = "content_releases"
    __table_args__ = (UniqueConstraint("kind", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="referrals", server_default="referrals")
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, 3... within its kind: what editors call it
    note: Mapped[str] = mapped_column(String(500), default="", server_default="")
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_by: Mapped[str] = mapped_column(String(254))
    fingerprint: Mapped[str] = mapped_column(String(64))
    bundle: Mapped[dict] = mapped_column(JSON)


class ReferralFeedback(Base):
    """One "was this helpful?" answer. Names the offer, never the person."""

    __tablename__ = "referral_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    offer: Mapped[str] = mapped_column(String(128), index=True)
    helpful: Mapped[bool] = mapped_column(Boolean)
    language: Mapped[str | None] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StepCount(Base):
    """How often, on one day and in one language, a flow step was reached, answered, ended a
    conversation, was not understood or handed the chat to a person: counts for editors'
    statistics, never who (no contact, no text, no time finer than the day)."""

    __tablename__ = "step_counts"
    __table_args__ = (UniqueConstraint("day", "flow", "step", "language", "event"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    flow: Mapped[str] = mapped_column(String(64))  # "" for a message outside any flow
    step: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))  # "" while the language is not known
    event: Mapped[str] = mapped_column(String(16))  # reached | answered | ended | not_understood | handoff
    count: Mapped[int] = mapped_column(Integer, default=0)


class WhatsAppContent(Base):
    """A reply-button or list-picker content created at Twilio's Content API, by what it holds
    (kind, language, titles and payloads: `key` is a hash of the request), so every process
    reuses it instead of creating one per message. Holds no personal data: the text above
    the buttons is a variable filled in per message."""

    __tablename__ = "whatsapp_contents"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_sid: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # buttons | list
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WhatsAppTemplate(Base):
    """An approved-template content (`flask whatsapp sync`) for one template name and language,
    and what WhatsApp said about it (received, pending, approved, rejected, paused, disabled).
    Only approved ones are used for messages outside the 24-hour window; `body_key` is a hash of
    the content, so a changed text is made and submitted again. No personal data."""

    __tablename__ = "whatsapp_templates"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    content_sid: Mapped[str] = mapped_column(String(64))
    body_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    rejection_reason: Mapped[str | None] = mapped_column(String(500))
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ForgottenMessage(Base):
    """The MessageSid of an erased person's message, as a keyed hash: Twilio re-sending it
    within the deduplication window (privacy.replay_days) must not bring the person back."""

    __tablename__ = "forgotten_messages"

    sid_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


sealing.install(Base, Contact)
