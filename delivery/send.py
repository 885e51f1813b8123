"""Delivering outbox rows through the channel: each message once, in order per person.

Why it works this way:

- A row is claimed (pending -> sending, committed) before its request leaves. Two workers
  that got the same job then send it once, and a worker killed after sending leaves a row
  that says "a request may be out there" instead of one that looks unsent.
- Twilio's Messages API has no idempotency key, and a read timeout or a connection dropped
  after the request was written does not say whether Twilio has the message. Retrying blindly
  can send twice; giving up can lose it. So every send names its row in its StatusCallback URL
  (`?outbox=<id>&key=<HMAC of the id with SECRET_KEY>`; Twilio signs the whole URL, and the
  key means nobody can point a callback at another row). An ambiguous failure moves the row to
  `uncertain`, never back to pending. The first status callback that carries the key adopts
  Twilio's MessageSid and the row is sent (delivery/status.py). If none comes within
  `delivery.uncertain_grace_seconds`, the row is reconciled against Twilio's Messages list:
  a message to that number, from our sender, created since the attempt, whose sid we do not
  already know, is this one and is adopted; none means the request never arrived and the row
  is sent again. A row left `sending` by a worker that died is treated the same way.
- Failures that cannot have reached Twilio (connection refused, no DNS, a 429 or 5xx answer)
  go back to pending and the queue retries them with backoff, as before: nothing can double.
- An uncertain row blocks that person's later rows until it is settled, which keeps their
  messages in order and makes "a message to this number since the attempt" unambiguous. The
  block is short: the callback usually comes within seconds.
- The rate slot is taken before the claim is committed, so a Redis failure there leaves the
  row pending rather than in doubt; the window is checked at the same point (delivery/window.py).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import timedelta, timezone

from sqlalchemy import delete, func, or_, select, update

from channels.base import MaybeSent, Outgoing, PermanentFailure, Sent
from delivery.failures import apply_failure
from delivery.status import RANK, advance, apply_early_status, delivered
from delivery.window import ask_to_open, outside_window
from store.models import Contact, EarlyStatus, Message, OutboxItem, utcnow

log = logging.getLogger(__name__)
UNFINISHED = ("pending", "uncertain")
# Twilio's clock and ours may differ; reconciliation looks this much further back. Earlier
# messages to the same person are excluded by their known sids, so looking back is safe.
CLOCK_SKEW = timedelta(seconds=60)


class TransientFailure(Exception):
    """Sending failed in a way a later attempt may fix."""


def callback_key(secret: str, outbox_id: int) -> str:
    return hmac.new(secret.encode(), f"outbox:{outbox_id}".encode(), hashlib.sha256).hexdigest()[:32]


def valid_callback_key(runtime, outbox_id: int, key: str) -> bool:
    return hmac.compare_digest(callback_key(runtime.settings.secrets.secret_key, outbox_id), key)


def deliver_contact(runtime, contact_id: int) -> int:
    """Deliver a person's waiting messages one after another, oldest first, so they arrive in
    the order they were written. Returns how many were sent or settled."""
    handled = 0
    with runtime.state.lock(contact_id, purpose="delivery"):
        while True:
            with runtime.session() as session:
                rows = session.execute(
                    select(OutboxItem.id, OutboxItem.state).join(Message)
                    .where(Message.contact_id == contact_id, OutboxItem.state.in_(UNFINISHED))
                    .order_by(OutboxItem.id)).all()
            if not rows:
                return handled
            for outbox_id, state in rows:
                if state == "uncertain":
                    if not reconcile(runtime, outbox_id):
                        return handled  # the later ones wait behind it
                    handled += 1
                    break  # sent now, or pending again: read the list afresh
                if deliver(runtime, outbox_id) == "uncertain":
                    return handled
                handled += 1


def _load(session, outbox_id: int) -> tuple[OutboxItem, Message, Contact]:
    return session.execute(select(OutboxItem, Message, Contact).join(Message, OutboxItem.message_id == Message.id)
                           .join(Contact, Message.contact_id == Contact.id)
                           .where(OutboxItem.id == outbox_id)).one()


def _outgoing(runtime, outbox_id: int, message: Message, contact: Contact) -> Outgoing:
    return Outgoing(to=contact.phone, body=message.body, media_url=message.media_url,
                    content_sid=message.content_sid, content_variables=message.content_variables,
                    location=message.location, sms=message.kind == "sms",
                    callback_query=f"outbox={outbox_id}&key={callback_key(runtime.settings.secrets.secret_key, outbox_id)}")


def deliver(runtime, outbox_id: int) -> str:
    with runtime.session() as session:
        outbox = OutboxItem.__table__
        claimed = session.connection().execute(
            update(outbox).where(outbox.c.id == outbox_id, outbox.c.state == "pending")
            .values(state="sending", attempts=outbox.c.attempts + 1, attempted_at=utcnow())).rowcount
        if not claimed:
            session.rollback()
            return "not pending"
        item, message, contact = _load(session, outbox_id)
        if outside_window(runtime, contact, message):
            item.state, item.attempts, item.attempted_at = "held", item.attempts - 1, None
            queued = ask_to_open(session, runtime, contact)
            session.commit()
            log.info("outbox %s held: outside the 24-hour window", outbox_id)
            return "template queued" if queued else "held"
        channel = runtime.channel_for(contact)
        if channel is runtime.channel and runtime.rate_limiter is not None:
            runtime.rate_limiter.wait_for_slot()
        session.commit()
        try:
            sent = channel.send(_outgoing(runtime, outbox_id, message, contact))
        except PermanentFailure as failure:
            item.state, item.last_error = "failed", str(failure)[:256]
            message.status, message.error_code = "failed", failure.code
            follow_up = apply_failure(session, runtime, message, failure.code)
            session.commit()
            if follow_up == "template queued":
                runtime.tasks.deliver.send(contact.id)
            log.warning("outbox %s failed permanently: code %s", outbox_id, failure.code)
            return "failed"
        except MaybeSent as doubt:
            item.state, item.last_error = "uncertain", str(doubt)[:256]
            session.commit()
            log.warning("outbox %s may have been sent (%s): waiting for its status callback", outbox_id, doubt)
            return "uncertain"
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
        _record_sent(session, item, message, sent)
        session.commit()
        if contact.erased_at is not None:
            _drop_erased(session, contact)
        return "sent"


def _record_sent(session, item: OutboxItem, message: Message, sent: Sent) -> None:
    """`adopt` for the common case, in Core statements without the ORM's flush: this runs once
    per message at the full send rate. A status callback that came first is taken with it."""
    now = utcnow()
    connection = session.connection()
    early = connection.execute(delete(EarlyStatus).where(EarlyStatus.provider_sid == sent.provider_sid)
                               .returning(EarlyStatus.status, EarlyStatus.error_code)).first()
    connection.execute(update(OutboxItem.__table__).where(OutboxItem.__table__.c.id == item.id)
                       .values(state="sent", sent_at=now))
    status = sent.status if RANK.get(sent.status, -1) > RANK.get(message.status, 0) else message.status
    connection.execute(update(Message.__table__).where(Message.__table__.c.id == message.id)
                       .values(provider_sid=sent.provider_sid, status=status, updated_at=now))
    session.expire(item)
    session.expire(message)
    if early is not None:  # rare: Twilio called back before messages.create returned
        advance(message, early.status, early.error_code)
        delivered(session, message)


def adopt(session, item: OutboxItem, message: Message, sent: Sent) -> None:
    """The row's message is at Twilio under `sent.provider_sid`."""
    item.state, item.sent_at = "sent", utcnow()
    message.provider_sid = message.provider_sid or sent.provider_sid
    advance(message, sent.status, None)
    apply_early_status(session, message)


