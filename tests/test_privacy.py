"""Do no harm: personal data encrypted at rest, keys that rotate without downtime, retention
limits, one way to erase a person, "what do you know about me", and logs without personal data.
docs/threat-model.md names these tests as the evidence for each protection."""
import hashlib
import hmac
import logging
import re
import sqlite3
import subprocess
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Text, func, select, type_coerce, update
from sqlalchemy.engine import Engine

from jobs.scheduled import purge_once_a_day
from privacy.rotate import personal_tables
from settings import SettingsError
from store import models, personal
from store.data_keys import DataKeys, UnknownDataKey, data_keys
from store.db import make_engine, make_sessionmaker
from store.models import (
    Contact,
    ContactIdentifier,
    ConversationState,
    Message,
    Registration,
    RegistrationEvent,
    Ticket,
    utcnow,
)
from store.sealing import owner_expression
from tests.conftest import ENVIRONMENT, WhatsApp
from tests.test_settings import settings_with

PHONE = "+31612345678"
PHONE_FORMS = ("+31612345678", "31612345678", "0612345678", "612345678")  # 612345678 is in every format
NAME = "Zainab Quetzalcoatl"
PARTNER = "Stichting Wolkenkrabber"
TEXT = "I sleep behind the Kerkstraat church with my two children"
OLD_KEY = ENVIRONMENT["DDA_ENCRYPTION_KEY"]
NEW_KEY = "rotated-encryption-key-9876543210"
TEMPLATE = "HX" + "3" * 32


def register(whatsapp, phone=PHONE, name=NAME, partner=PARTNER):
    """First contact in English, then the registration flow to the end."""
    for answer in ("hello", "2", "register", "1", name, "1", partner, "1"):
        whatsapp.send(answer, phone=phone)


def stored(runtime) -> dict:
    """Every PersonalText value as it is in the database (the tokens, not the texts)."""
    values = {}
    with runtime.db.connect() as connection:
        for table, columns in personal_tables():
            key = next(iter(table.primary_key.columns))
            for column in columns:
                for row_id, value in connection.execute(select(key, type_coerce(column, Text()))):
                    if value is not None:
                        values[table.name, column.name, row_id] = value
    return values


def wrapped_keys(runtime) -> dict[str, str]:
    """The keyring's live data keys as stored: id -> wrapped key."""
    with runtime.data_keys.engine.connect() as connection:
        return dict(connection.execute(select(data_keys.c.id, data_keys.c.wrapped)
                                       .where(data_keys.c.wrapped.is_not(None))).all())


def run(runner, runtime, *args):
    result = runner.invoke(args=list(args))
    runtime.tasks.drain()
    return result


def age(runtime, model, days, **where):
    """Move a row's dates into the past, as if time had passed."""
    columns = {"contacts": ("created_at", "last_inbound_at"), "registrations": ("created_at", "updated_at"),
               "messages": ("created_at",), "registration_events": ("at",)}[model.__tablename__]
    past = utcnow() - timedelta(days=days)
    statement = update(model).values({name: past for name in columns})
    for name, value in where.items():
        statement = statement.where(getattr(model, name) == value)
    with runtime.session() as session:
        session.execute(statement.execution_options(synchronize_session=False))
        session.commit()


# --- encryption at rest -------------------------------------------------------------------

def _database_dump(runtime) -> bytes:
    """What someone who copies the database without the key gets."""
    url = runtime.db.url
    if url.get_backend_name() == "sqlite":
        path = Path(url.database)
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    import psycopg

    parts = []
    with psycopg.connect(runtime.settings.connections.database_url) as connection:
        tables = connection.execute("SELECT table_name, column_name FROM information_schema.columns "
                                    "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position").fetchall()
        for table, column in tables:
            for (value,) in connection.execute(f'SELECT "{column}"::text FROM "{table}"'):
                parts.append(value or "")
    assert parts, "the dump is empty: the test would prove nothing"
    return "\n".join(parts).encode()


