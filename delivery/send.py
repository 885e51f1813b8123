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
  is sent again. A row left `sending` by a worker that died is settled by its callback too, or
  reconciled as soon as that worker is known to be gone (delivery/liveness.py).
- Failures that cannot have reached Twilio (connection refused, no DNS, a 429 or 5xx answer)
  make the row pending again with a `due_at` after an exponential backoff with jitter, and a
  job is queued for then; after `delivery.max_attempts` the row fails for good. Nothing can
  double, and nothing (the sweeper included) tries the row before it is due.
- An uncertain row blocks that person's later rows until it is settled, which keeps their
  messages in order and makes "a message to this number since the attempt" unambiguous. The
  block is short: the callback usually comes within seconds.
- Only a person's oldest unsettled row is ever claimed, by one statement for one person (the
  reply path, under the person's lock) or for a hundred (bulk jobs): a bulk job and a reply
  can share a person without overtaking each other, and at 70 messages a second the database
  sees a few statements per batch rather than several per message.
- The rate slot is taken after the claim is committed; a Redis failure there gives the row
  back as pending. The window is checked at claiming (delivery/window.py).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, timedelta

from dramatiq.common import compute_backoff
from sqlalchemy import bindparam, case, delete, func, or_, select, update
from sqlalchemy.orm import joinedload

from channels.base import Channel, MaybeSent, Outgoing, PermanentFailure, Sent
from delivery.failures import apply_failure
from delivery.hooks import DeliveryHooks
from delivery.media_links import signed_url
from delivery.rate_limit import Slots
from delivery.status import advance, apply_early_status
from delivery.window import ask_to_open, outside_window
from store.db import table_of
from store.models import Contact, EarlyStatus, Message, OutboxItem, utcnow

log = logging.getLogger(__name__)
IN_FLIGHT = ("pending", "sending", "uncertain")
# Retries after a transient failure: from half a second, doubling, at most five minutes.
BACKOFF_MS, MAX_BACKOFF_MS = 500, 300_000
PAUSE_MS = 100  # the rest of a batch goes on after 0.1-0.2 s: a 429 or 5xx says Twilio is struggling
DUE_MARGIN_MS = 100  # the retry job arrives this much after its row is due, whichever clock is ahead
# Twilio's clock and ours may differ; reconciliation looks this much further back. Earlier
# messages to the same person are excluded by their known sids, so looking back is safe.
CLOCK_SKEW = timedelta(seconds=60)


@dataclass(frozen=True)
class Retry:
    """A send failed in a way a later attempt may fix: this person's next try is due in `delay_ms`."""
    contact_id: int
    delay_ms: int


def callback_key(secret: str, outbox_id: int) -> str:
    return hmac.new(secret.encode(), f"outbox:{outbox_id}".encode(), hashlib.sha256).hexdigest()[:32]


def valid_callback_key(runtime, outbox_id: int, key: str) -> bool:
    return hmac.compare_digest(callback_key(runtime.settings.secrets.secret_key, outbox_id), key)


def deliver_contact(runtime, contact_id: int) -> int:
    """Deliver a person's waiting messages one after another, oldest first, so they arrive in
    the order they were written (the reply path). Returns how many were sent or settled."""
    handled = 0
    patience = time.monotonic() + runtime.settings.delivery.send_timeout_seconds
    with runtime.locks.hold(contact_id, purpose="delivery") as renew:
        while True:
            renew()
            with runtime.session() as session:
                rows = _claim(session, [contact_id], runtime.tasks.worker_id)
                if rows:
                    outcomes, retry = _deliver_claimed(runtime, session, rows, bulk=False)
                    handled += len(outcomes)
                    if retry is not None:
                        runtime.tasks.deliver.send_with_options(args=(contact_id,), delay=retry.delay_ms)
                        return handled
                    if "uncertain" in outcomes:
                        return handled  # the later ones wait behind it
                    continue
                first = session.execute(select(OutboxItem.id, OutboxItem.state).join(Message).where(
                    Message.contact_id == contact_id, OutboxItem.state.in_(IN_FLIGHT))
                    .order_by(OutboxItem.id).limit(1)).first()
            if first is None or first.state == "pending":  # nothing, or a retry not yet due (it is queued)
                return handled
            if first.state == "uncertain":
                if not reconcile(runtime, first.id):
                    return handled
                handled += 1
            elif time.monotonic() < patience:  # a bulk job is sending this person's earlier message
                time.sleep(0.05)
            else:  # its worker is gone: the sweeper settles the row and queues this person again
                return handled


