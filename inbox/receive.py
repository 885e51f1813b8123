"""Storing an inbound message, once, on the request path. Processing happens elsewhere.

This is the webhook's hot path: touch the contact (found by the keyed hash of the number; it
returns the id of the person's data key), then insert the message, sealed with that key, unless
its MessageSid is already known, and release what was held for the person (they wrote, so
WhatsApp's window is open). The unique MessageSid makes a retried or concurrent delivery a no-op.
Only someone new costs more: a data key is made in the keyring first, then the contact is
inserted (a concurrent first message wins the insert, and the key made for the loser stays
unused).

On PostgreSQL each step commits on its own (autocommit) and the message and the release are one
statement, so a known person costs two round trips; the message is stored before the webhook
answers either way. SQLite (`make run`, tests) runs the same statements in one transaction. The
statements are plain SQL with typed parameters so SQLAlchemy compiles them once: as dialect
inserts (ON CONFLICT) they were compiled again on every request, which with the round trips
(begin, touch, insert, release, commit) was most of the webhook's cost (README, Production).

During a key rotation (DDA_PREVIOUS_ENCRYPTION_KEYS set) a known person may still be stored
under an old key's hash. One keyed UPDATE first moves their row to the current hash (`_adopt`),
so the upsert finds them instead of making a second contact; outside a rotation that
statement is skipped and receiving stays the single upsert.
"""
from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import bindparam, exists, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from channels.twilio_payload import Received
from delivery.window import release_held
from privacy.replays import is_forgotten
from store.db import table_of
from store.models import Contact, Message, utcnow
from store.personal import data_keys, lookup_key, lookup_keys, seal
from store.sealing import contact_key


def _insert(session, table):
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def contact_for(session, secret: str, phone: str) -> Contact:
    """The contact with this number, made on first contact; safe when two requests race."""
    key = lookup_key(secret, phone)
    _adopt(session, key, [k for k in lookup_keys(phone) if k != key])
    contact = session.scalar(select(Contact).where(Contact.phone_key == key))
    if contact is None:
        data_key = data_keys().create()[0]
        statement = _insert(session, Contact).values(phone_key=key, phone=seal(phone, data_key), opted_out=False,
                                                     created_at=utcnow(), data_key_id=data_key)
        session.execute(statement.on_conflict_do_nothing(index_elements=["phone_key"]))
        contact = session.scalar(select(Contact).where(Contact.phone_key == key))
    return contact


def _adopt(connection, key: str, previous: list[str]) -> None:
    """Move a contact stored under a previous key's hash to the current one, unless a contact
    already has the current hash. Only runs while a rotation is under way."""
    if not previous:
        return
    table = table_of(Contact)
    current = table.alias("current_key")
    connection.execute(update(table).where(table.c.phone_key.in_(previous),
                                           ~exists().where(current.c.phone_key == key))
                       .values(phone_key=key))


_TOUCH = text("UPDATE contacts SET last_inbound_at = :now WHERE phone_key = :key RETURNING id, data_key_id")
_INSERT_CONTACT = text("""
    INSERT INTO contacts (phone_key, phone, opted_out, channel, data_key_id, created_at, last_inbound_at)
    VALUES (:key, :phone, false, :channel, :data_key, :now, :now)
    ON CONFLICT (phone_key) DO UPDATE SET last_inbound_at = excluded.last_inbound_at
    RETURNING id, data_key_id""").bindparams(bindparam("phone", type_=Contact.phone.type))
_MESSAGE_VALUES = """(contact_id, direction, provider_sid, kind, body, payload, media_types, sender, status,
                      created_at, updated_at)
    VALUES (:contact_id, 'in', :sid, :kind, :body, :payload, :media_types, 'person', 'received', :now, :now)
    ON CONFLICT (provider_sid) DO NOTHING
    RETURNING id"""
_MESSAGE_TYPES = (bindparam("body", type_=Message.body.type), bindparam("media_types", type_=Message.media_types.type))
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
    values = {"now": utcnow(), "sid": received.sid, "kind": received.kind, "payload": received.payload,
              "media_types": list(received.media_types) or None}
    postgresql = runtime.db.dialect.name == "postgresql"
    with runtime.db.connect() as connection:
        if is_forgotten(connection, received.sid):
            return None
        key, *previous = lookup_keys(received.phone)
        if previous:
            _adopt(connection, key, previous)
        if postgresql:
            connection.commit()
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        found = connection.execute(_TOUCH, {"key": key, "now": values["now"]}).one_or_none()
        if found is None:
            data_key = data_keys().create()[0]
            found = connection.execute(_INSERT_CONTACT, {
                "key": key, "phone": seal(received.phone, data_key), "now": values["now"], "channel": received.channel,
                "data_key": data_key}).one()
        contact_id, data_key = found
        if data_key is None:  # a contact from before data keys per person
            data_key = contact_key(connection, contact_id)
        values |= {"contact_id": contact_id, "body": seal(received.body, data_key) if received.body else None}
        if postgresql:
            message_id, released = connection.execute(_INSERT_MESSAGE_AND_RELEASE, values).one()
        else:
            message_id = connection.execute(_INSERT_MESSAGE, values).scalar()
            released = release_held(connection, contact_id) if message_id is not None else 0
            connection.commit()
        if released:
            runtime.tasks.deliver.send(contact_id)
        if message_id is not None:
            return Stored(message_id, contact_id, new=True, waiting=True)
        known = connection.execute(select(Message.id, Message.contact_id, Message.processed_at)
                                   .where(Message.provider_sid == received.sid)).one()
        return Stored(known.id, known.contact_id, new=False, waiting=known.processed_at is None)
