"""Work a staff page starts but a worker does: issuing the vouchers due now.

`flask vouchers issue` runs vouchers.issuance.issue_due and notify_new in the terminal; the page
/staff/vouchers/issue runs the very same two functions here, on the worker queue
(delivery/tasks.py, queue `jobs`), because issuing for thousands of people takes minutes and
no web request should. The page first shows a preview (how many vouchers, what amount, per
kind), starts the job only after a confirmation, and polls `status` for the progress the job
writes to Redis. Like the command, running it again issues nothing twice: the database and the
provider both know what was issued (see vouchers/issuance.py). One run at a time: a second
click while one runs gets the running one's progress.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import func, select

from privacy.audit import record
from store.conversation import Services
from store.models import Contact, Registration, Voucher, utcnow
from vouchers import kinds as kinds_
from vouchers.delivery import notify_new
from vouchers.issuance import issue_due

log = logging.getLogger(__name__)
ISSUE = "issue vouchers"
STATUS_KEY = "dda:staff-jobs:issue-vouchers"
RUNNING_SECONDS = 15 * 60   # a run that writes no progress for this long is taken as dead
KEEP_SECONDS = 24 * 3600    # the last run's outcome stays on the page for a day
QUEUE_DOWN = "the worker queue (Redis) is not answering: nothing was issued, try again in a minute"


def staff_jobs(runtime: Services) -> dict[str, Callable[..., object]]:
    """What the worker queue's run_job may run, by name (handed to delivery/tasks.py)."""
    return {ISSUE: lambda actor: issue_vouchers(runtime, actor)}


def preview(runtime: Services) -> list[dict[str, Any]]:
    """Per kind of voucher: its current period, how many people may get one, how many already
    have it, how many would be issued now and for what amount. Nothing is written."""
    today = utcnow().date()
    rows = []
    with runtime.session() as session:
        for name, kind in runtime.settings.vouchers.kinds.items():
            period = kinds_.current_period(kind, today)
            eligible = (select(Registration.id).join(Contact, Contact.id == Registration.contact_id)
                        .where(Registration.status == "included", Contact.channel != "local",
                               kinds_.eligible(kind, Registration.flags)))
            people = session.scalar(select(func.count()).select_from(eligible.subquery())) or 0
            already = session.scalar(select(func.count()).select_from(Voucher).where(
                Voucher.kind == name, Voucher.period == period, Voucher.registration_id.in_(eligible))) or 0
            rows.append({"kind": name, "period": period, "eligible": people, "already": already,
                         "to_issue": people - already, "amount_cents": kind.amount_cents, "currency": kind.currency,
                         "total_cents": (people - already) * kind.amount_cents})
    return rows


def status(runtime: Services) -> dict[str, Any]:
    """The running or last run: state (none | queued | running | done | failed | unknown) and its
    counts; unknown while Redis does not answer (a run under way goes on regardless)."""
    try:
        raw = runtime.redis.get(STATUS_KEY)
    except RedisError:
        return {"state": "unknown", "error": "the progress cannot be read right now (Redis is not answering)"}
    found = json.loads(raw) if raw else {"state": "none"}
    if found["state"] in ("queued", "running") and time.time() - found.get("updated", 0) > RUNNING_SECONDS:
        found = {**found, "state": "failed", "error": "the worker stopped answering; start it again"}
    return found


def _write(runtime: Services, **values) -> None:
    runtime.redis.set(STATUS_KEY, json.dumps({**values, "updated": time.time()}), ex=KEEP_SECONDS)


class CannotStart(Exception):
    """The queue is not answering: nothing was started."""


def start(runtime: Services, actor: str) -> bool:
    """Queue a run unless one is queued or running; True when this call queued it."""
    state = status(runtime)["state"]
    if state == "unknown":
        raise CannotStart(QUEUE_DOWN)
    if state in ("queued", "running"):
        return False
    total = sum(row["eligible"] for row in preview(runtime))
    # Set-if-unchanged would be tighter, but a second run is harmless: issuing is idempotent.
    try:
        _write(runtime, state="queued", by=actor, total=total, done=0)
        runtime.tasks.run_job.send(ISSUE, actor)
    except RedisError:
        raise CannotStart(QUEUE_DOWN) from None
    return True


def issue_vouchers(runtime: Services, actor: str) -> dict[str, Any]:
    """What `flask vouchers issue` does, with its progress in Redis for the page."""
    total = sum(row["eligible"] for row in preview(runtime))
    progress = {"done": 0}

    def advance(count: int) -> None:
        progress["done"] = min(total, progress["done"] + count)
        _write(runtime, state="running", by=actor, total=total, done=progress["done"])

    _write(runtime, state="running", by=actor, total=total, done=0)
    try:
        per_kind = issue_due(runtime, progress=advance)
        notified = notify_new(runtime, sorted({counts["period"] for counts in per_kind.values()}))
    except Exception as error:
        log.exception("issuing vouchers from the staff page failed")
        _write(runtime, state="failed", by=actor, total=total, done=progress["done"], error=type(error).__name__)
        raise
    outcome = {"state": "done", "by": actor, "total": total, "done": total, "kinds": per_kind, "notified": notified,
               "issued": sum(c["issued"] for c in per_kind.values()),
               "already": sum(c["already issued"] for c in per_kind.values()),
               "failed": sum(c["failed"] for c in per_kind.values())}
    _write(runtime, **outcome)
    with runtime.session() as session:
        record(session, actor, "issued vouchers", "vouchers", ", ".join(
            f"{name} {c['period']}: issued {c['issued']}, already {c['already issued']}, failed {c['failed']}"
            for name, c in per_kind.items()))
        session.commit()
    return outcome