def deliver_batch(runtime, contact_ids: list[int]) -> int:
    """Deliver bulk messages (voucher notices, invitations, reminders) for many people in one
    job: each round claims every person's oldest waiting message in one statement, takes rate
    slots a batch at a time and records what was sent in one transaction. A person whose oldest
    message is in doubt or being sent by another job is skipped; the reply path and the sweeper
    see to them.

    A 429, a 5xx or a refused connection says nothing about the other people in the batch:
    the row that met it is retried in a job of its own with its own exponential backoff (and
    fails for good after `delivery.max_attempts`), the rest go on after a short pause. So a
    storm spreads over the rows instead of exhausting the first one. Returns how many were
    sent or settled."""
    handled = 0
    while True:
        with runtime.session() as session:
            rows = _claim(session, contact_ids, runtime.tasks.worker_id)
            if not rows:
                return handled
            outcomes, retry = _deliver_claimed(runtime, session, rows, bulk=True)
            handled += len(outcomes)
            if retry is not None:
                runtime.tasks.deliver_bulk.send_with_options(args=([retry.contact_id],), delay=retry.delay_ms)
                rest = [contact for contact in contact_ids if contact != retry.contact_id]
                if rest:
                    _, pause = compute_backoff(0, factor=PAUSE_MS)
                    runtime.tasks.deliver_bulk.send_with_options(args=(rest,), delay=pause)
                return handled


def _first_unfinished(contact_ids: list[int]):
    """Each person's oldest message not yet settled: only that one may go next."""
    return (select(func.min(OutboxItem.id)).join(Message)
            .where(Message.contact_id.in_(contact_ids), OutboxItem.state.in_(IN_FLIGHT))
            .group_by(Message.contact_id))


def _claim(session, contact_ids: list[int], worker_id: str) -> list[tuple[OutboxItem, Message, Contact]]:
    """pending -> sending for each person's next message, in one statement that two workers
    cannot both win, naming this process (delivery/liveness.py); the rows come back loaded,
    oldest first."""
    outbox = table_of(OutboxItem)
    now = utcnow()
    claimed = session.connection().execute(
        update(outbox).where(outbox.c.id.in_(_first_unfinished(contact_ids)), outbox.c.state == "pending",
                             or_(outbox.c.due_at.is_(None), outbox.c.due_at <= now))
        .values(state="sending", attempts=outbox.c.attempts + 1, attempted_at=now, due_at=None,
                claimed_by=worker_id)
        .returning(outbox.c.id)).scalars().all()
    if not claimed:  # the transaction goes on: the reply path looks at what else is in flight
        return []
    return [tuple(row) for row in session.execute(
        select(OutboxItem, Message, Contact).join(Message, OutboxItem.message_id == Message.id)
        .join(Contact, Message.contact_id == Contact.id).options(joinedload(Contact.identifiers))
        .where(OutboxItem.id.in_(claimed)).order_by(OutboxItem.id)).unique()]


@dataclass(frozen=True)
class _Claimed:
    """What sending a claimed row needs, read before the claim is committed."""
    outbox_id: int
    message_id: int
    contact_id: int
    outgoing: Outgoing
    channel: Channel
    limited: bool  # Twilio: through the shared rate limit
    erased: bool


def _deliver_claimed(runtime, session, rows, *, bulk: bool) -> tuple[list[str], Retry | None]:
    """Send claimed rows in order. Held rows (outside the window) never leave; a transient
    failure stops the run, gives the rows not yet tried back and says when to try again. The
    rows are this process's in flight until it is done with them (delivery/liveness.py)."""
    with runtime.tasks.in_flight.holding([item.id for item, _message, _contact in rows]):
        return _send_claimed(runtime, session, rows, bulk=bulk)


def _send_claimed(runtime, session, rows, *, bulk: bool) -> tuple[list[str], Retry | None]:
    ready, asked = [], []
    for item, message, contact in rows:
        if outside_window(runtime, contact, message):
            item.state, item.attempts, item.attempted_at = "held", item.attempts - 1, None
            if ask_to_open(session, runtime, contact):
                asked.append(contact.id)
            log.info("outbox %s held: outside the 24-hour window", item.id)
            continue
        channel = runtime.channel_for(contact)
        ready.append(_Claimed(item.id, message.id, contact.id, _outgoing(runtime, item.id, message, contact), channel,
                              channel is runtime.channel and runtime.rate_limiter is not None,
                              contact.erased_at is not None))
    session.commit()  # the claims are on record before any request leaves
    for contact_id in asked:
        runtime.tasks.deliver.send(contact_id)
    outcomes = ["held"] * (len(rows) - len(ready))
    slots = Slots(runtime.rate_limiter, sum(claim.limited for claim in ready), bulk=bulk)
    done: list[tuple[_Claimed, Sent]] = []
    tried = 0
    retry = None
    try:
        for claim in ready:
            if claim.limited:
                slots.take()
            tried += 1
            try:
                done.append((claim, claim.channel.send(claim.outgoing)))
                outcomes.append("sent")
            except Exception as error:
                outcome = _failed(runtime, claim, error)
                if isinstance(outcome, Retry):
                    retry = outcome
                    break
                outcomes.append(outcome)
    finally:
        _give_back(session, ready[tried:])
        _record_sent(session, done, runtime.delivery_hooks)
        session.commit()
        for claim, _ in done:
            if claim.erased:
                _drop_erased(session, claim.contact_id)
    return outcomes, retry