def test_a_database_dump_without_the_key_shows_no_number_name_or_message(whatsapp, runtime):
    register(whatsapp)
    whatsapp.send(TEXT)
    with runtime.session() as session:  # the service itself reads them back
        registration = session.scalar(select(Registration))
        assert (registration.name, registration.partner_named, registration.contact.phone) == (NAME, PARTNER, PHONE)
        assert TEXT in session.scalars(select(Message.body)).all()
    dump = _database_dump(runtime)
    for secret in (*PHONE_FORMS, NAME, "Quetzalcoatl", PARTNER, TEXT, "Kerkstraat"):
        assert secret.encode() not in dump, secret
    assert stored(runtime) and all(personal.is_encrypted(value) for value in stored(runtime).values())


def test_each_value_is_a_fresh_authenticated_token_under_the_persons_key(runtime):
    first_key, second_key = runtime.data_keys.create(2)
    first, second = personal.encrypt(NAME, first_key), personal.encrypt(NAME, first_key)
    assert first != second  # equal names do not show as equal tokens
    assert personal.key_id_of(first) == first_key and personal.decrypt(first) == NAME
    assert personal.key_id_of(personal.encrypt(NAME, second_key)) == second_key  # one key per person
    tampered = first[:-6] + ("A" if first[-6] != "A" else "B") + first[-5:]
    with pytest.raises(personal.KeyringError):
        personal.decrypt(tampered)
    assert personal.decrypt("written before encryption") == "written before encryption"
    with pytest.raises(personal.KeyringError):  # a value that names no person is refused
        Registration.name.type.process_bind_param(NAME, None)
    personal.configure("a-completely-different-key-0123")  # the data keys are wrapped by the master key
    try:
        with pytest.raises(UnknownDataKey):
            _fresh_data_keys(runtime).fernet(first_key)
    finally:
        personal.configure(OLD_KEY)


def _fresh_data_keys(runtime) -> DataKeys:
    """The keyring as another process sees it: nothing cached."""
    return DataKeys(runtime.data_keys.engine, lambda: personal.keyring().wrapping)


def test_every_table_with_personal_values_names_whose_they_are():
    """A table added later with a PersonalText column must say which person's key encrypts it,
    or erasing that person would leave its values readable."""
    for table, _columns in personal_tables():
        model = next(m.class_ for m in models.Base.registry.mappers if m.local_table is table)
        owner = getattr(model, "__personal_owner__", None)
        assert owner == "id" and table.name == "contacts" or isinstance(owner, (str, tuple)), table.name
        assert owner_expression(model) is not None


def test_the_lookup_hash_needs_the_keyring_and_is_apart_from_the_encryption_keys(runtime):
    derived_encryption = personal._derive(OLD_KEY, personal._ENCRYPTION_INFO)
    derived_lookup = personal._lookup_hmac_key(OLD_KEY, runtime.data_keys.lookup_secret())
    derived_wrapping = personal._derive(OLD_KEY, personal._WRAPPING_INFO)
    assert len({derived_encryption, derived_lookup, derived_wrapping}) == 3
    assert OLD_KEY.encode() not in (derived_encryption, derived_lookup, derived_wrapping)
    hashed = personal.lookup_key(OLD_KEY, PHONE)
    assert len(hashed) == 64  # fits contacts.phone_key
    # What someone with a copy of the database and DDA_ENCRYPTION_KEY, but not the keyring, could compute:
    plain_hmac = hmac.new(OLD_KEY.encode(), PHONE.encode(), hashlib.sha256).hexdigest()
    master_only = hmac.new(personal._derive(OLD_KEY, personal._LOOKUP_INFO), PHONE.encode(), hashlib.sha256)
    assert hashed not in (plain_hmac, master_only.hexdigest())
    assert personal._lookup_hmac_key(OLD_KEY, b"another keyring's secret") != derived_lookup


