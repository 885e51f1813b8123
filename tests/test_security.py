"""The attack pass's findings, each reproduced and now refused: weak or shared secrets, files and
logs that leak, staff sessions that outlive signing out, guessing across accounts, weak
passwords, accounts nobody could end, tills that spend what they should not."""
from __future__ import annotations

import json
import os
import stat
from datetime import timedelta

import pytest
from sqlalchemy import select

from settings import SettingsError
from store.models import AuditEntry, EarlyStatus, LedgerVoucher, StaffSession, utcnow
from tests.conftest import ENVIRONMENT
from tests.test_settings import settings_with
from tests.test_staff import PASSWORD, create_user, csrf, login, signed_in
from tests.test_vouchers import PERIOD, PHONE, include, redeem, run, vouchers

# --- secrets and files ---------------------------------------------------------------------------

@pytest.mark.parametrize("variable", ["SECRET_KEY", "DDA_ENCRYPTION_KEY"])
@pytest.mark.parametrize("weak", ["password12345678", "aaaaaaaaaaaaaaaaaaaa", "0123456789abcdef0123"])
def test_a_key_that_looks_like_words_or_a_pattern_stops_start_up(variable, weak):
    with pytest.raises(SettingsError) as error:
        settings_with(**{variable: weak})
    assert str(error.value).startswith(f"{variable}: looks like words or a pattern") and weak not in str(error.value)


def test_the_same_secret_for_sessions_and_personal_data_stops_start_up():
    with pytest.raises(SettingsError, match="SECRET_KEY and DDA_ENCRYPTION_KEY must differ"):
        settings_with(SECRET_KEY=ENVIRONMENT["DDA_ENCRYPTION_KEY"])


def test_a_password_in_a_bad_connection_url_is_never_printed():
    with pytest.raises(SettingsError) as error:
        settings_with(REDIS_URL="http://default:hunter2-redis-secret@cache.internal:6379/0")
    assert "REDIS_URL" in str(error.value) or "redis_url" in str(error.value)
    assert "hunter2-redis-secret" not in str(error.value) and "***" in str(error.value)


def test_the_database_and_its_wal_are_readable_by_this_user_only(tmp_path):
    from store.db import make_engine
    from store.migrate import upgrade

    previous = os.umask(0o022)  # a usual umask: the code must not rely on a strict one
    try:
        url = f"sqlite:///{tmp_path / 'fresh' / 'dda.sqlite3'}"
        upgrade(url)
        engine = make_engine(url)
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
            files = [tmp_path / "fresh" / name for name in ("dda.sqlite3", "dda.sqlite3-wal")]
            for path in files:
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
        engine.dispose()
        assert stat.S_IMODE((tmp_path / "fresh").stat().st_mode) == 0o700
    finally:
        os.umask(previous)


