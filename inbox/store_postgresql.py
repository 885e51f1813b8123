"""Storing an inbound message on PostgreSQL in one statement: the webhook's path at a campaign peak.

What a peak costs is round trips, commits and the Python around each statement. So a message
from one identifier, outside a key rotation, is stored by a single statement on an autocommit
connection, which is a single commit:

- someone known: the message, the release of replies held for their window, and the open window
  (`_KNOWN`; to the minute, see store/identifiers.py `WROTE_PRECISION`);
- someone new: the contact, their identifier and the message, under a data key made ahead
  (store/data_keys.py `take`) (`_NEW`).

Whose an identifier is, is remembered in the process (`_owners`, by keyed hash, never the
number). The statement checks that it still holds (not erased, not merged away, not a MessageSid
of someone erased), so a stale entry costs a lookup and, at worst, the general path
(inbox/receive.py), which also takes everything else: several identifiers to link, a rotation
under way, a contact from before data keys per person.

The statements run on the pooled psycopg connection itself, with personal values encrypted here:
SQLAlchemy's execution machinery cost more than the statement's own work on this path. psycopg
prepares them after a few uses on each connection.

Concurrent statements may lock a held reply and the contact's row in either order; the rare
deadlock this can give falls back to the general path too.
"""
from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.types.json import Json
from sqlalchemy.engine import Engine

from channels.twilio_payload import Received
from inbox.stored import Stored
from store.data_keys import UnknownDataKey
from store.db import statements_commit_alone
from store.identifiers import CONTACT_STALE, IDENTIFIER_STALE, WROTE_PRECISION
from store.personal import data_keys, encrypt, lookup_keys


class Slow:
    """The general path (inbox/receive.py) must store this message."""


SLOW = Slow()
_OWNERS_SIZE = 50_000
_owners: dict[str, tuple[int, str]] = {}  # identifier hash -> (contact id, data key id)

_COLUMNS = ("contact_id, direction, provider_sid, kind, body, payload, media_types, sender, status, "
            "created_at, updated_at")
_ROW = "'in', %(sid)s, %(kind)s, %(body)s, %(payload)s, %(media_types)s, 'person', 'received', %(now)s, %(now)s"
_FORGOTTEN = "EXISTS (SELECT 1 FROM forgotten_messages WHERE sid_key = %(sid_key)s)"

_LOOKUP = f"""
    SELECT {_FORGOTTEN}, identifier.contact_id, contact.data_key_id
    FROM (SELECT 1) AS one
    LEFT JOIN contact_identifiers AS identifier ON identifier.key = %(key)s
    LEFT JOIN contacts AS contact ON contact.id = identifier.contact_id"""

_OWNER = f"""
    SELECT contact.id FROM contact_identifiers AS identifier
    JOIN contacts AS contact ON contact.id = identifier.contact_id
    WHERE identifier.key = %(key)s AND contact.id = %(contact_id)s AND contact.data_key_id = %(data_key)s
      AND NOT {_FORGOTTEN}"""

_KNOWN = f"""
    WITH owner AS ({_OWNER}),
    message AS (
        INSERT INTO messages ({_COLUMNS}) SELECT id, {_ROW} FROM owner
        ON CONFLICT (provider_sid) DO NOTHING RETURNING id),
    released AS (
        UPDATE outbox SET state = 'pending'
        WHERE state = 'held' AND EXISTS (SELECT 1 FROM message)
          AND message_id IN (SELECT id FROM messages WHERE contact_id = %(contact_id)s)
        RETURNING outbox.id),
    identifier AS (
        UPDATE contact_identifiers SET last_inbound_at = %(now)s
        WHERE key = %(key)s AND EXISTS (SELECT 1 FROM message) AND {IDENTIFIER_STALE.format(since="%(since)s")}),
    contact AS (
        UPDATE contacts SET last_inbound_at = %(now)s
        WHERE id = %(contact_id)s AND EXISTS (SELECT 1 FROM message) AND {CONTACT_STALE.format(since="%(since)s")})
    SELECT (SELECT id FROM message), (SELECT count(*) FROM released) WHERE EXISTS (SELECT 1 FROM message)"""

# A known contact whose message was not inserted: a duplicate if the contact is still theirs.
_STILL_OWNED = f"SELECT EXISTS ({_OWNER})"

