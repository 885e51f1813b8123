"""Whose data key encrypts a row: the models name the owner, these events seal the values.

Every model with PersonalText columns names, in `__personal_owner__`, the person its rows are
about: `"id"` for the contact itself (its `data_key_id`), the name of a column holding the
contact's id, or `(column, Model.contact_id)` when the contact is one table further (a ticket
note belongs to its ticket's person). Before the ORM writes a row, `_seal_row` wraps each
changed personal value with that person's key id, and `PersonalText` encrypts under it. Core
statements (the webhook's hot path, bulk imports) call `contact_key` and `seal` themselves.

Deleting a contact through the ORM destroys their data key in the keyring at once, inside the
flush and before the main transaction commits: if that commit then failed, what is left is
unreadable, which is what the person asked for; the other order could leave rows gone and the
key alive, and every backup readable.

`contact_key` remembers a contact's key id for the rest of the transaction only (a bulk send
writes many rows for few people in one flush); across transactions it asks again, because a
row id can come back after a delete or a test's TRUNCATE, and a wrong key would outlive the
person's erasure. The keys themselves are cached in store/data_keys.py.
"""
from __future__ import annotations

from sqlalchemy import Column, Table, event, inspect, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import object_session
from sqlalchemy.pool import Pool
from sqlalchemy.sql.elements import ColumnElement

from store.personal import KeyringError, PersonalJSON, PersonalText, data_keys, seal, seal_json

_REMEMBERED = "dda_contact_keys"  # in Connection.info, for one transaction
_contacts: list[Table] = []  # the contacts table, given by `install`
_contact_models: list[type] = []  # and its model


def personal_columns(table: Table) -> list[Column]:
    return [column for column in table.columns if isinstance(column.type, PersonalText)]


def contact_key(connection, contact_id: int) -> str:
    """The id of the contact's data key; a contact from before data keys per person gets one."""
    remembered = connection.info.setdefault(_REMEMBERED, {})
    if contact_id in remembered:
        return remembered[contact_id]
    contacts = _contacts[0]
    found = connection.execute(select(contacts.c.data_key_id).where(contacts.c.id == contact_id)).one_or_none()
    if found is None:
        raise KeyringError(f"no contact #{contact_id} to own a personal value")
    key_id = found.data_key_id
    if key_id is None:
        connection.execute(update(contacts).where(contacts.c.id == contact_id, contacts.c.data_key_id.is_(None))
                           .values(data_key_id=data_keys().create()[0]))
        key_id = connection.scalar(select(contacts.c.data_key_id).where(contacts.c.id == contact_id))
    remembered[contact_id] = key_id
    return key_id


def _forget(connection) -> None:
    """At the end of a transaction. A connection the database cut (a restart) has nothing to
    forget: the pool clears its info on reconnecting, and reading it here would raise instead of
    letting the rollback finish."""
    if not connection.invalidated:
        connection.info.pop(_REMEMBERED, None)


def owner_expression(model) -> ColumnElement:
    """The contact id each row of `model` belongs to, as a column expression (for Core reads
    such as the key rotation)."""
    owner = model.__personal_owner__
    table = model.__table__
    if isinstance(owner, str):
        return table.c[owner]
    local, remote = owner
    return select(remote).where(remote.table.c.id == table.c[local]).scalar_subquery()


def seal_rows(connection, model, rows: list[dict]) -> list[dict]:
    """Rows for a Core INSERT of `model` (bulk imports, benches, tests), each personal value
    sealed with its person's key; new contacts get a data key each, made in one round trip."""
    wrap = {column.key: seal_json if isinstance(column.type, PersonalJSON) else seal
            for column in personal_columns(model.__table__)}
    owner = model.__personal_owner__
    if owner == "id":
        keys = data_keys().create(len(rows))
        return [{**row, "data_key_id": key, **{name: wrap[name](row[name], key) for name in wrap if row.get(name)}}
                for row, key in zip(rows, keys, strict=True)]
    sealed = []
    for row in rows:
        if isinstance(owner, str):
            contact_id = row[owner]
        else:
            local, remote = owner
            contact_id = connection.scalar(select(remote).where(remote.table.c.id == row[local]))
        key = contact_key(connection, contact_id)
        sealed.append({**row, **{name: wrap[name](row[name], key) for name in wrap if row.get(name)}})
    return sealed


def _owner_key(connection, mapper, target) -> str:
    owner = mapper.class_.__personal_owner__
    if owner == "id":  # the contact row itself
        if target.data_key_id is None:
            target.data_key_id = data_keys().create()[0]
        return target.data_key_id
    if isinstance(owner, str):
        contact_id = getattr(target, owner)
    else:
        local, remote = owner
        contact_id = connection.scalar(select(remote).where(remote.table.c.id == getattr(target, local)))
    if contact_id is None:
        raise KeyringError(f"a {mapper.class_.__name__} with personal values belongs to no contact")
    return _loaded_key(target, contact_id) or contact_key(connection, contact_id)


def _loaded_key(target, contact_id: int) -> str | None:
    """The key id of the contact as this transaction loaded it (a turn loads the person before it
    writes their replies), which saves asking the database again; None if it is not loaded."""
    session = object_session(target)
    if session is None:
        return None
    contact = session.identity_map.get(session.identity_key(_contact_models[0], contact_id))
    return None if contact is None else inspect(contact).dict.get("data_key_id")


def _seal_row(mapper, connection, target, inserting: bool) -> None:
    names = [mapper.get_property_by_column(column).key for column in personal_columns(mapper.local_table)]
    if not names:
        return
    state = inspect(target)
    json_names = {mapper.get_property_by_column(column).key for column in personal_columns(mapper.local_table)
                  if isinstance(column.type, PersonalJSON)}
    to_seal = [name for name in names if isinstance(state.dict.get(name), list | dict if name in json_names else str)
               and (inserting or state.attrs[name].history.has_changes())]
    if not to_seal:
        return
    key_id = _owner_key(connection, mapper, target)
    for name in to_seal:
        value = state.dict[name]
        state.dict[name] = seal_json(value, key_id) if name in json_names else seal(value, key_id)


def _before_insert(mapper, connection, target) -> None:
    _seal_row(mapper, connection, target, inserting=True)


def _before_update(mapper, connection, target) -> None:
    _seal_row(mapper, connection, target, inserting=False)


def _contact_deleted(_mapper, connection, target) -> None:
    connection.info.get(_REMEMBERED, {}).pop(target.id, None)
    if target.data_key_id is not None:
        data_keys().shred([target.data_key_id])


def install(base, contact_model) -> None:
    """Listen on every model (once per process)."""
    if event.contains(base, "before_insert", _before_insert):
        return
    _contacts.append(contact_model.__table__)
    _contact_models.append(contact_model)
    event.listen(base, "before_insert", _before_insert, propagate=True)
    event.listen(base, "before_update", _before_update, propagate=True)
    event.listen(contact_model, "after_delete", _contact_deleted)
    event.listen(Engine, "commit", _forget)
    event.listen(Engine, "rollback", _forget)
    event.listen(Pool, "checkin", lambda _dbapi, record: record.info.pop(_REMEMBERED, None))