def test_make_writes_the_secrets_file_readable_by_this_user_only(tmp_path):
    import subprocess

    from settings import ROOT

    result = subprocess.run(["make", "-s", "-f", str(ROOT / "Makefile"), ".env"], cwd=tmp_path,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    assert "DDA_ENCRYPTION_KEY=" in (tmp_path / ".env").read_text()


# --- /metrics -------------------------------------------------------------------------------------

def test_metrics_need_the_bearer_token_when_one_is_set(client, runtime, monkeypatch):
    monkeypatch.setattr(runtime.settings.secrets, "metrics_token", "metrics-token-0123456789")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = client.get("/metrics", headers={"Authorization": "Bearer metrics-token-0123456789"})
    assert answer.status_code == 200 and "dda_messages" in answer.get_data(as_text=True)


def test_metrics_are_counted_at_most_once_per_interval(client, runtime, whatsapp, monkeypatch):
    counted = []
    collector = next(iter(client.application.extensions["dda_metrics"]._collector_to_names))
    original = collector.collect
    monkeypatch.setattr(collector, "collect", lambda: (counted.append(1), original())[1])
    for _ in range(20):
        assert client.get("/metrics").status_code == 200
    assert len(counted) == 1


# --- housekeeping ---------------------------------------------------------------------------------

def test_stray_status_callbacks_are_purged_after_a_day(runner, runtime):
    with runtime.session() as session:
        session.add_all([
            EarlyStatus(provider_sid="SMold", status="delivered", received_at=utcnow() - timedelta(days=2)),
            EarlyStatus(provider_sid="SMnew", status="delivered", received_at=utcnow())])
        session.commit()
    result = runner.invoke(args=["privacy", "purge"])
    assert result.exit_code == 0, result.output
    assert "stray status callbacks removed: 1" in result.output
    with runtime.session() as session:
        assert session.scalars(select(EarlyStatus.provider_sid)).all() == ["SMnew"]


# --- staff sessions and accounts ------------------------------------------------------------------

def _cookie(client) -> str:
    return client.get_cookie("session").value


def test_signing_out_kills_the_cookie_even_where_it_was_copied(app, client, runner):
    signed_in(client, runner, "admin")
    copied = app.test_client()
    copied.set_cookie("session", _cookie(client))
    assert copied.get("/staff/").status_code == 200
    assert client.post("/staff/logout", data={"csrf_token": csrf(client, "/staff/logout")}).status_code == 302
    assert copied.get("/staff/").status_code == 302  # the old cookie leads to the sign-in page


@pytest.mark.parametrize("change", [
    ["users", "set-role", "ana@example.org", "agent"],
    ["users", "deactivate", "ana@example.org"],
])
def test_a_role_change_or_deactivation_ends_open_sessions_at_once(client, runner, runtime, change):
    signed_in(client, runner, "admin", email="ana@example.org")
    result = runner.invoke(args=change)
    assert result.exit_code == 0, result.output
    assert "1 open session ended" in result.output
    assert client.get("/staff/audit/").status_code == 302
    with runtime.session() as session:
        assert session.scalar(select(StaffSession)) is None
        assert session.scalar(select(AuditEntry.action).where(AuditEntry.subject == "staff:ana@example.org")
                              .order_by(AuditEntry.id.desc())) in ("changed staff role", "deactivated staff user")


def test_a_deactivated_user_cannot_sign_in_and_a_reset_password_works(client, runner):
    create_user(runner, "ana@example.org", "agent")
    assert runner.invoke(args=["users", "deactivate", "ana@example.org"]).exit_code == 0
    assert login(client, "ana@example.org").status_code == 200  # the sign-in page again, with WRONG
    assert runner.invoke(args=["users", "activate", "ana@example.org"]).exit_code == 0
    new = "moss tractor violin gravel 1987"
    reset = runner.invoke(args=["users", "set-password", "ana@example.org", "--password-stdin"], input=new + "\n")
    assert reset.exit_code == 0, reset.output
    assert login(client, "ana@example.org").status_code == 200  # the old password is gone
    assert login(client, "ana@example.org", new).status_code == 302


@pytest.mark.parametrize("weak", ["aaaaaaaaaaaa", "password1234", "ana@example.org1", "qwertyuiop123"])
def test_weak_passwords_are_refused_with_advice(runner, weak):
    result = runner.invoke(args=["users", "create", "ana@example.org", "--role", "agent", "--password-stdin"],
                           input=weak + "\n")
    assert result.exit_code != 0
    assert "password" in result.output.lower() or "guess" in result.output.lower()


def test_users_are_listed_with_role_and_state_without_passwords(runner):
    create_user(runner, "ana@example.org", "admin")
    create_user(runner, "bo@example.org", "partner", partner="Stichting Hulp")
    runner.invoke(args=["users", "deactivate", "bo@example.org"])
    listed = json.loads(runner.invoke(args=["users", "list", "--json"]).output)
    assert [(u["email"], u["role"], u["partner"], u["active"]) for u in listed] == [
        ("ana@example.org", "admin", None, True), ("bo@example.org", "partner", "Stichting Hulp", False)]
    assert "hash" not in json.dumps(listed)


def test_one_connection_cannot_guess_across_many_accounts(client, runner):
    create_user(runner, "ana@example.org", "admin")
    for number in range(20):
        assert login(client, f"guess{number}@example.org", "guess guess guess").status_code == 200
    refused = login(client, "ana@example.org")  # even a right password, from this connection, waits
    assert refused.status_code == 429 and "Too many failed sign-ins" in refused.text


def test_another_connection_is_not_held_up_by_a_guesser(app, client, runner):
    create_user(runner, "ana@example.org", "admin")
    for number in range(20):
        login(client, f"guess{number}@example.org", "guess guess guess")
    other = app.test_client()
    assert login(other, "ana@example.org", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 302


# --- the till -------------------------------------------------------------------------------------

@pytest.fixture
def store_key(runner):
    result = runner.invoke(args=["vouchers", "add-store", "Albert Heijn Centrum"])
    assert result.exit_code == 0
    return result.output.strip()


@pytest.fixture
def voucher(whatsapp, runner, runtime):
    include(whatsapp, runner, runtime)
    run(runner, runtime, "vouchers", "issue", "--period", PERIOD, "--no-notify")
    return vouchers(runtime)[0]


def test_a_revoked_voucher_is_refused_at_the_till_and_the_revocation_is_audited(client, runner, runtime, voucher,
                                                                                store_key):
    result = runner.invoke(args=["vouchers", "revoke", voucher.code.lower(), "--reason", "phone stolen"])
    assert result.exit_code == 0, result.output
    refused = redeem(client, store_key, voucher.code, 100, "till-1")
    assert refused.status_code == 410 and refused.json["error"] == "revoked"
    with runtime.session() as session:
        assert session.scalar(select(LedgerVoucher.revoked_at)) is not None
        assert runtime.vouchers.balance(session, voucher.code) == 0
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "revoked voucher"))
        assert (entry.subject, entry.detail) == (f"voucher:{voucher.id}", "phone stolen")
    unknown = runner.invoke(args=["vouchers", "revoke", "DDA-NONE-NONE-NONE", "--reason", "x"])
    assert unknown.exit_code != 0 and "no voucher has this code" in unknown.output