def test_previous_keys_still_decrypt_and_still_find_people(runtime):
    personal.configure(OLD_KEY)
    legacy = personal.keyring().fernet.encrypt(NAME.encode()).decode()  # before data keys per person
    key_id = runtime.data_keys.create()[0]
    try:
        personal.configure(NEW_KEY, [OLD_KEY])
        assert personal.decrypt(legacy) == NAME
        assert _fresh_data_keys(runtime).fernet(key_id) is not None  # wrapped under the old key, still opens
        assert personal.lookup_keys(PHONE) == [personal.lookup_key(NEW_KEY, PHONE),
                                               personal.lookup_key(OLD_KEY, PHONE)]
        personal.configure(NEW_KEY)
        assert personal.lookup_keys(PHONE) == [personal.lookup_key(NEW_KEY, PHONE)]
        with pytest.raises(personal.KeyringError):
            personal.decrypt(legacy)
        with pytest.raises(UnknownDataKey):
            _fresh_data_keys(runtime).fernet(key_id)
    finally:
        personal.configure(OLD_KEY)


def test_previous_keys_come_comma_separated_from_the_environment():
    settings = settings_with(DDA_PREVIOUS_ENCRYPTION_KEYS=f"{OLD_KEY}, older-key-0123456789abcdef")
    assert settings.secrets.previous_encryption_keys == (OLD_KEY, "older-key-0123456789abcdef")
    assert settings_with().secrets.previous_encryption_keys == ()
    with pytest.raises(SettingsError) as error:
        settings_with(DDA_PREVIOUS_ENCRYPTION_KEYS="short-old-key")
    assert str(error.value).startswith("DDA_PREVIOUS_ENCRYPTION_KEYS:") and "short-old-key" not in str(error.value)


# --- key rotation -------------------------------------------------------------------------

def test_rotate_key_moves_everything_to_the_new_key_while_the_service_runs(whatsapp, runtime, twilio, monkeypatch):
    from webhook import create_app

    register(whatsapp)
    whatsapp.send(TEXT)
    before = stored(runtime)
    wrapped = wrapped_keys(runtime)
    runtime.tasks.stop_worker()
    monkeypatch.setenv("DDA_ENCRYPTION_KEY", NEW_KEY)
    monkeypatch.setenv("DDA_PREVIOUS_ENCRYPTION_KEYS", OLD_KEY)
    rotated = create_app(embedded_worker=False)
    new_runtime = rotated.extensions["dda"]
    new_runtime.tasks.start_worker(threads=2, sweep_every=3600)
    try:
        # Restarted with the new key, before the rotation ran: the person is still found.
        chat = WhatsApp(rotated.test_client(), new_runtime, twilio)
        assert chat.conversation("menu")[-1].startswith("What can I do for you?")
        with new_runtime.session() as session:
            assert session.scalar(select(func.count()).select_from(Contact)) == 1
            assert session.scalar(select(ContactIdentifier.key)) == personal.lookup_key(NEW_KEY, PHONE)
            assert session.scalar(select(Registration.name)) == NAME

        result = rotated.test_cli_runner().invoke(args=["privacy", "rotate-key", "--batch-size", "3"])
        assert result.exit_code == 0, result.output
        assert f"re-wrapped {len(wrapped)} data key(s)" in result.output
        assert "previous keys can now be removed" in result.output
        values = stored(new_runtime)
        kept = {where: value for where, value in before.items() if where[0] != "conversation_states"}  # "menu" moved it
        assert {where: values[where] for where in kept} == kept  # the values stay; their key is wrapped anew
        person_keys = {personal.key_id_of(value) for value in values.values()}
        assert len(person_keys) == 1 and person_keys <= set(wrapped)  # one key, the person's (others: unused stock)
        after = wrapped_keys(new_runtime)
        assert set(after) == set(wrapped) and all(after[key] != wrapped[key] for key in wrapped)
        again = rotated.test_cli_runner().invoke(args=["privacy", "rotate-key"])
        assert "re-wrapped 0 data key(s)" in again.output and "re-encrypted 0 value(s)" in again.output

        personal.configure(NEW_KEY)  # the old key is gone: every key still unwraps, everything still reads
        _fresh_data_keys(new_runtime).load(after)
        with new_runtime.session() as session:
            registration = session.scalar(select(Registration))
            assert (registration.name, registration.partner_named, registration.contact.phone) == \
                (NAME, PARTNER, PHONE)
            assert TEXT in session.scalars(select(Message.body)).all()
        personal.configure(OLD_KEY)  # and the old key alone opens nothing any more
        with pytest.raises(UnknownDataKey):
            _fresh_data_keys(new_runtime).load(after)
    finally:
        new_runtime.close()
        personal.configure(OLD_KEY, [NEW_KEY])  # back, for the tests after this one
        runtime.data_keys.rewrap()
        personal.configure(OLD_KEY)


