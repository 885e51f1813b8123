"""Storing an inbound message, once, on the request path. Processing happens elsewhere.

This is the webhook's hot path: find or make the contact by the keyed hashes of the identifiers
the message carries (its sender, and the phone number or WhatsApp user ID beside it, which are
then linked: store/identifiers.py), then insert the message, sealed with the person's data key,
unless its MessageSid is already known, and release what was held for the person (they wrote,
so WhatsApp's window is open). The unique MessageSid makes a retried or concurrent delivery a
no-op. Only someone new costs more: a data key is made in the keyring first, then the contact.

On PostgreSQL each step commits on its own (autocommit) and the message and the release are one
statement; the message is stored before the webhook answers either way. SQLite (`make run`,
tests) runs the same statements in one transaction. The statements are plain SQL with typed
parameters so SQLAlchemy compiles them once (README, Production).
"""
from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import bindparam, select, text

from channels.twilio_payload import Received
from delivery.window import release_held
from privacy.replays import is_forgotten
from store.identifiers import Identity, identify, wrote
from store.models import PHONE, Contact, Message, utcnow
from store.personal import seal
from store.sealing import contact_key


def contact_for(session, phone: str) -> Contact:
    """The contact with this number, made if unknown (seeding, tests); safe when two requests race."""
    contact_id = identify(session.connection(), [Identity(PHONE, phone)], utcnow())
    return session.get(Contact, contact_id)


_MESSAGE_VALUES = """(contact_id, direction, provider_sid, kind, body, payload, media_types, sender, status,
                      created_at, updated_at)
    VALUES (:contact_id, 'in', :sid, :kind, :body, :payload, :media_types, 'person', 'received', :now, :now)
    ON CONFLICT (provider_sid) DO NOTHING
    RETURNING id"""
_MESSAGE_TYPES = (bindparam("body", type_=Message.body.type), bindparam("payload", type_=Message.payload.type),
                  bindparam("media_types", type_=Message.media_types.type))
_INSERT_MESSAGE = text(f"INSERT INTO messages {_MESSAGE_VALUES}").bindparams(*_MESSAGE_TYPES)
# PostgreSQL: the message and the release in one statement, so both or neither commit. The
# release reads the person's earlier messages: the new one is not in the statement's snapshot,
# and nothing is held for it yet.
_INSERT_MESSAGE_AND_RELEASE = text(f"""
    WITH message AS (INSERT INTO messages {_MESSAGE_VALUES}),
    released AS (
        UPDATE outbox SET state = 'pending'
        WHERE state = 'held' AND EXISTS (SELECT 1 FROM message)
          AND message_id IN (SELECT id FROM messages WHERE contact_id = :contact_id)
        RETURNING outbox.id)
    SELECT (SELECT id FROM message), (SELECT count(*) FROM released)""").bindparams(*_MESSAGE_TYPES)


class Stored(NamedTuple):
    message_id: int
    contact_id: int
    new: bool  # False: Twilio sent this MessageSid before
    waiting: bool  # not processed yet (new, or a retry of one whose job was lost): queue it


def receive(runtime, received: Received) -> Stored | None:
    """Store the message unless its MessageSid is known; None for a message of someone erased
    (a replay), which is dropped without bringing the person back."""
    now = utcnow()
    values = {"now": now, "sid": received.sid, "kind": received.kind, "media_types": list(received.media_types) or None}
    postgresql = runtime.db.dialect.name == "postgresql"
    with runtime.db.connect() as connection:
        if is_forgotten(connection, received.sid):
            return None
        if postgresql:
            connection.commit()
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        contact_id = identify(connection, [received.sender, *received.linked], now,
                              channel=received.channel)
        data_key = contact_key(connection, contact_id)
        values |= {"contact_id": contact_id, "body": seal(received.body, data_key) if received.body else None,
                   "payload": seal(received.payload, data_key) if received.payload else None}
        if postgresql:
            message_id, released = connection.execute(_INSERT_MESSAGE_AND_RELEASE, values).one()
        else:
            message_id = connection.execute(_INSERT_MESSAGE, values).scalar()
            released = release_held(connection, contact_id) if message_id is not None else 0
        if message_id is not None:  # last: it writes the contact's row (see store.identifiers.wrote)
            wrote(connection, contact_id, received.sender, now)
        if not postgresql:
            connection.commit()
        if released:
            runtime.tasks.deliver.send(contact_id)
        if message_id is not None:
            return Stored(message_id, contact_id, new=True, waiting=True)
        known = connection.execute(select(Message.id, Message.contact_id, Message.processed_at)
                                   .where(Message.provider_sid == received.sid)).one()
        return Stored(known.id, known.contact_id, new=False, waiting=known.processed_at is None)