def test_a_program_that_asks_for_the_pin_refuses_a_wrong_or_missing_one(client, runtime, voucher, store_key,
                                                                       monkeypatch):
    monkeypatch.setattr(runtime.settings.vouchers, "till_pin", True)
    missing = redeem(client, store_key, voucher.code, 100, "till-1")
    assert missing.status_code == 400 and "pin" in missing.json["message"]
    wrong_pin = "0000" if voucher.pin != "0000" else "1111"
    wrong = client.post("/api/pos/redeem", json={"code": voucher.code, "amount_cents": 100, "currency": "EUR",
                                                 "transaction_id": "till-2", "pin": wrong_pin},
                        headers={"Authorization": f"Bearer {store_key}"})
    assert wrong.status_code == 403 and wrong.json["error"] == "wrong_pin"
    right = client.post("/api/pos/redeem", json={"code": voucher.code, "amount_cents": 100, "currency": "EUR",
                                                 "transaction_id": "till-3", "pin": voucher.pin},
                        headers={"Authorization": f"Bearer {store_key}"})
    assert right.status_code == 200


@pytest.mark.parametrize("field,value", [("code", "DDA-\x00"), ("code", "X" * 300), ("amount_cents", 2 ** 31),
                                         ("amount_cents", 2 ** 63), ("transaction_id", "t\x00x"),
                                         ("currency", "E\x00R")])
def test_odd_till_input_gets_a_clear_400_on_every_database(client, voucher, store_key, field, value):
    body = {"code": voucher.code, "amount_cents": 100, "currency": "EUR", "transaction_id": "till-1"} | {field: value}
    answer = client.post("/api/pos/redeem", json=body, headers={"Authorization": f"Bearer {store_key}"})
    assert answer.status_code == 400 and answer.json["error"] == "bad_request"


def test_the_test_password_is_strong_enough_for_the_suite():
    from staff.auth import password_problem

    assert password_problem(PASSWORD) is None


# --- partner imports ------------------------------------------------------------------------------

def test_an_import_does_not_tell_a_partner_who_else_is_in_the_program(whatsapp, runner, tmp_path):
    whatsapp.send("hello", phone="+31612000077")  # this person found the chat by themselves
    path = tmp_path / "list.csv"
    path.write_text("phone\n+31612000077\n+31612000078\n")
    first = runner.invoke(args=["contacts", "import", str(path), "--partner", "Partner A"])
    assert "accepted 2, already on this partner's list 0" in first.output  # the chat user is not singled out
    again = runner.invoke(args=["contacts", "import", str(path), "--partner", "Partner A"])
    assert "accepted 0, already on this partner's list 2" in again.output
    other = runner.invoke(args=["contacts", "import", str(path), "--partner", "Partner B"])
    assert "accepted 2, already on this partner's list 0" in other.output  # Partner A's list stays A's


