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
from bot.messages import Reply
from delivery.notices import Notice, route, send_notice
from delivery.outbox import queue_replies
from handoff.tickets import open_ticket
from store.models import Contact, Registration, Voucher, utcnow
from vouchers.kinds import kind_of, texts_of
from vouchers.media import image_reference

CLAIM_PAYLOAD = "voucher.claim"


def _locale(contact: Contact, runtime) -> str:
    return contact.language or runtime.settings.languages.source


def voucher_reply(runtime, voucher: Voucher, contact: Contact) -> Reply:
    locale = _locale(contact, runtime)
    words = texts_of(runtime.settings, voucher.kind).voucher
    text = runtime.translator.text(words, locale, amount=money(voucher.amount_cents, voucher.currency, locale),
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


def _ready_notice(session, runtime, contact: Contact, voucher: Voucher, *, reminder: bool = False) -> str:
    """"Your voucher is ready" (or the reminder), with the button that sends it: in the words
    and the approved template of the voucher's kind."""
    amount = money(voucher.amount_cents, voucher.currency, _locale(contact, runtime))
    texts = texts_of(runtime.settings, voucher.kind)
    template = kind_of(runtime.settings, voucher.kind).template
    routed, message = send_notice(session, runtime.settings, runtime.translator, contact,
                                  Notice(text=texts.reminder if reminder else texts.ready, template=template,
                                         values={"amount": amount},
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


def notify_new(runtime, period: str | list[str] | None = None) -> dict[str, int]:
    """Tell everyone with a new voucher (of `period`, or of any of a list of periods): the
    voucher itself inside the window, else the notice."""
    counts: dict[str, int] = {}
    query = select(Voucher).where(Voucher.notified_at.is_(None), Voucher.contact_id.is_not(None), _on_whatsapp())
    if period:
        query = query.where(Voucher.period.in_([period] if isinstance(period, str) else period))
    for session, vouchers, contacts in _in_chunks(runtime, query):
        for voucher in vouchers:
            contact = voucher.contact
            if contact.opted_out or contact.unreachable_at:
                outcome = "not sent: opted out or unreachable"
            elif route(runtime.settings, contact, kind_of(runtime.settings, voucher.kind).template).how == "text":
                queue_replies(session, runtime.settings, contact, voucher_replies(runtime, contact, [voucher]),
                              queue="bulk", flush=False)
                outcome = "voucher sent"
            else:
                outcome = _ready_notice(session, runtime, contact, voucher)
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
                if _ready_notice(session, runtime, contact, voucher, reminder=True) == "notice sent":
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