def _failed(runtime, claim: _Claimed, error: Exception) -> str | Retry:
    with runtime.session() as session:
        item, message, contact = _load(session, claim.outbox_id)
        if item.state != "sending":  # its status callback came first: Twilio has it (delivery/status.py)
            return "sent"
        if isinstance(error, PermanentFailure):
            item.state, item.last_error = "failed", str(error)[:256]
            message.status, message.error_code = "failed", error.code
            follow_up = apply_failure(session, runtime, message, error.code)
            session.commit()
            if follow_up == "template queued":
                runtime.tasks.deliver.send(contact.id)
            log.warning("outbox %s failed permanently: code %s", claim.outbox_id, error.code)
            return "failed"
        if isinstance(error, MaybeSent):
            item.state, item.last_error = "uncertain", str(error)[:256]
            session.commit()
            log.warning("outbox %s may have been sent (%s): waiting for its status callback", claim.outbox_id, error)
            return "uncertain"
        give_up = item.attempts >= runtime.settings.delivery.max_attempts
        _, backoff = compute_backoff(item.attempts - 1, factor=BACKOFF_MS, max_backoff=MAX_BACKOFF_MS)
        item.state = "failed" if give_up else "pending"
        item.last_error = type(error).__name__
        item.due_at = None if give_up else utcnow() + timedelta(milliseconds=backoff)
        if give_up:
            message.status = "failed"
        session.commit()
        log.warning("outbox %s attempt %d failed: %s", claim.outbox_id, item.attempts, type(error).__name__)
        return "failed" if give_up else Retry(claim.contact_id, backoff + DUE_MARGIN_MS)


def _give_back(session, untried: list[_Claimed]) -> None:
    """Rows claimed but never sent (a failure came first): pending again, the attempt not counted."""
    if untried:
        outbox = table_of(OutboxItem)
        session.connection().execute(
            update(outbox).where(outbox.c.id.in_([claim.outbox_id for claim in untried]), outbox.c.state == "sending")
            .values(state="pending", attempts=outbox.c.attempts - 1))


def _load(session, outbox_id: int) -> tuple[OutboxItem, Message, Contact]:
    return session.execute(select(OutboxItem, Message, Contact).join(Message, OutboxItem.message_id == Message.id)
                           .join(Contact, Message.contact_id == Contact.id)
                           .where(OutboxItem.id == outbox_id)).one()


def _outgoing(runtime, outbox_id: int, message: Message, contact: Contact) -> Outgoing:
    key = callback_key(runtime.settings.secrets.secret_key, outbox_id)
    secrets, connections = runtime.settings.secrets, runtime.settings.connections
    media_url = signed_url(secrets.secret_key, connections.public_base_url, message.media_url)
    # Replies go where the person last wrote from; a text message (SMS) can only go to a number.
    to = contact.phone if message.kind == "sms" else contact.address
    return Outgoing(to=to or "", body=message.body, media_url=media_url,
                    content_sid=message.content_sid, content_variables=message.content_variables,
                    location=message.location, sms=message.kind == "sms",
                    options=tuple(message.options) if message.options else None,
                    language=message.language or contact.language,
                    callback_query=f"outbox={outbox_id}&key={key}")


def _record_sent(session, done: list[tuple[_Claimed, Sent]], hooks: DeliveryHooks) -> None:
    """`adopt` for many rows at once, in Core statements without the ORM's flush: this runs at
    the full send rate. A status callback that came before its row was recorded is taken too."""
    if not done:
        return
    now = utcnow()
    connection = session.connection()
    outbox, messages = table_of(OutboxItem), table_of(Message)
    early = connection.execute(delete(EarlyStatus).where(EarlyStatus.provider_sid.in_(
        [sent.provider_sid for _, sent in done])).returning(EarlyStatus.provider_sid, EarlyStatus.status,
                                                            EarlyStatus.error_code)).all()
    connection.execute(update(outbox).where(outbox.c.id == bindparam("row")).values(state="sent", sent_at=now),
                       [{"row": claim.outbox_id} for claim, _ in done])
    connection.execute(
        update(messages).where(messages.c.id == bindparam("row")).values(
            provider_sid=bindparam("sid"), updated_at=now,
            status=case((messages.c.status == "pending", bindparam("status")), else_=messages.c.status)),
        [{"row": claim.message_id, "sid": sent.provider_sid, "status": sent.status} for claim, sent in done])
    for sid, status, error_code in early:  # rare: Twilio called back before messages.create returned
        message = session.scalar(select(Message).where(Message.provider_sid == sid))
        advance(message, status, error_code)
        hooks.delivered(session, message)


