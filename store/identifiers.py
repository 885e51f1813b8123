"""Finding a person by any of their identifiers, and linking identifiers to one person.

WhatsApp names a person by their phone number or, when they use a username and hide their
number, by a business-scoped user ID (BSUID). Either is stored as a keyed hash (to find the
person) and encrypted (to send to them), in `contact_identifiers`; nothing else holds them.

During a key rotation a person may still be stored under an old key's hash. `identify`
first moves such a row to the current hash (`_adopt`), so the person is found instead of
becoming a second contact; outside a rotation that statement is skipped.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, exists, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from store.models import BSUID, PHONE, Contact, ContactIdentifier
from store.personal import data_keys, lookup_keys, seal
from store.sealing import contact_key

log = logging.getLogger(__name__)
KINDS = (PHONE, BSUID)


@dataclass(frozen=True)
class Identity:
    """An identifier as it arrived: `kind` is phone (E.164) or bsuid."""

    kind: str
    value: str


def _insert(connection, table):
    return (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)(table)


def find_contact_id(connection, value: str) -> int | None:
    """The contact one of whose identifiers is `value` (under the current or a previous key)."""
    table = ContactIdentifier.__table__
    return connection.execute(select(table.c.contact_id).where(table.c.key.in_(lookup_keys(value)))
                              .limit(1)).scalar()


def identify(connection, identities: list[Identity], now: datetime, *, channel: str = "whatsapp") -> int:
    """The contact these identifiers name, made on first contact; the first one is the one the
    person wrote from. Identifiers that arrive together belong to one person: any not yet known
    are linked to that contact. Safe when two requests for a new person race."""
    table = ContactIdentifier.__table__
    keys = {}
    for identity in identities:
        current, *previous = lookup_keys(identity.value)
        _adopt(connection, current, previous)
        keys[identity] = current
    owners = dict(connection.execute(select(table.c.key, table.c.contact_id)
                                     .where(table.c.key.in_(list(keys.values())))).all())
    sender = identities[0]
    contact_id = owners.get(keys[sender]) or next((owners[k] for k in keys.values() if k in owners), None)
    if contact_id is None:
        contact_id = _new_contact(connection, sender, keys[sender], now, channel)
        owners[keys[sender]] = contact_id
    for identity, key in keys.items():
        owner = owners.get(key)
        if owner is None:
            connection.execute(_insert(connection, table).values(
                contact_id=contact_id, kind=identity.kind, key=key,
                value=seal(identity.value, contact_key(connection, contact_id)), created_at=now)
                .on_conflict_do_nothing(index_elements=["key"]))
            log.info("contact %s: a %s identifier linked", contact_id, identity.kind)
        elif owner != contact_id:
            log.warning("one message names contacts %s and %s: staff can merge them (flask contacts merge)",
                        contact_id, owner)
    return contact_id


# When the person last wrote is kept to the minute: a message within a minute of the one before
# leaves the rows as they are. People write in bursts, and at a campaign peak rewriting two rows per
# message was a third of the database's work on the webhook. The 24-hour window then closes at
# most a minute early, never late. An identifier is still marked whenever another of the person's
# was written from later: replies go to the one they last wrote from.
WROTE_PRECISION = timedelta(minutes=1)
CONTACT_STALE = "(last_inbound_at IS NULL OR last_inbound_at <= {since})"
IDENTIFIER_STALE = """(last_inbound_at IS NULL OR last_inbound_at <= {since}
    OR EXISTS (SELECT 1 FROM contact_identifiers AS other
               WHERE other.contact_id = contact_identifiers.contact_id AND other.key <> contact_identifiers.key
                 AND other.last_inbound_at >= contact_identifiers.last_inbound_at))"""

_IDENTIFIER_WROTE = f"""UPDATE contact_identifiers SET last_inbound_at = :now
    WHERE key = :key AND {IDENTIFIER_STALE.format(since=':since')}"""
_CONTACT_WROTE = f"""UPDATE contacts SET last_inbound_at = :now
    WHERE id = :contact_id AND {CONTACT_STALE.format(since=':since')}"""
_MOMENTS = (bindparam("now", type_=Contact.last_inbound_at.type),
            bindparam("since", type_=Contact.last_inbound_at.type))
# PostgreSQL: both rows in one statement, one commit on the webhook's autocommit connection;
# SQLite has no UPDATE inside WITH, so there it is the two statements.
_WROTE = text(f"WITH identifier AS ({_IDENTIFIER_WROTE}) {_CONTACT_WROTE}").bindparams(*_MOMENTS)
_WROTE_EACH = (text(_IDENTIFIER_WROTE).bindparams(*_MOMENTS), text(_CONTACT_WROTE).bindparams(*_MOMENTS))


def wrote(connection, contact_id: int, sender: Identity, now: datetime) -> None:
    """The person wrote from `sender` at `now`: replies go there, and their 24-hour window is open.
    Callers run it last in their transaction: it locks the contact's row, which the worker
    answering the person's previous message may also be writing."""
    values = {"now": now, "since": now - WROTE_PRECISION, "key": lookup_keys(sender.value)[0], "contact_id": contact_id}
    for statement in (_WROTE,) if connection.dialect.name == "postgresql" else _WROTE_EACH:
        connection.execute(statement, values)


def _new_contact(connection, sender: Identity, key: str, now: datetime, channel: str) -> int:
    """A contact with its first identifier. If a concurrent request made this person first, the
    identifier's unique key says so: our contact row is dropped and theirs is used."""
    contacts, table = Contact.__table__, ContactIdentifier.__table__
    data_key = data_keys().take()
    contact_id = connection.execute(insert(contacts).values(opted_out=False, channel=channel, created_at=now,
                                                            data_key_id=data_key)
                                    .returning(contacts.c.id)).scalar_one()
    made = connection.execute(_insert(connection, table).values(
        contact_id=contact_id, kind=sender.kind, key=key, value=seal(sender.value, data_key), created_at=now)
        .on_conflict_do_nothing(index_elements=["key"]).returning(table.c.id)).scalar()
    if made is not None:
        return contact_id
    connection.execute(delete(contacts).where(contacts.c.id == contact_id))
    return connection.execute(select(table.c.contact_id).where(table.c.key == key)).scalar_one()


def _adopt(connection, key: str, previous: list[str]) -> None:
    """Move an identifier stored under a previous key's hash to the current one, unless one
    already has the current hash. Only runs while a rotation is under way."""
    if not previous:
        return
    table = ContactIdentifier.__table__
    current = table.alias("current_key")
    connection.execute(update(table).where(table.c.key.in_(previous), ~exists().where(current.c.key == key))
                       .values(key=key))