_NEW = f"""
    WITH contact AS (
        INSERT INTO contacts (opted_out, channel, last_inbound_at, created_at, data_key_id)
        VALUES (false, %(channel)s, %(now)s, %(now)s, %(data_key)s) RETURNING id),
    identifier AS (
        INSERT INTO contact_identifiers (contact_id, kind, key, value, last_inbound_at, created_at)
        SELECT id, %(identity_kind)s, %(key)s, %(identity)s, %(now)s, %(now)s FROM contact
        ON CONFLICT (key) DO NOTHING RETURNING contact_id),
    message AS (
        INSERT INTO messages ({_COLUMNS}) SELECT contact_id, {_ROW} FROM identifier
        ON CONFLICT (provider_sid) DO NOTHING RETURNING id)
    SELECT (SELECT id FROM contact), (SELECT contact_id FROM identifier), (SELECT id FROM message)"""

_DROP_CONTACT = "DELETE FROM contacts WHERE id = %(contact_id)s"
_EARLIER = "SELECT id, contact_id, processed_at FROM messages WHERE provider_sid = %(sid)s"


def in_one_statement(engine: Engine, received: Received, now: datetime) -> Stored | None | Slow:
    """The message stored (None: a replay of someone erased, dropped), or SLOW."""
    if received.linked:
        return SLOW
    keys, sid_keys = lookup_keys(received.sender.value), lookup_keys(received.sid)
    if len(keys) > 1 or len(sid_keys) > 1:  # a key rotation is under way
        return SLOW
    values = {"key": keys[0], "sid_key": sid_keys[0], "now": now, "since": now - WROTE_PRECISION, "sid": received.sid,
              "kind": received.kind,
              "media_types": Json(list(received.media_types)) if received.media_types else None}
    owner = _owners.get(keys[0])
    if owner is not None and not _opens(owner[1]):  # the person was erased, or the keyring emptied
        _owners.pop(keys[0], None)
        owner = None
    with statements_commit_alone(engine) as connection:
        assert isinstance(connection, psycopg.Connection)
        if owner is None:
            forgotten, contact_id, data_key = connection.execute(_LOOKUP, values).fetchone()  # type: ignore[misc]
            if forgotten:
                return None
            if contact_id is None:
                return _new(connection, received, values)
            if data_key is None:  # a contact from before data keys per person
                return SLOW
            owner = (contact_id, data_key)
        return _known(connection, received, values, owner)


def _opens(data_key: str) -> bool:
    try:
        return data_keys().fernet(data_key) is not None
    except UnknownDataKey:
        return False


def _sealed(received: Received, data_key: str) -> dict:
    return {"body": encrypt(received.body, data_key) if received.body else None,
            "payload": encrypt(received.payload, data_key) if received.payload else None}


def _known(connection: psycopg.Connection, received: Received, values: dict, owner: tuple[int, str]) -> Stored | Slow:
    contact_id, data_key = owner
    values |= {"contact_id": contact_id, "data_key": data_key, **_sealed(received, data_key)}
    try:
        row = connection.execute(_KNOWN, values).fetchone()
    except psycopg.errors.DeadlockDetected:  # with the worker answering this person: see above
        _owners.pop(values["key"], None)
        return SLOW
    if row is not None:
        _remember(values["key"], owner)
        return Stored(row[0], contact_id, new=True, waiting=True, released=row[1])
    if connection.execute(_STILL_OWNED, values).fetchone()[0]:  # type: ignore[index]
        return _earlier(connection, received.sid)
    _owners.pop(values["key"], None)
    return SLOW


def _new(connection: psycopg.Connection, received: Received, values: dict) -> Stored | Slow:
    data_key = data_keys().take()
    values |= {"data_key": data_key, "channel": received.channel, "identity_kind": received.sender.kind,
               "identity": encrypt(received.sender.value, data_key), **_sealed(received, data_key)}
    contact_id, owner, message_id = connection.execute(_NEW, values).fetchone()  # type: ignore[misc]
    if owner is None:  # a concurrent request made this person first: theirs is the contact
        connection.execute(_DROP_CONTACT, {"contact_id": contact_id})
        return SLOW
    _remember(values["key"], (contact_id, data_key))
    if message_id is None:
        return _earlier(connection, received.sid)
    return Stored(message_id, contact_id, new=True, waiting=True)


def _earlier(connection: psycopg.Connection, sid: str) -> Stored:
    message_id, contact_id, processed_at = connection.execute(_EARLIER, {"sid": sid}).fetchone()  # type: ignore[misc]
    return Stored(message_id, contact_id, new=False, waiting=processed_at is None)


def _remember(key: str, owner: tuple[int, str]) -> None:
    if len(_owners) >= _OWNERS_SIZE:
        _owners.clear()
    _owners[key] = owner
