"""Storing an inbound message, once, on the request path. Processing happens elsewhere."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from channels.twilio_payload import Received
from store.models import Contact, Message, utcnow
from store.personal import lookup_key


def contact_for(session, secret: str, phone: str) -> Contact:
    """The contact with this number, made on first contact; safe when two requests race."""
    key = lookup_key(secret, phone)
    contact = session.scalar(select(Contact).where(Contact.phone_key == key))
    if contact is not None:
        return contact
    try:
        with session.begin_nested():
            contact = Contact(phone_key=key, phone=phone)
            session.add(contact)
    except IntegrityError:
        contact = session.scalar(select(Contact).where(Contact.phone_key == key))
    return contact


def receive(runtime, received: Received) -> tuple[int, int, bool]:
    """Store the message unless its MessageSid is known: (message id, contact id, newly stored)."""
    with runtime.session() as session:
        known = session.execute(select(Message.id, Message.contact_id)
                                .where(Message.provider_sid == received.sid)).first()
        if known is not None:
            return known.id, known.contact_id, False
        contact = contact_for(session, runtime.settings.secrets.encryption_key, received.phone)
        message = Message(contact_id=contact.id, direction="in", provider_sid=received.sid, kind=received.kind,
                          body=received.body or None, payload=received.payload,
                          media_types=list(received.media_types) or None, sender="person", status="received")
        contact.last_inbound_at = utcnow()
        session.add(message)
        try:
            session.commit()
        except IntegrityError:  # the same MessageSid committed by a concurrent retry
            session.rollback()
            known = session.execute(select(Message.id, Message.contact_id)
                                    .where(Message.provider_sid == received.sid)).one()
            return known.id, known.contact_id, False
        return message.id, contact.id, True