def test_rotate_key_upgrades_a_database_from_before_encryption_at_rest(runner, runtime, whatsapp):
    register(whatsapp)
    legacy_hash = hmac.new(OLD_KEY.encode(), PHONE.encode(), hashlib.sha256).hexdigest()
    with runtime.session() as session:  # as the previous version stored them: plain text, HMAC under the raw key
        session.execute(update(Registration).values(name=type_coerce(NAME, Text())))
        session.execute(update(ContactIdentifier).values(value=type_coerce(PHONE, Text()), key=legacy_hash))
        session.commit()
    with runtime.session() as session:
        assert session.scalar(select(Registration.name)) == NAME  # still readable meanwhile
    result = runner.invoke(args=["privacy", "rotate-key"])
    assert result.exit_code == 0, result.output
    assert "1 lookup hash(es) recomputed" in result.output
    assert all(personal.is_encrypted(value) for value in stored(runtime).values())
    with runtime.session() as session:
        assert session.scalar(select(Registration.name)) == NAME
        assert session.scalar(select(ContactIdentifier.key)) == personal.lookup_key(OLD_KEY, PHONE)


# --- retention ----------------------------------------------------------------------------

def test_purge_erases_old_message_texts_and_keeps_the_rows(runner, runtime, whatsapp):
    register(whatsapp)
    age(runtime, Message, 31)
    whatsapp.send(TEXT)
    with runtime.session() as session:
        rows = session.scalar(select(func.count()).select_from(Message))
        month_ago = utcnow() - timedelta(days=30)
        old = session.scalar(select(func.count()).select_from(Message).where(Message.body.is_not(None),
                                                                             Message.created_at < month_ago))
    result = run(runner, runtime, "privacy", "purge")
    assert result.exit_code == 0, result.output
    assert f"message texts erased: {old}" in result.output and old > 8
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == rows  # statistics keep their rows
        assert [b for b in session.scalars(select(Message.body).where(Message.direction == "in")) if b] == [TEXT]
        assert session.scalar(select(Registration.name)) == NAME  # an active registration is untouched


def test_an_inactive_registration_is_warned_once_then_erased(runner, runtime, whatsapp, twilio):
    register(whatsapp)
    runtime.settings.templates = {"inactivity_warning": {"en": TEMPLATE}}
    age(runtime, Contact, 400)
    age(runtime, Registration, 400)
    result = run(runner, runtime, "privacy", "purge")
    assert "warned: 1" in result.output and "registrations erased: 0" in result.output
    assert twilio.sent(PHONE)[-1]["ContentSid"] == TEMPLATE
    with runtime.session() as session:
        warning = session.scalar(select(Message).where(Message.kind == "template"))
        assert "delete your registration and everything we know about you in 14 days" in warning.body
    assert "warned: 0" in run(runner, runtime, "privacy", "purge").output  # one warning, not one a day
    age(runtime, RegistrationEvent, 15, actor="privacy")
    result = run(runner, runtime, "privacy", "purge")
    assert "registrations erased: 1" in result.output
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 0
        assert session.scalar(select(func.count()).select_from(Registration)) == 0
        assert session.scalar(select(func.count()).select_from(Message)) == 0