def reconcile(runtime, outbox_id: int) -> bool:
    """Settle an uncertain row once its grace period is over: adopt the message Twilio has, or
    make the row pending to send it again. False while it must still wait."""
    grace = timedelta(seconds=runtime.settings.delivery.uncertain_grace_seconds)
    with runtime.session() as session:
        item, message, contact = _load(session, outbox_id)
        if item.state != "uncertain":
            return True
        attempted = _aware(item.attempted_at or item.created_at)
        if attempted > utcnow() - grace:
            return False
        channel = runtime.channel_for(contact)
        finder = getattr(channel, "find_sent", None)
        found = None
        if finder is not None:
            try:
                candidates = finder(_outgoing(runtime, outbox_id, message, contact), since=attempted - CLOCK_SKEW)
            except Exception as error:  # Twilio unreachable: stay uncertain, the sweeper comes back
                log.warning("outbox %s: cannot reconcile now (%s)", outbox_id, type(error).__name__)
                return False
            sids = [c.provider_sid for c in candidates]
            known = set(session.scalars(select(Message.provider_sid).where(Message.provider_sid.in_(sids)))) \
                if sids else set()
            found = next((c for c in candidates if c.provider_sid not in known), None)
        if found is None:
            session.execute(update(OutboxItem).where(OutboxItem.id == outbox_id, OutboxItem.state == "uncertain")
                            .values(state="pending").execution_options(synchronize_session=False))
            session.commit()
            log.info("outbox %s: Twilio does not have it; sending again", outbox_id)
            return True
        adopt(session, item, message, found)
        session.commit()
        log.info("outbox %s: found at Twilio, adopted", outbox_id)
        return True


def _aware(moment):
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _drop_erased(session, contact: Contact) -> None:
    waiting = session.scalar(select(func.count()).select_from(OutboxItem).join(Message)
                             .where(Message.contact_id == contact.id,
                                    OutboxItem.state.in_(("pending", "sending", "uncertain"))))
    if not waiting:
        session.delete(contact)
        session.commit()


def stale_work(runtime) -> tuple[list[int], list[int]]:
    """Contacts whose queue message may have been lost (a broker restart, a worker killed
    mid-send) or whose uncertain send is due for reconciliation: (contacts with messages to
    deliver, contacts with messages to process)."""
    settings = runtime.settings.delivery
    now = utcnow()
    cutoff = now - timedelta(seconds=settings.sweep_after_seconds)
    stuck = now - timedelta(seconds=2 * settings.send_timeout_seconds + 1)
    grace = now - timedelta(seconds=settings.uncertain_grace_seconds)
    last_try = func.coalesce(OutboxItem.attempted_at, OutboxItem.created_at)
    with runtime.session() as session:
        # A request that has had twice its timeout is over: the worker that made it is gone.
        session.execute(update(OutboxItem).where(OutboxItem.state == "sending", last_try < stuck)
                        .values(state="uncertain", last_error="worker stopped mid-send")
                        .execution_options(synchronize_session=False))
        session.commit()
        outbox = list(session.scalars(select(Message.contact_id).join(OutboxItem).where(or_(
            (OutboxItem.state == "pending") & (last_try < cutoff),
            (OutboxItem.state == "uncertain") & (last_try < grace))).distinct()))
        contacts = list(session.scalars(select(Message.contact_id).where(
            Message.direction == "in", Message.processed_at.is_(None), Message.created_at < cutoff).distinct()))
    return outbox, contacts
