"""The voucher cycle: one voucher per eligible person, kind and period.

Each kind (vouchers.kinds) has its period: a weekly kind one voucher per ISO week, a monthly
kind one per month, a one-off kind one ever. The database refuses a second voucher for the
same person, kind and period, and the provider is asked by reference (kind, period and the
registration's issue key), so a run stopped half-way is simply run again: what was issued
stays, the rest is issued, nothing twice. Each person is isolated: one whose voucher cannot be
issued is counted as failed and tried again by the next run.
"""
from __future__ import annotations

import logging
from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from settings import DEFAULT_KIND
from store.models import Contact, Registration, Voucher, utcnow
from vouchers import kinds as kinds_

log = logging.getLogger(__name__)
BATCH = 1000


def current_period(today: date | None = None) -> str:
    """This ISO week: the period of the weekly cycle (and of weekly kinds)."""
    year, week, _ = (today or utcnow().date()).isocalendar()
    return f"{year}-W{week:02d}"


def period_start(period: str) -> date:
    try:
        year, week = period.split("-W")
        return date.fromisocalendar(int(year), int(week), 1)
    except ValueError:
        raise ValueError(f"period {period!r} is not an ISO week like 2026-W49") from None


def issue_due(runtime, today: date | None = None, kinds: list[str] | None = None,
              period: str | None = None, progress=None) -> dict[str, dict]:
    """Issue every kind's voucher for its current period (or `period`, for the kinds it fits):
    per kind, the period issued and the counts. A ValueError names a kind or period that
    does not exist or fit."""
    today = today or utcnow().date()
    configured = runtime.settings.vouchers.kinds
    for name in kinds or []:
        if name not in configured:
            raise ValueError(f"no kind of voucher is called {name!r} (known: {', '.join(configured)})")
    chosen = kinds or list(configured)
    if period is not None:
        fitting = [name for name in chosen if kinds_.fits(configured[name], period)]
        if not fitting:
            raise ValueError(f"period {period!r} fits none of the kinds {', '.join(chosen)} "
                             "(a week like 2026-W49 for weekly kinds, a month like 2026-12 for monthly ones)")
        chosen = fitting
    done = {}
    for name in chosen:
        kind = configured[name]
        chosen_period = period or kinds_.current_period(kind, today)
        counts = issue_period(runtime, chosen_period, progress=progress, kind=name, today=today)
        done[name] = {"period": chosen_period, **counts}
    return done


def issue_period(runtime, period: str, progress=None, kind: str | None = None,
                 today: date | None = None) -> dict[str, int]:
    """Issue one kind's vouchers of a period (default: the default kind) a batch at a time; a
    batch that fails is issued again person by person, so one person's failure is reported
    (`failed`, by registration id in the log) and left for the next run, and never stops the
    others' vouchers. ValueError when the period does not fit the kind."""
    name = kind or runtime.settings.vouchers.default_kind
    settings = runtime.settings.vouchers.kinds[name]
    valid_until = kinds_.valid_until(settings, period, today or utcnow().date())
    counts = {"issued": 0, "already issued": 0, "failed": 0}
    with runtime.session() as session:
        # Test people (the phone simulator, `flask chat`) never get a voucher that a till would take.
        included = list(session.execute(select(Registration.id, Registration.contact_id, Registration.issue_key)
                                        .join(Contact, Contact.id == Registration.contact_id)
                                        .where(Registration.status == "included", Contact.channel != "local",
                                               kinds_.eligible(settings, Registration.flags))
                                        .order_by(Registration.id)))
        for start in range(0, len(included), BATCH):
            batch = included[start:start + BATCH]
            done = set(session.scalars(select(Voucher.registration_id).where(
                Voucher.kind == name, Voucher.period == period, Voucher.registration_id.in_([r.id for r in batch]))))
            todo = [r for r in batch if r.id not in done]
            counts["already issued"] += len(batch) - len(todo)
            issue = _Issue(runtime, name, period, valid_until)
            try:
                counts["issued"] += issue(session, todo)
                session.commit()
            except Exception:  # noqa: BLE001  (whatever failed, each person is tried on their own)
                session.rollback()
                for registration in todo:
                    try:
                        counts["issued"] += issue(session, [registration])
                        session.commit()
                    except Exception as error:  # noqa: BLE001
                        session.rollback()
                        counts["failed"] += 1
                        log.warning("%s voucher %s for registration %s not issued (%s); the next run tries again",
                                    name, period, registration.id, type(error).__name__)
            if progress:
                progress(len(batch))
    return counts


def reference(period: str, issue_key: str, kind: str | None = None) -> str:
    """What the provider knows a voucher by: the kind, the period and the person's random issue
    key, never a row id, which a database restored from a backup could hand out again. The
    default kind's references have no kind in front, as before there were kinds, so a week
    issued then is not issued again."""
    return f"{period}:{issue_key}" if kind in (None, DEFAULT_KIND) else f"{kind}:{period}:{issue_key}"


class _Issue:
    """Issues one kind's vouchers of one period to a list of registrations."""

    def __init__(self, runtime, kind: str, period: str, valid_until: date):
        self.runtime, self.kind, self.period, self.valid_until = runtime, kind, period, valid_until
        self.settings = runtime.settings.vouchers.kinds[kind]

    def __call__(self, session, todo) -> int:
        amount, currency = self.settings.amount_cents, self.settings.currency
        requests = [(reference(self.period, r.issue_key, self.kind), amount, currency, self.valid_until) for r in todo]
        issued = self.runtime.vouchers.issue_many(session, requests, kind=self.kind)
        rows = [{"registration_id": r.id, "contact_id": r.contact_id, "period": self.period, "kind": self.kind,
                 "provider_reference": ref, "code": issued[ref].code, "pin": issued[ref].pin,
                 "amount_cents": amount, "currency": currency,
                 "valid_until": self.valid_until, "reminders": 0, "created_at": utcnow()}
                for r, (ref, *_rest) in zip(todo, requests, strict=True)]
        if not rows:
            return 0
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        result = session.execute(insert(Voucher).on_conflict_do_nothing(
            index_elements=["registration_id", "kind", "period"]).returning(Voucher.id), rows)
        return len(result.all())
