"""What a helper needs on a ticket to answer the usual questions without asking the person again:
who they are, the language the bot speaks with them, where their registration stands and how it
got there, their vouchers with what is left on each, and how their earlier tickets ended.

A voucher counts as received ("claimed") when WhatsApp reported the message delivered or read,
and also when it has been used at a till: money spent proves the person had it, even if the
delivery report never came. A fully spent voucher is never shown as waiting.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from privacy.audit import record
from registration.lifecycle import registration_for
from settings import DEFAULT_KIND
from store.models import Contact, RegistrationEvent, Ticket, Voucher, utcnow

SEES_NAMES = ("agent", "supervisor", "admin")  # helpers address the person by name; partners never see tickets
PREVIOUS_SHOWN = 20


@dataclass(frozen=True)
class VoucherState:
    id: int
    period: str
    amount_cents: int
    currency: str
    balance_cents: int
    valid_until: date
    claimed_at: datetime | None
    revoked: bool
    kind: str = DEFAULT_KIND  # vouchers.kinds: supermarket, pharmacy…

    @property
    def spent_cents(self) -> int:
        return self.amount_cents - self.balance_cents

    @property
    def claimed(self) -> bool:
        return self.claimed_at is not None or self.spent_cents > 0

    @property
    def state(self) -> str:
        """The voucher as a whole: revoked, spent, expired, partly spent, received, or not received
        yet (no delivery report from WhatsApp and nothing spent)."""
        if self.revoked:
            return "revoked"
        if self.balance_cents <= 0:
            return "spent"
        if self.valid_until < utcnow().date():
            return "expired"
        if self.spent_cents > 0:
            return "partly spent"
        return "received" if self.claimed else "not received yet"

    @property
    def resendable(self) -> bool:
        """What "send voucher again" sends: money left, still valid, not revoked."""
        return self.state in ("partly spent", "received", "not received yet")


def vouchers(session, provider, contact_id: int) -> list[VoucherState]:
    """The person's vouchers, newest week first, each with its balance from the provider."""
    rows = session.scalars(select(Voucher).where(Voucher.contact_id == contact_id)
                           .order_by(Voucher.period.desc(), Voucher.id.desc()))
    return [VoucherState(id=v.id, period=v.period, amount_cents=v.amount_cents, currency=v.currency,
                         balance_cents=0 if v.revoked_at else provider.balance(session, v.code),
                         valid_until=v.valid_until, claimed_at=v.claimed_at, revoked=v.revoked_at is not None,
                         kind=v.kind)
            for v in rows]


def left_per_kind(states: list[VoucherState]) -> list[tuple[str, str, int]]:
    """(kind, currency, cents) the person can still spend, kind by kind: what "how much is left"
    answers in the chat, for the helper or the desk to read at a glance."""
    left: dict[tuple[str, str], int] = {}
    for state in states:
        if state.resendable:
            left[(state.kind, state.currency)] = left.get((state.kind, state.currency), 0) + state.balance_cents
    return [(kind, currency, cents) for (kind, currency), cents in sorted(left.items())]


@dataclass(frozen=True)
class RegistrationView:
    status: str
    name: str | None
    events: list[RegistrationEvent]


def registration(session, contact_id: int) -> RegistrationView:
    """The registration's status and every recorded change, oldest first (registration_events:
    the same records the lifecycle writes for imports, the chat, staff and the CLI)."""
    found = registration_for(session, contact_id)
    if found is None:
        return RegistrationView(status="not registered", name=None, events=[])
    events = list(session.scalars(select(RegistrationEvent).where(RegistrationEvent.registration_id == found.id)
                                  .order_by(RegistrationEvent.at, RegistrationEvent.id)))
    return RegistrationView(status=found.status, name=found.name, events=events)


def previous_tickets(session, ticket: Ticket) -> list[Ticket]:
    """The person's other tickets, newest first: what they asked before and how it ended."""
    return list(session.scalars(select(Ticket).where(Ticket.contact_id == ticket.contact_id, Ticket.id != ticket.id)
                                .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(PREVIOUS_SHOWN)))


class LanguageError(ValueError):
    pass


def change_language(session, settings, ticket: Ticket, language: str, actor: str) -> bool:
    """Set the language the bot (and the ready answers) use with this person; True if it changed.
    The bot reads contact.language on every turn, so its next answer is in the new language."""
    if language not in settings.languages.all:
        raise LanguageError(f"{language!r} is not a language the service speaks "
                            f"({', '.join(settings.languages.all)})")
    contact: Contact = ticket.contact
    before = contact.language
    if before == language:
        return False
    contact.language = language
    ticket.language = language
    record(session, actor, "changed language", f"contact:{contact.id}", f"{before or '-'} -> {language}")
    return True
