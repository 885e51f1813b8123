"""Processing a person's inbound messages, one at a time and in the order they arrived.

For each message, in one transaction: mark it processed (a statement only one transaction can
win, so a message is applied once even if two workers reach it), load the conversation state,
run one turn of the engine, then write the new state, the replies (outbox) and the changes to
the contact, and commit. Only then are the replies delivered, by the same job (a trip through
the queue would only add to the wait), so nothing is sent for a turn that did not commit. The
person's lock in Redis only keeps workers from doing the same work twice; losing it, or Redis
altogether, changes nothing about where a person is.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from bot.engine import Profile, State
from bot.messages import Incoming
from delivery.outbox import queue_replies
from inbox.poison import count_failure, retry_later, waiting
from inbox.step_counts import record_turn
from privacy.erase import erase
from store import conversations
from store.conversation import Conversation
from store.models import Contact, Message, Ticket, utcnow

log = logging.getLogger(__name__)


def incoming_from(message: Message) -> Incoming:
    location = None
    if message.kind == "location" and message.body and message.body.startswith("geo:"):
        lat, _, lon = message.body[4:].partition(",")
        location = (float(lat), float(lon))
    text = "" if message.kind == "location" else (message.body or "")
    return Incoming(kind=message.kind, text=text, payload=message.payload,
                    media_types=tuple(message.media_types or ()), location=location)


def process_contact(runtime, contact_id: int) -> int:
    """Process every waiting inbound message of one contact; returns how many."""
    done = 0
    runtime.reload_if_changed()
    with runtime.locks.hold(contact_id) as renew:
        while True:
            try:
                replies = _process_next(runtime, contact_id)
            except Exception as error:
                if not count_failure(runtime, contact_id, error):
                    raise retry_later(error) from None  # tried again, with the queue's backoff
                continue
            if replies is None:
                return done
            done += 1
            if replies.queued:
                runtime.tasks.deliver_now(contact_id)
            if not replies.more:
                return done
            renew()


@dataclass(frozen=True)
class _Turned:
    queued: int  # replies put in the outbox
    more: bool  # another message of the person's was waiting when this turn committed


def _process_next(runtime, contact_id: int) -> _Turned | None:
    """Process the oldest waiting message; None if none waited.

    Whether another waits is asked inside the turn's transaction, which spares a transaction of
    its own after each message. One stored after that look is not missed: the webhook lists a
    person only after storing their message, so that message has a job of its own, which waits
    for this one's lock."""
    with runtime.session() as session:
        message = session.scalar(waiting(contact_id))
        if message is None:
            return None
        if not _claim(session, message):
            session.rollback()
            return _Turned(0, more=True)  # another worker had it; look again
        contact = session.get(Contact, contact_id, options=[joinedload(Contact.identifiers)])  # one round trip
        in_handoff = session.scalar(select(Ticket.id).where(Ticket.contact_id == contact_id,
                                                            Ticket.status == "open")) is not None
        profile = Profile(language=contact.language, opted_out=contact.opted_out, in_handoff=in_handoff)
        ttl = timedelta(hours=runtime.settings.conversation.state_ttl_hours)
        before = State.from_dict(conversations.load(session, contact_id, ttl))
        host = Conversation(session=session, contact=contact, runtime=runtime)
        turn = runtime.bot.handle(before, incoming_from(message), profile, host)
        if not host.erase:
            conversations.save(session, contact_id, turn.state.to_dict())

        contact.language = turn.profile.language
        contact.opted_out = turn.profile.opted_out
        items = queue_replies(session, runtime.settings, contact, turn.replies)
        if host.erase:  # keeps the confirmation until it is delivered
            erase(session, contact, keep=[item.message_id for item in items])
        more = session.scalar(waiting(contact_id).with_only_columns(Message.id)) is not None
        if contact.channel != "local":
            # Last before the commit: every turn locks the same few counts (today's welcome), so
            # the time between this and the commit is how many turns a second all workers can take.
            record_turn(session, before, turn, turn.profile.language)
        session.commit()
        log.info("processed inbound message %s: %d repl%s, %s", message.id, len(turn.replies),
                 "y" if len(turn.replies) == 1 else "ies", turn.handled_by)
        return _Turned(len(items), more)



def _claim(session, message: Message) -> bool:
    """Mark the message processed in this transaction, unless another transaction did: on
    PostgreSQL a second worker waits here until the first commits, then finds it taken."""
    return session.execute(update(Message).where(Message.id == message.id, Message.processed_at.is_(None))
                           .values(processed_at=utcnow()).execution_options(synchronize_session=False)).rowcount == 1
