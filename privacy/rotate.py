"""Key rotation and the move to data keys per person, while the service keeps running.

Personal values are encrypted under each person's data key (store/data_keys.py), and only
the data keys are encrypted (wrapped) under the master key. Rotating DDA_ENCRYPTION_KEY is
therefore a pass over the small keyring, not over every value: the operator sets
DDA_ENCRYPTION_KEY to the new key and DDA_PREVIOUS_ENCRYPTION_KEYS to the old one(s) on every
process, restarts them, and runs `flask privacy rotate-key`, which re-wraps every data key and
recomputes the phone lookup hashes. Meanwhile every process unwraps with either key.

The same pass moves a database written before data keys per person: a value still under the
master-derived key (or in plain text, from before encryption at rest) is re-encrypted under
its person's data key, made for them if they have none, and each lookup hash is recomputed
with the keyring's lookup secret. That is the data migration that goes
with Alembic revision 0012; it is safe to repeat, and a value already under a data key is
never touched again.

It works in short batches, one transaction each, so it never holds locks for long. Each
value is written back only if it is still what was read (a conditional UPDATE): a change the
service made in between is already under the person's key and is left alone. Identifiers
(phone numbers, WhatsApp user IDs) go first, because their lookup hash is what finds a person;
store/identifiers.py adopts a person's old hash on their next message anyway, so nobody
becomes a stranger in between.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Column, Table, Text, exists, func, select, type_coerce, update

from store.models import Base, Contact
from store.personal import data_keys, decrypt, encrypt, expect_old_lookup_hashes, is_personal, keyring, lookup_key
from store.sealing import contact_key, owner_expression, personal_columns

BATCH = 500
# The table whose rows are found by a keyed hash of their encrypted value: (hash, value) columns.
LOOKUP_TABLE, LOOKUP_HASH, LOOKUP_VALUE = "contact_identifiers", "key", "value"


@dataclass
class Rotation:
    keys_rewrapped: int = 0  # data keys wrapped again under the current master key
    keys_current: int = 0    # were already
    values: int = 0          # moved from the master-derived key (or plain text) to their person's data key
    unchanged: int = 0       # were already under their person's data key
    phone_keys: int = 0      # lookup hashes of identifiers (numbers, WhatsApp user IDs) recomputed
    duplicates: int = 0      # contacts whose new hash another contact (made during the rotation) has
    skipped: int = 0         # changed by the service while we worked (already under the person's key)


def personal_tables(metadata=Base.metadata) -> list[tuple[Table, list[Column]]]:
    """Every table with PersonalText columns, found from the models, so a table added later
    is rotated without anyone remembering to list it here."""
    found = []
    for table in metadata.sorted_tables:
        columns = personal_columns(table)
        if columns:
            if len(table.primary_key.columns) != 1:
                raise ValueError(f"{table.name}: key rotation needs a single-column primary key")
            found.append((table, columns))
    # contacts first: their lookup hash is what finds a person
    return sorted(found, key=lambda pair: pair[0].name != LOOKUP_TABLE)


def _model(table: Table):
    return next(mapper.class_ for mapper in Base.registry.mappers if mapper.local_table is table)


def rows_to_visit(engine) -> int:
    with engine.connect() as connection:
        rows = sum(connection.scalar(select(func.count()).select_from(table)) for table, _ in personal_tables())
    return rows + data_keys().count()


def rotate(engine, batch_size: int = BATCH, progress: Callable[[int], None] = lambda rows: None) -> Rotation:
    result = Rotation()
    result.keys_rewrapped, result.keys_current = data_keys().rewrap(batch_size, progress)
    for table, columns in personal_tables():
        _rotate_table(engine, table, columns, batch_size, progress, result)
    with engine.connect() as connection:
        expect_old_lookup_hashes(bool(connection.scalar(select(exists().where(Contact.data_key_id.is_(None))))))
    return result


def _rotate_table(engine, table: Table, columns: list[Column], batch_size: int, progress, result: Rotation) -> None:
    key_column = next(iter(table.primary_key.columns))
    # type_coerce to plain Text: read and compare the stored tokens, not the decrypted texts.
    raw = {column.name: type_coerce(column, Text()) for column in columns}
    rekey = table.name == LOOKUP_TABLE and LOOKUP_VALUE in raw
    lookup = table.c[LOOKUP_HASH] if rekey else None
    owner = owner_expression(_model(table)).label("owner")
    wanted = [key_column, owner, *(raw[name].label(name) for name in raw)] + ([lookup.label("lookup")] if rekey else [])
    secret = keyring().current
    last = None
    while True:
        query = select(*wanted).order_by(key_column).limit(batch_size)
        if last is not None:
            query = query.where(key_column > last)
        with engine.begin() as connection:
            rows = connection.execute(query).all()
            if not rows:
                return
            last = rows[-1][0]
            for row in rows:
                values, condition = {}, [key_column == row[0]]
                for name in raw:
                    stored = getattr(row, name)
                    if stored is None:
                        continue
                    if is_personal(stored):
                        result.unchanged += 1
                        continue
                    if row.owner is None:
                        continue
                    values[name] = type_coerce(encrypt(decrypt(stored), contact_key(connection, row.owner)), Text())
                    condition.append(raw[name] == stored)
                if rekey and getattr(row, LOOKUP_VALUE) is not None:
                    phone = decrypt(getattr(row, LOOKUP_VALUE))
                    new_key = phone and lookup_key(secret, phone)
                    if new_key and new_key != row.lookup:
                        taken = connection.scalar(select(key_column).where(lookup == new_key,
                                                                           key_column != row[0]))
                        if taken is None:
                            values[LOOKUP_HASH] = new_key
                        else:
                            result.duplicates += 1
                if not values:
                    continue
                changed = connection.execute(update(table).where(*condition).values(**values)).rowcount
                if changed:
                    result.values += sum(1 for name in values if name != LOOKUP_HASH)
                    result.phone_keys += LOOKUP_HASH in values
                else:
                    result.skipped += 1
        progress(len(rows))
