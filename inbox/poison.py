"""A message whose processing keeps failing is set aside, so the person is not silenced.

Processing runs a person's messages strictly in order, so one message that always fails (data
an older version stored, a bug meeting an unusual answer) would hold back everything after it,
STOP and DELETE MY DATA included. Each failure is counted on the message with its error's class
(never its text, which may quote the person); after `conversation.set_aside_after` failures the
message is set aside, the person is told something went wrong with their last message, and
their next messages are processed. Failures of the database or Redis themselves say nothing
about the message and are not counted: the message waits for them to come back.
`flask inbox failed` lists what was set aside, `flask inbox retry ID` tries one again.
"""
from __future__ import annotations

import logging
import traceback

import redis
from sqlalchemy import exc, func, select

from bot.i18n import N_
from bot.messages import Reply
from delivery.outbox import queue_replies
from store.models import Contact, Message, utcnow

log = logging.getLogger(__name__)
SET_ASIDE = N_("Sorry, something went wrong with your last message. Please send it again in other words, or write "
               "HUMAN to talk to a person.")
NOT_THE_MESSAGE = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, redis.exceptions.ConnectionError,
                   redis.exceptions.TimeoutError, ConnectionError, TimeoutError)


class ProcessingFailed(Exception):
    """Raised in place of a message's own error, whose text may quote the person, so the
    queue's retry logs only the class of what went wrong."""


def retry_later(error: Exception) -> Exception:
    """What to raise for the queue to try the message again later, with its backoff."""
    return error if isinstance(error, NOT_THE_MESSAGE) else ProcessingFailed(type(error).__name__)


def count_failure(runtime, contact_id: int, error: Exception) -> bool:
    """Count `error` against the person's oldest waiting message: True if that message is now
    set aside (the caller goes on with the next), False if it should be tried again later."""
    if isinstance(error, NOT_THE_MESSAGE):
        return False
    with runtime.session() as session:
        message = session.scalar(waiting(contact_id))
        if message is None:
            return False
        message.failures = (message.failures or 0) + 1
        message.failure = type(error).__name__[:64]
        aside = message.failures >= runtime.settings.conversation.set_aside_after
        if aside:
            message.set_aside_at = message.processed_at = utcnow()
            message.status = "set aside"
            contact = session.get(Contact, contact_id)
            if not contact.opted_out and contact.erased_at is None:
                text = runtime.translator.text(SET_ASIDE, contact.language or runtime.settings.languages.source)
                queue_replies(session, runtime.settings, contact, [Reply(text=text)])
        message_id, failures, failure = message.id, message.failures, message.failure
        session.commit()
    log.warning("inbound message %s failed (%s), %s; where:\n%s", message_id, failure,
                f"set aside after {failures} failures" if aside else f"failure {failures}",
                "".join(traceback.format_tb(error.__traceback__)))  # code lines only, never the error's text
    if aside:
        runtime.tasks.deliver.send(contact_id)
    return aside


def waiting(contact_id: int):
    """The person's oldest message not processed yet: the one processing takes next."""
    return (select(Message).where(Message.contact_id == contact_id, Message.direction == "in",
                                  Message.processed_at.is_(None)).order_by(Message.id).limit(1))


def set_aside(session) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.set_aside_at.is_not(None)).order_by(Message.id)))


def count_set_aside(session) -> int:
    return session.scalar(select(func.count()).select_from(Message).where(Message.set_aside_at.is_not(None))) or 0


def retry(runtime, message_id: int) -> bool:
    """Put a set-aside message back in the person's queue; False if there is no such message."""
    with runtime.session() as session:
        message = session.get(Message, message_id)
        if message is None or message.set_aside_at is None:
            return False
        message.set_aside_at = message.processed_at = None
        message.failures, message.failure, message.status = 0, None, "received"
        contact_id = message.contact_id
        session.commit()
    runtime.tasks.process_contact.send(contact_id)
    return True
