"""Getting vouchers to people, and knowing they have them.

Inside WhatsApp's 24-hour window a voucher goes at once; outside it the person gets the
approved "your voucher is ready" template with a button, and the tap (or a clear yes) sends
every unclaimed voucher that still has money on it. Each voucher is an image with the code
and amount also in the text, so a failed image still leaves a usable voucher. A voucher is
claimed only when WhatsApp reports it delivered or read.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.formats import long_date, money
from bot.i18n import N_
from bot.messages import Reply
from delivery.notices import Notice, route, send_notice
from delivery.outbox import queue_replies
from handoff.tickets import open_ticket
from store.models import Contact, Registration, Voucher, utcnow
from vouchers.media import image_reference

VOUCHER_TEXT = N_("Your supermarket voucher of {amount}, valid until {date}.\nCode: {code}\nPIN: {pin}\n"
                  "Show the barcode at the till. If the picture does not open, the cashier can type the code.")
READY = N_("Your supermarket voucher of {amount} is ready. Tap the button or answer YES to receive it.")
REMINDER = N_("You still have a supermarket voucher of {amount} waiting. Tap the button or answer YES to receive it.")
CLAIM_PAYLOAD = "voucher.claim"


def _locale(contact: Contact, runtime) -> str:
    return contact.language or runtime.settings.languages.source


def voucher_reply(runtime, voucher: Voucher, contact: Contact) -> Reply:
    locale = _locale(contact, runtime)
    text = runtime.translator.text(VOUCHER_TEXT, locale, amount=money(voucher.amount_cents, voucher.currency, locale),
                                   date=long_date(voucher.valid_until, locale), code=voucher.code, pin=voucher.pin,
                                   **runtime.settings.placeholders())
    return Reply(text=text, media_url=image_reference(voucher.id), tag=f"voucher:{voucher.id}")


def with_balance(session, runtime, contact_id: int, *, unclaimed_only: bool) -> list[Voucher]:
    today = utcnow().date()
    query = select(Voucher).where(Voucher.contact_id == contact_id, Voucher.valid_until >= today).order_by(Voucher.id)
    if unclaimed_only:
        query = query.where(Voucher.claimed_at.is_(None))
    return [v for v in session.scalars(query) if runtime.vouchers.balance(session, v.code) > 0]


def voucher_replies(runtime, contact: Contact, vouchers: list[Voucher]) -> list[Reply]:
    """One message per voucher; marks them as offered."""
    now = utcnow()
    for voucher in vouchers:
        voucher.notified_at = voucher.notified_at or now
    return [voucher_reply(runtime, voucher, contact) for voucher in vouchers]


def _ready_notice(session, runtime, contact: Contact, voucher: Voucher, text: str) -> str:
    """"Your voucher is ready" (or the reminder), with the button that sends it."""
    amount = money(voucher.amount_cents, voucher.currency, _locale(contact, runtime))
    routed, message = send_notice(session, runtime.settings, runtime.translator, contact,
                                  Notice(text=text, template="voucher_ready", values={"amount": amount},
                                         variables={"1": amount}, options=[{"payload": CLAIM_PAYLOAD, "label": "YES"}]))
    return "notice sent" if message is not None else f"not sent: {routed.why_not}"


CHUNK = 500


def _in_chunks(runtime, query):
    """The vouchers a query finds, with their people, a chunk at a time in one session each.

    Each chunk is committed and handed to the bulk queue before the next is read, so a
    weekly cycle of 40,000 starts going out at once, and a crash half-way leaves the chunks
    done as done (what is left has no `notified_at` and is found by the next run). The rows
    of a chunk stay locked until it is committed and a second run at the same time (staff
    and the scheduler) skips them, so nobody hears twice (PostgreSQL; SQLite has one writer)."""
    last_id = 0
    while True:
        with runtime.session() as session, session.no_autoflush:
            chunk = session.scalars(query.where(Voucher.id > last_id).order_by(Voucher.id).limit(CHUNK)
                                    .with_for_update(skip_locked=True, of=Voucher)
                                    .options(selectinload(Voucher.contact))).all()
            if not chunk:
                return
            last_id = chunk[-1].id
            contacts: set[int] = set()
            yield session, chunk, contacts
            session.commit()
        runtime.tasks.send_bulk(contacts)


def _on_whatsapp():
    """Vouchers of people not registered "no WhatsApp": those are served on paper at the desk."""
    return Voucher.registration_id.not_in(select(Registration.id).where(Registration.no_whatsapp.is_(True)))


def notify_new(runtime, period: str | None = None) -> dict[str, int]:
    """Tell everyone with a new voucher: the voucher itself inside the window, else the notice."""
    counts: dict[str, int] = {}
    query = select(Voucher).where(Voucher.notified_at.is_(None), Voucher.contact_id.is_not(None), _on_whatsapp())
    if period:
        query = query.where(Voucher.period == period)
    for session, vouchers, contacts in _in_chunks(runtime, query):
        for voucher in vouchers:
            contact = voucher.contact
            if contact.opted_out or contact.unreachable_at:
                outcome = "not sent: opted out or unreachable"
            elif route(runtime.settings, contact, "voucher_ready").how == "text":
                queue_replies(session, runtime.settings, contact, voucher_replies(runtime, contact, [voucher]),
                              queue="bulk", flush=False)
                outcome = "voucher sent"
            else:
                outcome = _ready_notice(session, runtime, contact, voucher, READY)
                if outcome == "notice sent":
                    voucher.notified_at = utcnow()
            counts[outcome] = counts.get(outcome, 0) + 1
            if not outcome.startswith("not sent"):
                contacts.add(contact.id)
    return counts


def remind_unclaimed(runtime) -> dict[str, int]:
    """Up to N reminders for a voucher nobody has received yet; after the last, a person
    from the helpdesk looks into it."""
    limit = runtime.settings.vouchers.reminders
    counts = {"reminded": 0, "to helpdesk": 0}
    noticed_before = utcnow() - timedelta(hours=runtime.settings.vouchers.remind_after_hours)
    query = select(Voucher).where(Voucher.claimed_at.is_(None), Voucher.notified_at <= noticed_before,
                                  Voucher.contact_id.is_not(None), Voucher.valid_until >= utcnow().date(),
                                  Voucher.reminders <= limit, _on_whatsapp())
    for session, vouchers, contacts in _in_chunks(runtime, query):
        for voucher in vouchers:
            contact = voucher.contact
            if contact.opted_out or contact.unreachable_at:
                continue
            if voucher.reminders < limit:
                if _ready_notice(session, runtime, contact, voucher, REMINDER) == "notice sent":
                    voucher.reminders += 1
                    counts["reminded"] += 1
                    contacts.add(contact.id)
            else:
                open_ticket(session, contact, reason="voucher not received", language=contact.language, priority=1)
                voucher.reminders += 1
                counts["to helpdesk"] += 1
    return counts


def mark_claimed(session, voucher_id: int | str) -> None:
    """A voucher message was delivered or read (delivery's hook for tags "voucher:<id>")."""
    voucher = session.get(Voucher, int(voucher_id))
    if voucher is not None and voucher.claimed_at is None:
        voucher.claimed_at = voucher.delivered_at = utcnow()
