"""The weekly cycle on its own: workers check often, and the first one to find the cycle due
runs it (a Redis mark per week), so several workers never issue twice. Issuing itself is
idempotent as well, so a mark lost with a Redis restart costs only a second, empty run."""
from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from store.models import utcnow
from vouchers.delivery import notify_new, remind_unclaimed
from vouchers.issuance import current_period, issue_period

log = logging.getLogger(__name__)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def due(settings, now: datetime) -> bool:
    local = now.astimezone(ZoneInfo(settings.helpdesk.timezone))
    schedule = settings.vouchers
    return DAYS.index(schedule.issue_weekday) == local.weekday() and local.hour >= schedule.issue_hour


def run_when_due(runtime, now: datetime | None = None) -> dict | None:
    now = now or utcnow()
    if not due(runtime.settings, now):
        return None
    period = current_period(now.date())
    mark = f"dda:vouchers:cycle:{period}"
    if not runtime.redis.set(mark, "1", nx=True, ex=8 * 24 * 3600):
        return None
    try:
        issued = issue_period(runtime, period)
        notified = notify_new(runtime, period)
    except Exception:
        runtime.redis.delete(mark)
        raise
    log.info("weekly voucher cycle %s: %s; %s", period, issued, notified)
    return {"issued": issued, "notified": notified}


def remind_once_a_day(runtime) -> dict | None:
    from registration.reminders import remind_and_expire

    mark = f"dda:reminders:{utcnow().date().isoformat()}"
    if not runtime.redis.set(mark, "1", nx=True, ex=2 * 24 * 3600):
        return None
    return {"vouchers": remind_unclaimed(runtime), "registrations": remind_and_expire(runtime)}