def test_writing_after_the_warning_keeps_the_registration(runner, runtime, whatsapp):
    register(whatsapp)
    age(runtime, Contact, 400)
    age(runtime, Registration, 400)
    result = run(runner, runtime, "privacy", "purge")
    assert "warnings not sent: 1" in result.output  # no approved template: counted, so the operator sees it
    whatsapp.send("I am still here")
    age(runtime, RegistrationEvent, 15, actor="privacy")
    result = run(runner, runtime, "privacy", "purge")
    assert "registrations erased: 0" in result.output and "warned: 0" in result.output
    with runtime.session() as session:
        assert session.scalar(select(Registration.name)) == NAME


def test_someone_who_never_registered_is_erased_after_the_inactive_period(runner, runtime, whatsapp):
    whatsapp.send("hello", phone="+31600000001")
    whatsapp.send("hello", phone="+31600000002")
    with runtime.session() as session:
        first = session.scalar(select(Contact.id).order_by(Contact.id))
    age(runtime, Contact, 400, id=first)
    assert "contacts erased: 1" in run(runner, runtime, "privacy", "purge").output
    with runtime.session() as session:
        assert session.scalars(select(Contact.id)).all() != [first]
        assert session.scalar(select(func.count()).select_from(Contact)) == 1


def test_the_workers_purge_once_a_day(runtime):
    assert purge_once_a_day(runtime) is not None
    assert purge_once_a_day(runtime) is None


# --- erasure ------------------------------------------------------------------------------

def _voucher_for(runtime):
    """A voucher row, when the vouchers model exists (it is newer than the erasure code)."""
    voucher = getattr(models, "Voucher", None)
    if voucher is None:
        return None
    with runtime.session() as session:
        registration = session.scalar(select(Registration))
        row = voucher(registration_id=registration.id, contact_id=registration.contact_id, period="2026-W01",
                      provider_reference="ref-privacy-1", code="CODE-PRIVACY", pin="1234", amount_cents=1750,
                      currency="EUR", valid_until=utcnow().date())
        session.add(row)
        session.commit()
        return row.id


def test_cli_erase_does_what_delete_my_data_does(runner, runtime, whatsapp):
    register(whatsapp)
    whatsapp.send(TEXT)
    whatsapp.send("human")
    voucher_id = _voucher_for(runtime)
    with runtime.session() as session:
        contact_id = session.scalar(select(Contact.id))
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1
        assert session.get(ConversationState, contact_id) is not None
    result = runner.invoke(args=["privacy", "erase", "--phone", "06 1234 5678", "--yes"])
    assert result.exit_code == 0, result.output
    assert "1 registration(s)" in result.output
    with runtime.session() as session:
        for model in (Contact, Message, Ticket, Registration, RegistrationEvent):
            assert session.scalar(select(func.count()).select_from(model)) == 0, model.__name__
        if voucher_id is not None:
            voucher = session.get(models.Voucher, voucher_id)
            assert (voucher.contact_id, voucher.registration_id, voucher.amount_cents) == (None, None, 1750)
        assert session.scalar(select(func.count()).select_from(ConversationState)) == 0
    assert PHONE not in result.output and NAME not in result.output
    again = runner.invoke(args=["privacy", "erase", "--phone", PHONE, "--yes"])
    assert again.exit_code != 0 and "nobody with that number" in again.output


def test_delete_my_data_in_the_chat_deletes_the_registration_too(whatsapp, runtime):
    register(whatsapp)
    voucher_id = _voucher_for(runtime)
    whatsapp.send("delete my data")
    assert whatsapp.conversation("1")[-1].startswith("Your data has been deleted")
    with runtime.session() as session:
        for model in (Contact, Message, Registration, RegistrationEvent):
            assert session.scalar(select(func.count()).select_from(model)) == 0, model.__name__
        if voucher_id is not None:
            assert session.get(models.Voucher, voucher_id).contact_id is None


