"""Printing vouchers at the desk for people served on paper, and recording that they were.

A printed voucher is as good as money, so every print is in the audit log (who, which voucher,
which paper), and the voucher is marked as handed out in person: by whom and when, and claimed,
so the chat no longer offers it and no reminder chases it. Printing the same voucher again (a
lost paper) is allowed and audited again; the first hand-out stays on record.

Only vouchers a till would take are printed: not revoked, not expired, with money left.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from privacy.audit import record
from store.models import Registration, Voucher, utcnow
from vouchers.kinds import texts_of
from vouchers.paper import PAPERS, PaperVoucher, render_pdf


class NothingToPrint(ValueError):
    """No voucher a till would take, said in words for staff."""


def _spendable(session, runtime, query) -> list[Voucher]:
    today = utcnow().date()
    found = session.scalars(query.where(Voucher.revoked_at.is_(None), Voucher.valid_until >= today,
                                        Voucher.contact_id.is_not(None))
                            .order_by(Voucher.id).options(selectinload(Voucher.contact)))
    return [voucher for voucher in found if runtime.vouchers.balance(session, voucher.code) > 0]


def for_person(session, runtime, contact_id: int, period: str | None = None) -> list[Voucher]:
    """The person's vouchers to print: of `period`, or every one with money left."""
    query = select(Voucher).where(Voucher.contact_id == contact_id)
    if period:
        query = query.where(Voucher.period == period)
    found = _spendable(session, runtime, query)
    if not found:
        raise NothingToPrint(f"This person has no voucher to print{f' for {period}' if period else ''}: none was "
                             "issued, or it was revoked, has expired or is spent.")
    return found


def for_paper(session, runtime, period: str) -> list[Voucher]:
    """The period's vouchers of everyone registered without WhatsApp."""
    paper = select(Registration.id).where(Registration.no_whatsapp.is_(True))
    found = _spendable(session, runtime, select(Voucher).where(Voucher.period == period,
                                                               Voucher.registration_id.in_(paper)))
    if not found:
        raise NothingToPrint(f"Nobody served on paper has a voucher to print for {period}.")
    return found


def print_vouchers(session, runtime, vouchers: list[Voucher], *, paper: str, actor: str) -> bytes:
    """The PDF, one page per voucher in its person's language; marks and audits each, inside the
    caller's transaction (the caller commits once the PDF is safely written or sent)."""
    if paper not in PAPERS:
        raise ValueError(f"unknown paper {paper!r} (known: {', '.join(PAPERS)})")
    settings = runtime.settings
    pdf = render_pdf([PaperVoucher(code=voucher.code, pin=voucher.pin, amount_cents=voucher.amount_cents,
                                   currency=voucher.currency, valid_until=voucher.valid_until,
                                   language=voucher.contact.language or settings.languages.source,
                                   title=texts_of(settings, voucher.kind).title)
                      for voucher in vouchers],
                     paper=paper, program=settings.program.name, translator=runtime.translator,
                     symbology=settings.vouchers.symbology)
    now = utcnow()
    for voucher in vouchers:
        again = voucher.handed_out_at is not None
        if not again:
            voucher.handed_out_at, voucher.handed_out_by = now, actor
        voucher.claimed_at = voucher.claimed_at or now
        voucher.notified_at = voucher.notified_at or now
        record(session, actor, "printed voucher", f"voucher:{voucher.id}",
               f"{voucher.period} on {paper} paper; handed out in person" + (" again" if again else ""))
    return pdf