# --- staff reads of a person's data ---------------------------------------------------------------

def _readings(runtime, subject: str) -> list[str]:
    with runtime.session() as session:
        return list(session.scalars(select(AuditEntry.actor).where(AuditEntry.subject == subject)))


def test_reading_a_ticket_as_json_is_audited_once_per_reading_not_per_refresh(app, client, runtime, whatsapp):
    from tests.test_helpdesk_web import sign_in, waiting_ticket

    ticket = waiting_ticket(whatsapp, runtime)
    sign_in(client, runtime, "agent")
    for _ in range(5):  # the console polls
        assert client.get(f"/helpdesk/tickets/{ticket.id}.json").status_code == 200
    assert _readings(runtime, f"ticket:{ticket.id}") == ["staff:agent@example.org"]


def test_an_agent_cannot_read_a_closed_ticket_another_agent_held(app, client, runtime, whatsapp):
    from handoff import console
    from store.models import StaffUser, Ticket
    from tests.test_helpdesk_web import add_user, sign_in, waiting_ticket

    ticket = waiting_ticket(whatsapp, runtime)
    other = add_user(runtime, "other@example.org", "agent")
    with runtime.session() as session:
        held = session.get(Ticket, ticket.id)
        console.claim(session, held, session.get(StaffUser, other))
        console.close(session, runtime, held, session.get(StaffUser, other), "resolved")
        session.commit()
    sign_in(client, runtime, "agent")
    for path in (f"/helpdesk/tickets/{ticket.id}", f"/helpdesk/tickets/{ticket.id}.json"):
        assert client.get(path).status_code == 404
    supervisor = app.test_client()
    sign_in(supervisor, runtime, "supervisor")
    assert supervisor.get(f"/helpdesk/tickets/{ticket.id}.json").status_code == 200
    assert _readings(runtime, f"ticket:{ticket.id}") == ["staff:supervisor@example.org"]


def test_the_registrations_list_is_a_reading_too(client, runner, runtime):
    email = signed_in(client, runner, "supervisor")
    assert client.get("/staff/registrations/?status=included").status_code == 200
    with runtime.session() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "viewed registrations list"))
    assert (entry.actor, entry.detail) == (f"staff:{email}", "status=included")


# --- every inbound field at the edge: 4xx for what Twilio never sends, never a 5xx ---------------

HUGE = "9" * 40
FUZZ_INBOUND = [
    ({"ButtonPayload": "x" * 257, "MessageType": "button"}, 400),
    ({"ButtonPayload": "cmd.\x00human", "MessageType": "button"}, 400),
    ({"ListId": "row\x00", "MessageType": "interactive"}, 400),
    ({"MessageSid": "SM\x00" + "a" * 30}, 400),
    ({"MessageSid": "SM" + "a" * 80}, 400),
    ({"MessageSid": "SMé" + "a" * 31}, 400),
    ({"Latitude": "junk", "Longitude": "4.9"}, 400),
    ({"Latitude": "91", "Longitude": "4.9"}, 400),
    ({"Latitude": "nan", "Longitude": "4.9"}, 400),
    ({"Latitude": "52.37"}, 400),
    ({"NumMedia": "-1"}, 400),
    ({"NumMedia": HUGE}, 400),
    ({"NumMedia": "1", "MediaContentType0": "a" * 300}, 400),
    ({"Body": "", "ButtonText": "y" * 2000, "ButtonPayload": "cmd.menu", "MessageType": "button"}, 400),
    ({"From": "whatsapp:+31\x00612345678"}, 400),
    ({"From": "whatsapp:" + HUGE}, 400),
    ({"Body": "hello\x00world"}, 200),          # a stray NUL in a text is dropped, the text kept
    ({"Body": "x" * 5000}, 200),               # cut to the longest text the bot reads
    ({"Body": "🙏🙏🙏"}, 200),
]
FUZZ_STATUS = [
    ({"MessageSid": "SM\x00x", "MessageStatus": "delivered"}, 400),
    ({"MessageSid": "SM" + "b" * 32, "MessageStatus": "delivered", "ErrorCode": "1" * 17}, 400),
    ({"MessageSid": "SM" + "b" * 32, "MessageStatus": "failed", "ErrorCode": "63016\x00"}, 400),
    ({"MessageSid": "SM" + "b" * 32, "MessageStatus": "x" * 100}, 400),
    ({"MessageSid": "SM" + "b" * 32, "MessageStatus": "delivered", "ErrorCode": "63016"}, 204),
]