def test_erase_asks_before_it_acts(runner, whatsapp, runtime):
    whatsapp.send("hello")
    result = runner.invoke(args=["privacy", "erase", "--phone", PHONE], input="n\n")
    assert result.exit_code != 0
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 1


# --- what do you know about me ------------------------------------------------------------

def test_what_do_you_know_about_me_lists_what_is_held(whatsapp):
    register(whatsapp)
    replies = whatsapp.conversation("my data")
    report = "\n\n".join(replies)  # one message, or two if the report and the menu do not fit in one
    for expected in ("This is what we keep about you", "this WhatsApp number", "your language: English",
                     "your registration: registered, waiting to be checked", f"your name: {NAME}",
                     f"the organisation that sent you: {PARTNER}", "We delete the text of a message after 30 days",
                     "If you do not write to us for 12 months", "write DELETE MY DATA"):
        assert expected in report, expected
    assert int(re.search(r"\(yours and ours\): (\d+)", report).group(1)) > 10
    assert report.index("write DELETE MY DATA") < report.index("What can I do for you?")
    assert "\n- Talk to a person" in replies[-1]  # the menu comes last


def test_the_report_speaks_the_persons_language_and_says_when_nothing_is_registered(whatsapp, runtime):
    from privacy.actions import NOT_REGISTERED

    whatsapp.send("hallo")
    whatsapp.send("6")  # Nederlands
    report = whatsapp.conversation("mijn gegevens")[0]
    assert "Nederlands" in report  # the language named in Dutch
    assert runtime.translator.text(NOT_REGISTERED, "nl") in report  # in Dutch once the catalog has it


# --- logs ---------------------------------------------------------------------------------

def test_a_whole_journey_logs_no_number_name_or_message(whatsapp, runner, caplog):
    caplog.set_level(logging.DEBUG)
    for logger in ("sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool", "werkzeug", "twilio.http_client",
                   "dramatiq", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=logger)
    register(whatsapp)
    whatsapp.send(TEXT)
    whatsapp.send("my data")
    whatsapp.send("delete my data")
    whatsapp.send("1")
    runner.invoke(args=["privacy", "purge"])
    logged = "\n".join(f"{record.name} {record.getMessage()} {record.exc_text or ''}" for record in caplog.records)
    assert "sqlalchemy.engine" in logged and "processed inbound message" in logged  # the loggers did log
    squeezed = re.sub(r"[\s\-().]", "", logged)
    for secret in PHONE_FORMS:
        assert secret not in squeezed, secret
    for secret in (NAME, "Zainab", "Quetzalcoatl", PARTNER, "Wolkenkrabber", TEXT, "Kerkstraat"):
        assert secret not in logged, secret


# --- crypto-shredding: erasure reaches copies and backups ---------------------------------

OTHER_PHONE, OTHER_NAME = "+31687654321", "Amadou Bellefleur"


def _key_of(runtime, phone=PHONE) -> str:
    with runtime.session() as session:
        return session.scalar(select(Contact.data_key_id).join(ContactIdentifier)
                              .where(ContactIdentifier.key == personal.lookup_key(OLD_KEY, phone)))


