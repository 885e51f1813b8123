"""Delivery statuses move forward only: Twilio's callbacks arrive late, twice and out of order."""
from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from delivery.failures import apply_failure
from delivery.hooks import DeliveryHooks
from store.models import EarlyStatus, Message, OutboxItem, utcnow

log = logging.getLogger(__name__)

RANK = {"pending": 0, "accepted": 1, "queued": 1, "sending": 2, "sent": 3, "failed": 4, "undelivered": 4,
        "delivered": 5, "read": 6}


def advance(message: Message, status: str, error_code: str | None) -> bool:
    """Move `message` to `status` if that is further along; keep the error code either way."""
    if error_code and not message.error_code:
        message.error_code = error_code
    if RANK.get(status, -1) > RANK.get(message.status, 0):
        message.status = status
        return True
    return False


def settle(runtime, outbox_id: int, sid: str) -> bool:
    """A callback named its outbox row (delivery/send.py): Twilio has that row's message under
    `sid`. A row whose send was in doubt, that was made pending to send again, or that a worker
    killed mid-send left `sending`, is sent now and never sent a second time. (A live worker
    whose request is still returning records the same sid a moment later.) True if this
    settled it."""
    with runtime.session() as session:
        settled = session.execute(
            update(OutboxItem).where(OutboxItem.id == outbox_id,
                                     OutboxItem.state.in_(("pending", "sending", "uncertain")))
            .values(state="sent", sent_at=utcnow()).execution_options(synchronize_session=False)).rowcount
        message = session.scalar(select(Message).join(OutboxItem).where(OutboxItem.id == outbox_id))
        if message is None:
            return False
        if not settled:
            if message.provider_sid and message.provider_sid != sid:
                log.error("outbox %s: Twilio reports a second message for one row", outbox_id)
            session.rollback()
            return False
        message.provider_sid = message.provider_sid or sid
        apply_early_status(session, message, runtime.delivery_hooks)
        session.commit()
        log.info("outbox %s: its status callback settled it", outbox_id)
        runtime.tasks.deliver.send(message.contact_id)  # the person's later messages waited behind it
        return True


def record_status(runtime, sid: str, status: str, error_code: str | None, outbox_id: int | None = None) -> str:
    if status not in RANK:
        return "ignored unknown status"
    if outbox_id is not None:
        settle(runtime, outbox_id, sid)
    with runtime.session() as session:
        message = session.scalar(select(Message).where(Message.provider_sid == sid))
        if message is not None:
            changed = advance(message, status, error_code)
            runtime.delivery_hooks.delivered(session, message)
            follow_up = apply_failure(session, runtime, message, error_code) \
                if changed and status in ("failed", "undelivered") else None
            session.commit()
            if follow_up == "template queued":
                runtime.tasks.deliver.send(message.contact_id)
            return "updated" if changed else "unchanged"
        early = session.get(EarlyStatus, sid)
        if early is None:
            try:
                with session.begin_nested():
                    session.add(EarlyStatus(provider_sid=sid, status=status, error_code=error_code))
            except IntegrityError:
                early = session.get(EarlyStatus, sid)
        if early is not None and RANK[status] > RANK.get(early.status, 0):
            early.status = status
            early.error_code = early.error_code or error_code
        session.commit()
        return "kept for later"


def apply_early_status(session, message: Message, hooks: DeliveryHooks) -> None:
    early = session.get(EarlyStatus, message.provider_sid)
    if early is not None:
        advance(message, early.status, early.error_code)
        session.delete(early)
    hooks.delivered(session, message)
