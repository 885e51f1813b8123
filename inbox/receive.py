"""Storing an inbound message, once, on the request path. Processing happens elsewhere.

This is the webhook's hot path: find or make the contact by the keyed hashes of the identifiers
the message carries (its sender, and the phone number or WhatsApp user ID beside it, which are
then linked: store/identifiers.py), then insert the message, sealed with the person's data key,
unless its MessageSid is already known, and release what was held for the person (they wrote,
so WhatsApp's window is open). The unique MessageSid makes a retried or concurrent delivery a
no-op. Only someone new costs more: a data key is made in the keyring first, then the contact.

On PostgreSQL most messages (one identifier, outside a key rotation) are stored by one statement,
one commit (inbox/store_postgresql.py). The general path below takes the rest and runs
everywhere: one read (was the message an erased person's, whose are these identifiers, which
data key), one write of the message and the release, one of the window; on PostgreSQL each write
commits on its own (autocommit), on SQLite (`make run`, tests) all run in one transaction. The
message is stored before the webhook answers either way.
"""
from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import bindparam, select, text

from channels.twilio_payload import Received
from delivery.window import release_held
from inbox.store_postgresql import SLOW, Slow, in_one_statement
from inbox.stored import Stored
from store.identifiers import Identity, identify, wrote
from store.models import PHONE, Contact, Message, utcnow
from store.personal import lookup_keys, seal
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


# Whether the MessageSid was an erased person's, and the owner and data key of each identifier.
_LOOKUP = text("""
    SELECT EXISTS (SELECT 1 FROM forgotten_messages WHERE sid_key IN :sid_keys) AS forgotten,
           identifier.key, identifier.contact_id, contact.data_key_id
    FROM (SELECT 1) AS one
    LEFT JOIN contact_identifiers AS identifier ON identifier.key IN :keys
    LEFT JOIN contacts AS contact ON contact.id = identifier.contact_id""").bindparams(
    bindparam("sid_keys", expanding=True), bindparam("keys", expanding=True))


class _Known(NamedTuple):
    forgotten: bool
    contact_id: int | None  # None: someone new, identifiers to link, or a rotation under way
    data_key: str | None


def _look_up(connection, received: Received) -> _Known:
    """The common case in one read: every identifier known, all one person's, one hash each."""
    hashes = [lookup_keys(identity.value) for identity in (received.sender, *received.linked)]
    rows = connection.execute(_LOOKUP, {"sid_keys": lookup_keys(received.sid),
                                        "keys": [key for keys in hashes for key in keys]}).all()
    owners: dict[str, tuple[int, str | None]] = {row.key: (row.contact_id, row.data_key_id)
                                                  for row in rows if row.key is not None}
    found = {owners.get(keys[0]) for keys in hashes}
    owner = found.pop() if len(found) == 1 else None
    if owner is None or any(len(keys) > 1 for keys in hashes):
        return _Known(rows[0].forgotten, None, None)
    return _Known(rows[0].forgotten, *owner)


def receive(runtime, received: Received) -> Stored | None:
    """Store the message unless its MessageSid is known; None for a message of someone erased
    (a replay), which is dropped without bringing the person back."""
    now = utcnow()
    stored = in_one_statement(runtime.db, received, now) if runtime.db.dialect.name == "postgresql" else SLOW
    if isinstance(stored, Slow):
        stored = _receive(runtime, received, now)
    if stored is not None and stored.released:  # they wrote: what was held for their window goes now
        runtime.tasks.deliver.send(stored.contact_id)
    return stored


def _receive(runtime, received: Received, now) -> Stored | None:
    """Any message: several identifiers to link, a key rotation under way, SQLite."""
    values = {"now": now, "sid": received.sid, "kind": received.kind, "media_types": list(received.media_types) or None}
    postgresql = runtime.db.dialect.name == "postgresql"
    with runtime.db.connect() as connection:
        known = _look_up(connection, received)
        if known.forgotten:
            return None
        if postgresql:
            connection.commit()
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        contact_id, data_key = known.contact_id, known.data_key
        if contact_id is None or data_key is None:
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
        if message_id is not None:
            return Stored(message_id, contact_id, new=True, waiting=True, released=released)
        before = connection.execute(select(Message.id, Message.contact_id, Message.processed_at)
                                    .where(Message.provider_sid == received.sid)).one()
        return Stored(before.id, before.contact_id, new=False, waiting=before.processed_at is None)