class Backup:
    """A backup of the main database as an operator takes one (SQLite: the online backup API,
    which includes what is still in the WAL; PostgreSQL: pg_dump), restored into a database of
    its own when asked."""

    def __init__(self, runtime, folder: Path):
        self.url = runtime.db.url
        self.folder = folder
        if self.url.get_backend_name() == "sqlite":
            self.file = folder / "backup.sqlite3"
            source, target = sqlite3.connect(self.url.database), sqlite3.connect(self.file)
            source.backup(target)
            source.close()
            target.close()
        else:
            self.file = folder / "backup.dump"
            subprocess.run(["pg_dump", "-Fc", "-f", str(self.file), "-d", self._libpq(self.url)], check=True)

    @staticmethod
    def _libpq(url) -> str:
        return url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)

    def restore(self) -> Engine:
        if self.url.get_backend_name() == "sqlite":
            return make_engine(f"sqlite:///{self.file}")
        restored = self.url.set(database=f"{self.url.database}_restored")
        maintenance = self._libpq(self.url.set(database="postgres"))
        with psycopg.connect(maintenance, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{restored.database}"')
            connection.execute(f'CREATE DATABASE "{restored.database}"')
        subprocess.run(["pg_restore", "--no-owner", "-d", self._libpq(restored), str(self.file)], check=True)
        return make_engine(restored.render_as_string(hide_password=False))


def test_a_backup_taken_before_an_erasure_shows_nothing_of_the_person_afterwards(whatsapp, runner, runtime, tmp_path):
    register(whatsapp)
    whatsapp.send(TEXT)
    register(whatsapp, phone=OTHER_PHONE, name=OTHER_NAME, partner="De Regenboog")
    erased_key = _key_of(runtime)
    backup = Backup(runtime, tmp_path)
    result = runner.invoke(args=["privacy", "erase", "--phone", PHONE, "--yes"])
    assert result.exit_code == 0, result.output

    engine = backup.restore()  # the backup, restored after the erasure, read with the running service's keys
    try:
        with make_sessionmaker(engine)() as session:
            names = dict(session.execute(select(Registration.contact_id, Registration.name)).all())
            contacts = {contact.id: contact for contact in session.scalars(select(Contact))}
            assert len(contacts) == 2 and len(names) == 2  # the backup holds both people's rows...
            erased = next(c for c in contacts.values() if c.data_key_id == erased_key)
            other = next(c for c in contacts.values() if c.data_key_id != erased_key)
            assert (other.phone, names[other.id]) == (OTHER_PHONE, OTHER_NAME)  # ...and the keys open the other's
            assert (erased.phone, names[erased.id]) == (None, None)  # but nothing of the erased person
            bodies = session.scalars(select(Message.body).where(Message.contact_id == erased.id)).all()
            assert len(bodies) > 10 and set(bodies) == {None}
            assert session.scalar(select(Registration.partner_named)
                                  .where(Registration.contact_id == erased.id)) is None
        with engine.connect() as connection:  # every value of theirs names the destroyed key, which nothing opens
            raw = [value for table, columns in personal_tables() for column in columns
                   for value in connection.scalars(select(type_coerce(column, Text())).where(
                       owner_expression(_model_of(table)) == erased.id)) if value]
        assert raw and {personal.key_id_of(value) for value in raw} == {erased_key}
        assert runtime.data_keys.shredded([erased_key]) == {erased_key}
        assert _fresh_data_keys(runtime).fernet(erased_key) is None
    finally:
        engine.dispose()


def _model_of(table):
    return next(mapper.class_ for mapper in models.Base.registry.mappers if mapper.local_table is table)


def test_after_an_erasure_the_database_its_wal_and_the_keyring_hold_nothing_that_opens(whatsapp, runner, runtime):
    if runtime.db.url.get_backend_name() != "sqlite":
        pytest.skip("raw database files: SQLite (PostgreSQL's copies are the backup test's)")
    register(whatsapp)
    whatsapp.send(TEXT)
    key_id = _key_of(runtime)
    wrapped = wrapped_keys(runtime)[key_id]
    for engine in (runtime.db, runtime.data_keys.engine):
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    assert runner.invoke(args=["privacy", "erase", "--phone", PHONE, "--yes"]).exit_code == 0

    database = _files(runtime.db.url.database)
    for secret in (*PHONE_FORMS, NAME, "Quetzalcoatl", PARTNER, TEXT, "Kerkstraat"):
        assert secret.encode() not in database, secret
    left = re.findall(rb"dk1\.([0-9a-f]{32})\.(gAAAAA[A-Za-z0-9_\-=]+)", database)
    for found_key, token in left:  # whatever the file and its log still hold of them opens with no key
        assert found_key.decode() == key_id
        assert personal.decrypt(f"dk1.{key_id}.{token.decode()}") is None
    keyring_files = _files(runtime.data_keys.engine.url.database)
    assert wrapped.encode() not in keyring_files and key_id.encode() in keyring_files  # a tombstone, no key
    assert wrapped_keys(runtime).get(key_id) is None


def _files(path: str) -> bytes:
    return b"".join(p.read_bytes() for p in (Path(path), Path(f"{path}-wal")) if p.exists())


def test_delete_my_data_in_the_chat_and_the_purge_destroy_the_persons_key(whatsapp, runner, runtime):
    register(whatsapp)
    chat_key = _key_of(runtime)
    whatsapp.send("delete my data")
    whatsapp.send("1")
    assert runtime.data_keys.shredded([chat_key]) == {chat_key}  # once the confirmation went out

    whatsapp.send("hello", phone=OTHER_PHONE)
    stranger_key = _key_of(runtime, OTHER_PHONE)
    assert stranger_key != chat_key
    age(runtime, Contact, 400)
    assert "contacts erased: 1" in run(runner, runtime, "privacy", "purge").output
    assert runtime.data_keys.shredded([stranger_key]) == {stranger_key}


def test_the_purge_removes_people_a_restored_backup_brings_back(whatsapp, runner, runtime):
    register(whatsapp)
    register(whatsapp, phone=OTHER_PHONE, name=OTHER_NAME)
    runtime.data_keys.shred([_key_of(runtime)])  # erased after the backup that was restored
    result = run(runner, runtime, "privacy", "purge")
    assert "erasures completed: 1" in result.output, result.output
    with runtime.session() as session:
        assert session.scalars(select(Registration.name)).all() == [OTHER_NAME]
        assert session.scalar(select(func.count()).select_from(Contact)) == 1


def test_rotate_key_moves_existing_data_to_a_key_per_person(whatsapp, runner, runtime):
    register(whatsapp)
    register(whatsapp, phone=OTHER_PHONE, name=OTHER_NAME)
    whatsapp.send(TEXT)
    with runtime.db.begin() as connection:  # as revision 0008 left it: master-derived tokens, no data keys
        for table, columns in personal_tables():
            key = next(iter(table.primary_key.columns))
            for column in columns:
                for row_id, value in connection.execute(select(key, type_coerce(column, Text()))).all():
                    if value:
                        legacy = personal.keyring().fernet.encrypt(personal.decrypt(value).encode()).decode()
                        connection.execute(update(table).where(key == row_id)
                                           .values({column.name: type_coerce(legacy, Text())}))
        connection.execute(update(Contact).values(data_key_id=None))
    before = stored(runtime)
    assert not any(personal.is_personal(value) for value in before.values())
    with runtime.session() as session:  # still read meanwhile
        assert sorted(session.scalars(select(Registration.name))) == sorted([NAME, OTHER_NAME])

    result = runner.invoke(args=["privacy", "rotate-key", "--batch-size", "7"])
    assert result.exit_code == 0, result.output
    assert f"re-encrypted {len(before)} value(s) under their person's data key" in result.output
    after = stored(runtime)
    assert set(after) == set(before) and all(personal.is_personal(value) for value in after.values())
    with runtime.session() as session:
        owners = dict(session.execute(select(Contact.id, Contact.data_key_id)).all())
        assert None not in owners.values() and len(set(owners.values())) == 2
        for message in session.scalars(select(Message).where(Message.body.is_not(None))):
            assert personal.key_id_of(after["messages", "body", message.id]) == owners[message.contact_id]
        assert TEXT in session.scalars(select(Message.body)).all()
    again = runner.invoke(args=["privacy", "rotate-key"])
    assert "re-encrypted 0 value(s)" in again.output and stored(runtime) == after  # safe to repeat

    assert runner.invoke(args=["privacy", "erase", "--phone", PHONE, "--yes"]).exit_code == 0
    with runtime.session() as session:  # erasing one person leaves the other readable
        assert session.scalars(select(Registration.name)).all() == [OTHER_NAME]