@pytest.mark.parametrize("extra,expected", FUZZ_INBOUND, ids=[str(i) for i in range(len(FUZZ_INBOUND))])
def test_odd_inbound_fields_get_a_4xx_and_nothing_is_lost(whatsapp, twilio, extra, expected):
    import uuid

    from tests.conftest import fixture

    sid = "SM" + uuid.uuid4().hex
    params = fixture("inbound_text") | {"MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid} | extra
    answer = whatsapp.post("/twilio/whatsapp", params)
    assert answer.status_code == expected, answer.data
    whatsapp.wait()
    assert whatsapp.conversation("hello")  # the same person is answered right after


@pytest.mark.parametrize("form,expected", FUZZ_STATUS, ids=[str(i) for i in range(len(FUZZ_STATUS))])
def test_odd_status_callbacks_get_a_4xx(whatsapp, form, expected):
    assert whatsapp.post("/twilio/status", form).status_code == expected
    assert whatsapp.post("/twilio/status?outbox=%C2%B2&key=x", form | {"ErrorCode": ""}).status_code in (204, 400)


# --- nothing personal in clear --------------------------------------------------------------------

def test_options_pins_region_taps_and_voucher_links_are_not_in_clear(whatsapp, runner, runtime, twilio):
    """What a person was offered, where a pin pointed, their region and what they tapped say what
    they were looking for; a voucher link opens their voucher. None of it is readable in the
    database, and the link is not stored at all."""
    from sqlalchemy import text

    from store.models import Contact, Message

    include(whatsapp, runner, runtime)
    run(runner, runtime, "vouchers", "issue", "--period", PERIOD)
    whatsapp.send("Talk to a person", MessageType="button", ButtonPayload="cmd.menu", ButtonText="Menu")
    with runtime.session() as session:
        contact = session.scalar(select(Contact))
        contact.region = "amsterdam"
        session.add(Message(contact_id=contact.id, direction="out", kind="text", body="a pin", sender="bot",
                            status="sent", location={"latitude": 52.3731, "longitude": 4.8922, "label": "Dokter"}))
        session.commit()
        raw = session.execute(text("SELECT options, location, payload, media_url FROM messages")).all()
        region = session.execute(text("SELECT region FROM contacts WHERE id = :id"), {"id": contact.id}).scalar()
        assert session.scalar(select(Contact.region).where(Contact.id == contact.id)) == "amsterdam"  # read back
        assert any(m.location and m.location["label"] == "Dokter" for m in session.scalars(select(Message)))
        assert any(m.options for m in session.scalars(select(Message)))
    assert any(m.get("MediaUrl", "").startswith("https://") for m in twilio.sent(PHONE))  # sent as a link
    stored = " ".join(str(value) for row in raw for value in row if value) + f" {region}"
    for clear in ("amsterdam", "Dokter", "52.3731", "cmd.menu", "https://", "Register", "label"):
        assert clear not in stored, clear
    assert "media:vouchers/" in stored  # the outbox keeps a reference, never a link


# --- the phone simulator --------------------------------------------------------------------------

def test_the_simulator_is_off_where_the_service_speaks_to_twilio(client, runner):
    signed_in(client, runner, "admin")
    assert client.get("/simulator/").status_code == 404
    assert client.post("/simulator/send", json={"text": "hi"}).status_code in (400, 404)


def test_a_store_key_spends_only_the_kinds_of_voucher_its_store_takes(client, runner, voucher, store_key):
    pharmacy = runner.invoke(args=["vouchers", "add-store", "Apotheek West", "--kind", "pharmacy"])
    assert pharmacy.exit_code == 0, pharmacy.output
    refused = redeem(client, pharmacy.output.strip(), voucher.code, 100, "till-9")
    assert refused.status_code == 403 and refused.json["error"] == "wrong_kind"
    assert redeem(client, store_key, voucher.code, 100, "till-1").status_code == 200  # the supermarket's key
    bad = runner.invoke(args=["vouchers", "add-store", "Odd", "--kind", "no such; kind"])
    assert bad.exit_code != 0 and "--kind" in bad.output
