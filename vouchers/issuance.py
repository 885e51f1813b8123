"""The weekly cycle: one voucher per included person per ISO week.

The database refuses a second voucher for the same person and week, and the provider is asked
by reference (period and registration), so a run stopped half-way is simply run again: what
was issued stays, the rest is issued, nothing twice.
"""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from store.models import Contact, Registration, Voucher, utcnow

BATCH = 1000


def current_period(today: date | None = None) -> str:
    year, week, _ = (today or utcnow().date()).isocalendar()
    return f"{year}-W{week:02d}"


def period_start(period: str) -> date:
    try:
        year, week = period.split("-W")
        return date.fromisocalendar(int(year), int(week), 1)
    except ValueError:
        raise ValueError(f"period {period!r} is not an ISO week like 2026-W49") from None


def issue_period(runtime, period: str, progress=None) -> dict[str, int]:
    settings = runtime.settings.vouchers
    valid_until = period_start(period) + timedelta(days=settings.valid_days - 1)
    counts = {"issued": 0, "already issued": 0}
    with runtime.session() as session:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        # Test people (the phone simulator, `flask chat`) never get a voucher that a till would take.
        included = list(session.execute(select(Registration.id, Registration.contact_id)
                                        .join(Contact, Contact.id == Registration.contact_id)
                                        .where(Registration.status == "included", Contact.channel != "local")
                                        .order_by(Registration.id)))
        for start in range(0, len(included), BATCH):
            batch = included[start:start + BATCH]
            done = set(session.scalars(select(Voucher.registration_id).where(
                Voucher.period == period, Voucher.registration_id.in_([r.id for r in batch]))))
            todo = [r for r in batch if r.id not in done]
            counts["already issued"] += len(batch) - len(todo)
            requests = [(f"{period}:{r.id}", settings.amount_cents, settings.currency, valid_until) for r in todo]
            issued = runtime.vouchers.issue_many(session, requests)
            rows = [{"registration_id": r.id, "contact_id": r.contact_id, "period": period,
                     "provider_reference": ref, "code": issued[ref].code, "pin": issued[ref].pin,
                     "amount_cents": settings.amount_cents, "currency": settings.currency,
                     "valid_until": valid_until, "reminders": 0, "created_at": utcnow()}
                    for r, (ref, *_rest) in zip(todo, requests, strict=True)]
            if rows:
                result = session.execute(insert(Voucher).on_conflict_do_nothing(
                    index_elements=["registration_id", "period"]).returning(Voucher.id), rows)
                counts["issued"] += len(result.all())
            session.commit()
            if progress:
                progress(len(batch))
    return counts