def adopt(session, item: OutboxItem, message: Message, sent: Sent, hooks: DeliveryHooks) -> None:
    """The row's message is at Twilio under `sent.provider_sid`."""
    item.state, item.sent_at = "sent", utcnow()
    message.provider_sid = message.provider_sid or sent.provider_sid
    advance(message, sent.status, None)
    apply_early_status(session, message, hooks)


def reconcile(runtime, outbox_id: int) -> bool:
    """Settle an uncertain row once it is due (its grace period is over, or its worker stopped):
    adopt the message Twilio has, or make the row pending to send it again. False while it must
    still wait."""
    grace = timedelta(seconds=runtime.settings.delivery.uncertain_grace_seconds)
    with runtime.session() as session:
        item, message, contact = _load(session, outbox_id)
        if item.state != "uncertain":
            return True
        attempted = _aware(item.attempted_at or item.created_at)
        if (_aware(item.due_at) if item.due_at else attempted + grace) > utcnow():
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
        adopt(session, item, message, found, runtime.delivery_hooks)
        session.commit()
        log.info("outbox %s: found at Twilio, adopted", outbox_id)
        return True


def _aware(moment):
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _drop_erased(session, contact_id: int) -> None:
    waiting = session.scalar(select(func.count()).select_from(OutboxItem).join(Message)
                             .where(Message.contact_id == contact_id,
                                    OutboxItem.state.in_(IN_FLIGHT)))
    contact = session.get(Contact, contact_id)
    if not waiting and contact is not None:
        session.delete(contact)
        session.commit()


@dataclass
class StaleWork:
    """People whose queue message may have been lost (a broker restart, a worker killed
    mid-send) or whose uncertain send is due for reconciliation."""
    deliver: list[int]  # on the reply path (it reconciles)
    deliver_bulk: list[int]
    process: list[int]  # inbound messages not yet answered
    # after a lost queue: retries whose delayed job went with it (person, bulk, ms until due)
    later: list[tuple[int, bool, int]] = field(default_factory=list)


def stale_work(runtime, everything: bool = False) -> StaleWork:
    """`everything`: the queue lost its jobs (Redis restarted or flushed, or was unreachable
    when some were queued), so whatever waits is queued again, however new."""
    settings = runtime.settings.delivery
    now = utcnow()
    cutoff = now if everything else now - timedelta(seconds=settings.sweep_after_seconds)
    grace = now - timedelta(seconds=settings.uncertain_grace_seconds)
    last_try = func.coalesce(OutboxItem.due_at, OutboxItem.attempted_at, OutboxItem.created_at)
    with runtime.session() as session:
        bulk = (OutboxItem.queue == "bulk") & (OutboxItem.state == "pending")
        rows = session.execute(select(Message.contact_id, bulk).join(OutboxItem).where(or_(
            (OutboxItem.state == "pending") & (last_try <= cutoff),
            (OutboxItem.state == "uncertain") & OutboxItem.due_at.is_not(None) & (OutboxItem.due_at <= now),
            (OutboxItem.state == "uncertain") & OutboxItem.due_at.is_(None) & (last_try < grace))).distinct()).all()
        contacts = list(session.scalars(select(Message.contact_id).where(
            Message.direction == "in", Message.processed_at.is_(None), Message.created_at <= cutoff).distinct()))
        retries = session.execute(select(Message.contact_id, OutboxItem.queue == "bulk", func.min(OutboxItem.due_at))
                                  .join(OutboxItem).where(OutboxItem.state == "pending", OutboxItem.due_at > now)
                                  .group_by(Message.contact_id, OutboxItem.queue)).all() if everything else []
    return StaleWork(deliver=[contact for contact, is_bulk in rows if not is_bulk],
                     deliver_bulk=[contact for contact, is_bulk in rows if is_bulk], process=contacts,
                     later=[(contact, is_bulk, int((_aware(due) - now).total_seconds() * 1000) + DUE_MARGIN_MS)
                            for contact, is_bulk, due in retries])
