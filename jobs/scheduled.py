"""The scheduled work, run by the workers' sweeper. Workers check often; the first to find a
job due runs it, guarded by a Redis mark per day or week, so several workers never run it
twice. Each job is idempotent as well, so a mark lost with a Redis restart costs only a second,
empty run; a run that fails removes its mark so the next check tries again."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from privacy.audit import record
from privacy.retention import purge
from registration.reminders import remind_and_expire
from settings import Settings
from store import releases
from store.conversation import Services
from store.models import utcnow
from vouchers.delivery import notify_new, remind_unclaimed
from vouchers.issuance import current_period, issue_due

log = logging.getLogger(__name__)
RETRY_FAILED_SECONDS = 3600
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_SECONDS = 24 * 3600


def scheduled_jobs(runtime: Services) -> dict[str, Callable[[], object]]:
    """What the sweeper runs on every pass, by name (for its log lines)."""
    return {"privacy purge": lambda: purge_once_a_day(runtime),
            "weekly voucher cycle": lambda: run_when_due(runtime),
            "reminders": lambda: remind_once_a_day(runtime),
            "release pruning": lambda: prune_releases_once_a_day(runtime)}


def once(runtime: Services, mark: str, keep_seconds: int, job: Callable[[], Any]) -> Any | None:
    """`job()` unless another worker already ran it under `mark`; None when it did."""
    if not runtime.redis.set(mark, "1", nx=True, ex=keep_seconds):
        return None
    try:
        return job()
    except Exception:
        runtime.redis.delete(mark)
        raise


def due(settings: Settings, now: datetime) -> bool:
    local = now.astimezone(ZoneInfo(settings.helpdesk.timezone))
    schedule = settings.vouchers
    return DAYS.index(schedule.issue_weekday) == local.weekday() and local.hour >= schedule.issue_hour


def run_when_due(runtime: Services, now: datetime | None = None) -> dict[str, Any] | None:
    """The weekly cycle: issue every kind's vouchers due (this week's, this month's, one-off
    ones not yet had), then tell everyone who got one."""
    now = now or utcnow()
    if not due(runtime.settings, now):
        return None
    period = current_period(now.date())

    mark = f"dda:vouchers:cycle:{period}"

    def cycle() -> dict[str, Any]:
        per_kind = issue_due(runtime, now.date())
        issued = {key: sum(kind[key] for kind in per_kind.values()) for key in ("issued", "already issued", "failed")}
        periods = sorted({kind["period"] for kind in per_kind.values()})
        done = {"issued": issued, "per kind": per_kind, "notified": notify_new(runtime, periods)}
        if done["issued"]["failed"]:  # the people it failed for are tried again within the hour
            runtime.redis.expire(mark, RETRY_FAILED_SECONDS)
        log.info("weekly voucher cycle %s: %s; %s", period, done["issued"], done["notified"])
        return done

    return once(runtime, mark, 8 * DAY_SECONDS, cycle)


def remind_once_a_day(runtime: Services) -> dict[str, Any] | None:
    return once(runtime, f"dda:reminders:{utcnow().date().isoformat()}", 2 * DAY_SECONDS,
                lambda: {"vouchers": remind_unclaimed(runtime), "registrations": remind_and_expire(runtime)})


def purge_once_a_day(runtime: Services) -> dict[str, int] | None:
    """The daily privacy purge (privacy/retention.py), on the first worker to ask on a UTC day."""
    def daily() -> dict[str, int]:
        counts = purge(runtime)
        log.info("daily privacy purge: %s", ", ".join(f"{what} {count}" for what, count in counts.items()))
        return counts

    return once(runtime, f"dda:privacy:purged:{utcnow().date().isoformat()}", 2 * DAY_SECONDS, daily)


def prune_releases_once_a_day(runtime: Services) -> dict[str, int] | None:
    """Old releases beyond `content.keep_releases` per kind (store/releases.py `prune`), audited."""
    def daily() -> dict[str, int]:
        with runtime.session() as session:
            gone = releases.prune(session, runtime.settings.content.keep_releases)
            if gone:
                record(session, "system", "pruned releases", "content_releases",
                       ", ".join(f"{kind} {count}" for kind, count in sorted(gone.items())))
            session.commit()
        if gone:
            log.info("old releases pruned: %s", gone)
        return gone

    return once(runtime, f"dda:releases:pruned:{utcnow().date().isoformat()}", 2 * DAY_SECONDS, daily)
