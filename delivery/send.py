"""Delivering one outbox item through the channel.

An item is claimed with a conditional update (pending -> sending), so two workers that got
the same job send it once. A transient failure puts it back to pending and lets the queue
retry with backoff; a permanent one marks it failed where staff can see it.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select, update

from channels.base import Outgoing, PermanentFailure
from delivery.failures import apply_failure
from delivery.status import advance, apply_early_status
from store.models import Contact, Message, OutboxItem, utcnow

log = logging.getLogger(__name__)


class TransientFailure(Exception):
    """Sending failed in a way a later attempt may fix."""


def deliver_contact(runtime, contact_id: int) -> int:
    """Deliver a person's waiting replies one after another, oldest first, so they arrive in
    the order the bot wrote them. Returns how many were handled."""
    handled = 0
    with runtime.state.lock(contact_id, purpose="delivery"):
        while True:
            with runtime.session() as session:
                outbox_id = session.scalar(
                    select(OutboxItem.id).join(Message).where(Message.contact_id == contact_id,
                                                              OutboxItem.state == "pending")
                    .order_by(OutboxItem.id).limit(1))
            if outbox_id is None:
                return handled
            deliver(runtime, outbox_id)
            handled += 1


def deliver(runtime, outbox_id: int) -> str:
    with runtime.session() as session:
        claimed = session.execute(
            update(OutboxItem).where(OutboxItem.id == outbox_id, OutboxItem.state == "pending")
            .values(state="sending", attempts=OutboxItem.attempts + 1)).rowcount
        session.commit()
        if not claimed:
            return "not pending"
        item = session.get(OutboxItem, outbox_id)
        message = item.message
        contact = message.contact
        outgoing = Outgoing(to=contact.phone, body=message.body, media_url=message.media_url,
                            content_sid=message.content_sid, content_variables=message.content_variables,
                            location=message.location, sms=message.kind == "sms")
        channel = runtime.channel_for(contact)
        if channel is runtime.channel and runtime.rate_limiter is not None:
            runtime.rate_limiter.wait_for_slot()
        try:
            sent = channel.send(outgoing)
        except PermanentFailure as failure:
            item.state, item.last_error = "failed", str(failure)[:256]
            message.status, message.error_code = "failed", failure.code
            follow_up = apply_failure(session, runtime, message, failure.code)
            session.commit()
            if follow_up == "template queued":
                runtime.tasks.deliver.send(contact.id)
            log.warning("outbox %s failed permanently: code %s", outbox_id, failure.code)
            return "failed"
        except Exception as error:
            give_up = item.attempts >= runtime.settings.delivery.max_attempts
            item.state = "failed" if give_up else "pending"
            item.last_error = type(error).__name__
            if give_up:
                message.status = "failed"
            session.commit()
            log.warning("outbox %s attempt %d failed: %s", outbox_id, item.attempts, type(error).__name__)
            if give_up:
                return "failed"
            raise TransientFailure(type(error).__name__) from None
        item.state, item.sent_at = "sent", utcnow()
        message.provider_sid = sent.provider_sid
        advance(message, sent.status, None)
        apply_early_status(session, message)
        session.commit()
        if contact.erased_at is not None:
            _drop_erased(session, contact)
        return "sent"


def _drop_erased(session, contact: Contact) -> None:
    waiting = session.scalar(select(func.count()).select_from(OutboxItem).join(Message)
                             .where(Message.contact_id == contact.id, OutboxItem.state.in_(("pending", "sending"))))
    if not waiting:
        session.delete(contact)
        session.commit()


def stale_work(runtime) -> tuple[list[int], list[int]]:
    """Contacts whose queue message may have been lost (a broker restart, a worker killed
    mid-send): (contacts with replies to deliver, contacts with messages to process)."""
    cutoff = utcnow() - timedelta(seconds=runtime.settings.delivery.sweep_after_seconds)
    with runtime.session() as session:
        session.execute(update(OutboxItem).where(OutboxItem.state == "sending", OutboxItem.created_at < cutoff - timedelta(minutes=10))
                        .values(state="pending"))
        session.commit()
        outbox = list(session.scalars(select(Message.contact_id).join(OutboxItem).where(
            OutboxItem.state == "pending", OutboxItem.created_at < cutoff).distinct()))
        contacts = list(session.scalars(select(Message.contact_id).where(
            Message.direction == "in", Message.processed_at.is_(None), Message.created_at < cutoff).distinct()))
    return outbox, contacts
