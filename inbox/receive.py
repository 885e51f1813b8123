"""Storing an inbound message, once, on the request path. Processing happens elsewhere.

This is the webhook's hot path, so it is two Core statements in one transaction: upsert the
contact (by the keyed hash of the number) and insert the message unless its MessageSid is
already known. The unique MessageSid makes a retried or concurrent delivery a no-op.
"""
from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from channels.twilio_payload import Received
from store.models import Contact, Message, utcnow
from store.personal import lookup_key


def _insert(session, table):
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def contact_for(session, secret: str, phone: str) -> Contact:
    """The contact with this number, made on first contact; safe when two requests race."""
    key = lookup_key(secret, phone)
    statement = _insert(session, Contact).values(phone_key=key, phone=phone, opted_out=False, created_at=utcnow())
    session.execute(statement.on_conflict_do_nothing(index_elements=["phone_key"]))
    return session.scalar(select(Contact).where(Contact.phone_key == key))


_STATEMENTS: dict[str, tuple] = {}


def _statements(dialect: str) -> tuple:
    """Built once per dialect with bound parameters, so SQLAlchemy compiles them once."""
    if dialect not in _STATEMENTS:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        contact = insert(Contact).values(
            phone_key=bindparam("key"), phone=bindparam("phone", type_=Contact.phone.type), opted_out=False,
            created_at=bindparam("now"), last_inbound_at=bindparam("now"))
        contact = contact.on_conflict_do_update(index_elements=["phone_key"],
                                                set_={"last_inbound_at": contact.excluded.last_inbound_at})
        message = insert(Message).values(
            contact_id=bindparam("contact_id"), direction="in", provider_sid=bindparam("sid"),
            kind=bindparam("kind"), body=bindparam("body", type_=Message.body.type), payload=bindparam("payload"),
            media_types=bindparam("media_types", type_=Message.media_types.type), sender="person",
            status="received", created_at=bindparam("now"), updated_at=bindparam("now"))
        message = message.on_conflict_do_nothing(index_elements=["provider_sid"])
        _STATEMENTS[dialect] = (contact.returning(Contact.id), message.returning(Message.id))
    return _STATEMENTS[dialect]


def receive(runtime, received: Received) -> tuple[int, int, bool]:
    """Store the message unless its MessageSid is known: (message id, contact id, newly stored)."""
    now = utcnow()
    with runtime.db.connect() as connection:
        upsert_contact, insert_message = _statements(connection.dialect.name)
        key = lookup_key(runtime.settings.secrets.encryption_key, received.phone)
        contact_id = connection.execute(upsert_contact, {"key": key, "phone": received.phone, "now": now}).scalar_one()
        message_id = connection.execute(insert_message, {
            "contact_id": contact_id, "sid": received.sid, "kind": received.kind, "body": received.body or None,
            "payload": received.payload, "media_types": list(received.media_types) or None, "now": now}).scalar()
        connection.commit()
        if message_id is not None:
            return message_id, contact_id, True
        known = connection.execute(select(Message.id, Message.contact_id)
                                   .where(Message.provider_sid == received.sid)).one()
        return known.id, known.contact_id, False
