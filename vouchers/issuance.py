"""The weekly cycle: one voucher per included person per ISO week.

The database refuses a second voucher for the same person and week, and the provider is asked
by reference (period and the registration's issue key), so a run stopped half-way is simply run
again: what was issued stays, the rest is issued, nothing twice. Each person is isolated: one
whose voucher cannot be issued is counted as failed and tried again by the next run.
"""
from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from store.models import Contact, Registration, Voucher, utcnow

log = logging.getLogger(__name__)
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
    """Issue the week's vouchers a batch at a time; a batch that fails is issued again person by
    person, so one person's failure is reported (`failed`, by registration id in the log) and
    left for the next run, and never stops the others' vouchers."""
    valid_until = period_start(period) + timedelta(days=runtime.settings.vouchers.valid_days - 1)
    counts = {"issued": 0, "already issued": 0, "failed": 0}
    with runtime.session() as session:
        # Test people (the phone simulator, `flask chat`) never get a voucher that a till would take.
        included = list(session.execute(select(Registration.id, Registration.contact_id, Registration.issue_key)
                                        .join(Contact, Contact.id == Registration.contact_id)
                                        .where(Registration.status == "included", Contact.channel != "local")
                                        .order_by(Registration.id)))
        for start in range(0, len(included), BATCH):
            batch = included[start:start + BATCH]
            done = set(session.scalars(select(Voucher.registration_id).where(
                Voucher.period == period, Voucher.registration_id.in_([r.id for r in batch]))))
            todo = [r for r in batch if r.id not in done]
            counts["already issued"] += len(batch) - len(todo)
            try:
                counts["issued"] += _issue(runtime, session, period, valid_until, todo)
                session.commit()
            except Exception:  # noqa: BLE001  (whatever failed, each person is tried on their own)
                session.rollback()
                for registration in todo:
                    try:
                        counts["issued"] += _issue(runtime, session, period, valid_until, [registration])
                        session.commit()
                    except Exception as error:  # noqa: BLE001
                        session.rollback()
                        counts["failed"] += 1
                        log.warning("voucher %s for registration %s not issued (%s); the next run tries again",
                                    period, registration.id, type(error).__name__)
            if progress:
                progress(len(batch))
    return counts


def reference(period: str, issue_key: str) -> str:
    """What the provider knows a voucher by: the week and the person's random issue key, never
    a row id, which a database restored from a backup could hand out again."""
    return f"{period}:{issue_key}"


def _issue(runtime, session, period: str, valid_until, todo) -> int:
    settings = runtime.settings.vouchers
    requests = [(reference(period, r.issue_key), settings.amount_cents, settings.currency, valid_until) for r in todo]
    issued = runtime.vouchers.issue_many(session, requests)
    rows = [{"registration_id": r.id, "contact_id": r.contact_id, "period": period,
             "provider_reference": ref, "code": issued[ref].code, "pin": issued[ref].pin,
             "amount_cents": settings.amount_cents, "currency": settings.currency,
             "valid_until": valid_until, "reminders": 0, "created_at": utcnow()}
            for r, (ref, *_rest) in zip(todo, requests, strict=True)]
    if not rows:
        return 0
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    result = session.execute(insert(Voucher).on_conflict_do_nothing(
        index_elements=["registration_id", "period"]).returning(Voucher.id), rows)
    return len(result.all())
