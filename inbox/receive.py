"""Storing an inbound message, once, on the request path. Processing happens elsewhere.

This is the webhook's hot path, so it is two Core statements in one transaction: touch the
contact (found by the keyed hash of the number; it returns the id of the person's data key) and
insert the message, sealed with that key, unless its MessageSid is already known. The unique
MessageSid makes a retried or concurrent delivery a no-op. Only someone new costs more: a data
key is made in the keyring first, then the contact is inserted (a concurrent first message
wins the insert, and the key made for the loser stays unused).

During a key rotation (DDA_PREVIOUS_ENCRYPTION_KEYS set) a known person may still be stored
under an old key's hash. One keyed UPDATE first moves their row to the current hash (`_adopt`),
so the upsert finds them instead of making a second contact; outside a rotation that
statement is skipped and receiving stays the single upsert.
"""
from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite

from channels.twilio_payload import Received
from delivery.window import release_held
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


_STATEMENTS: dict[str, tuple] = {}


def _statements(dialect: str) -> tuple:
    """Built once per dialect with bound parameters, so SQLAlchemy compiles them once."""
    if dialect not in _STATEMENTS:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = table_of(Contact)
        touch = update(table).where(table.c.phone_key == bindparam("key")).values(
            last_inbound_at=bindparam("now")).returning(table.c.id, table.c.data_key_id)
        contact = insert(Contact).values(
            phone_key=bindparam("key"), phone=bindparam("phone", type_=Contact.phone.type), opted_out=False,
            channel=bindparam("channel"), data_key_id=bindparam("data_key"),
            created_at=bindparam("now"), last_inbound_at=bindparam("now"))
        contact = contact.on_conflict_do_update(index_elements=["phone_key"],
                                                set_={"last_inbound_at": contact.excluded.last_inbound_at})
        message = insert(Message).values(
            contact_id=bindparam("contact_id"), direction="in", provider_sid=bindparam("sid"),
            kind=bindparam("kind"), body=bindparam("body", type_=Message.body.type),
            payload=bindparam("payload", type_=Message.payload.type),
            media_types=bindparam("media_types", type_=Message.media_types.type), sender="person",
            status="received", created_at=bindparam("now"), updated_at=bindparam("now"))
        message = message.on_conflict_do_nothing(index_elements=["provider_sid"])
        _STATEMENTS[dialect] = (touch, contact.returning(Contact.id, Contact.data_key_id),
                                message.returning(Message.id))
    return _STATEMENTS[dialect]


class Stored(NamedTuple):
    message_id: int
    contact_id: int
    new: bool  # False: Twilio sent this MessageSid before
    waiting: bool  # not processed yet (new, or a retry of one whose job was lost): queue it


def receive(runtime, received: Received) -> Stored:
    """Store the message unless its MessageSid is known."""
    now = utcnow()
    with runtime.db.connect() as connection:
        touch_contact, insert_contact, insert_message = _statements(connection.dialect.name)
        key, *previous = lookup_keys(received.phone)
        _adopt(connection, key, previous)
        found = connection.execute(touch_contact, {"key": key, "now": now}).one_or_none()
        if found is None:
            data_key = data_keys().create()[0]
            found = connection.execute(insert_contact, {
                "key": key, "phone": seal(received.phone, data_key), "now": now, "channel": received.channel,
                "data_key": data_key}).one()
        contact_id, data_key = found
        if data_key is None:  # a contact from before data keys per person
            data_key = contact_key(connection, contact_id)
        body = seal(received.body, data_key) if received.body else None
        message_id = connection.execute(insert_message, {
            "contact_id": contact_id, "sid": received.sid, "kind": received.kind, "body": body,
            "payload": seal(received.payload, data_key) if received.payload else None,
            "media_types": list(received.media_types) or None, "now": now}).scalar()
        # The person wrote, so the 24-hour window is open: what was held for them goes now.
        released = release_held(connection, contact_id) if message_id is not None else 0
        connection.commit()
        if released:
            runtime.tasks.deliver.send(contact_id)
        if message_id is not None:
            return Stored(message_id, contact_id, new=True, waiting=True)
        known = connection.execute(select(Message.id, Message.contact_id, Message.processed_at)
                                   .where(Message.provider_sid == received.sid)).one()
        return Stored(known.id, known.contact_id, new=False, waiting=known.processed_at is None)
