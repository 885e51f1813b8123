"""Faults heal in seconds and lose no conversation: the conversation state lives in the
database, so losing Redis resets nobody; a stored message is answered 200 whatever the queue
does and processed once the queue is back; a status callback settles a row a killed worker
left `sending`; a command that committed says so even when Redis is down.

The outage tests stop and start a private redis-server (as tests/test_delivery_faults.py
does), so the Redis other tests use is never touched; they run on SQLite and, when the suite
has it, on PostgreSQL.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
import redis as redis_lib
from sqlalchemy import insert, select, text

from delivery.send import callback_key
from delivery.tasks import QUEUE_MARKER
from store.models import PHONE, Contact, ContactIdentifier, Message, OutboxItem, Registration, Worker, utcnow
from store.personal import lookup_key, seal
from tests.conftest import SERVICES, _empty_tables, fixture
from tests.test_delivery_faults import PrivateRedis, wait_until

FR_PHONE, AR_PHONE = "+31612000003", "+31612000004"


def person_with_replies(session, runtime, phone_key: str, phone: str, bodies: tuple[str, ...], at) -> tuple:
    """A person who just wrote, with replies waiting in the outbox's messages (no rows yet):
    (contact id, message ids)."""
    key = runtime.data_keys.create(1)[0]
    contact_id = session.scalar(insert(Contact).returning(Contact.id), [
        {"data_key_id": key, "opted_out": False, "created_at": at, "last_inbound_at": utcnow(), "language": "en"}])
    session.execute(insert(ContactIdentifier), [{"contact_id": contact_id, "kind": PHONE, "key": phone_key,
                                                 "value": seal(phone, key), "created_at": at}])
    if not bodies:
        return contact_id, []
    messages = session.scalars(insert(Message).returning(Message.id), [
        {"contact_id": contact_id, "direction": "out", "kind": "text", "body": seal(body, key), "sender": "bot",
         "status": "pending", "created_at": at, "updated_at": at} for body in bodies]).all()
    return contact_id, messages


@pytest.mark.parametrize("phone, start, consent, name, next_question", [
    (FR_PHONE, "Bonjour, je voudrais m'inscrire au programme", "1", "Jean-Pierre", "Ce numéro WhatsApp"),
    (AR_PHONE, "مرحبا أريد التسجيل في البرنامج", "1", "فاطمة", "هل رقم الواتساب هذا"),
], ids=["fr", "ar"])
def test_redis_flushed_mid_conversation_the_next_answer_continues(whatsapp, runtime, phone, start, consent, name,
                                                                  next_question):
    whatsapp.send(start, phone=phone)
    whatsapp.send(consent, phone=phone)  # now asked for a name
    runtime.redis.flushdb()  # what a Redis restart without persistence leaves
    replies = whatsapp.conversation(name, phone=phone)
    assert len(replies) == 1 and replies[0].startswith(next_question)
    with runtime.session() as session:
        assert session.scalar(select(Registration.name)) == name


def test_a_retried_message_still_unprocessed_is_queued_again(whatsapp, runtime, monkeypatch):
    """Twilio retries when our answer did not reach it; if the first job was lost, the retry
    is what gets the message processed, without waiting for the sweeper."""
    runtime.redis.set(QUEUE_MARKER, "1")  # Redis has been up all along: no sweep is due
    params = fixture("inbound_text") | {"Body": "hallo", "From": "whatsapp:+31612000005", "WaId": "31612000005"}
    with monkeypatch.context() as lost:
        lost.setattr(runtime.tasks, "arrived", lambda contact_id: None)
        assert whatsapp.post("/twilio/whatsapp", params).status_code == 200
    whatsapp.wait()
    assert whatsapp.replies("+31612000005") == []
    assert whatsapp.post("/twilio/whatsapp", params).status_code == 200  # the same MessageSid again
    whatsapp.wait()
    assert len(whatsapp.replies("+31612000005")) >= 1
    assert whatsapp.post("/twilio/whatsapp", params).status_code == 200  # processed now: nothing more
    whatsapp.wait()
    with runtime.session() as session:
        assert session.scalar(select(Message.processed_at).where(Message.direction == "in")) is not None
        assert len(session.scalars(select(Message.id).where(Message.direction == "in")).all()) == 1


def test_a_status_callback_settles_a_row_a_killed_worker_left_sending(whatsapp, runtime, twilio):
    """The worker sent the first message and died before recording it; the person's next
    message waits behind it until the callback says Twilio has it, then goes at once."""
    now = utcnow()
    with runtime.session() as session:
        _, (first, second) = person_with_replies(session, runtime, "killed", "+31612000006", ("first", "second"), now)
        row = session.scalar(insert(OutboxItem).returning(OutboxItem.id), [
            {"message_id": first, "queue": "replies", "state": "sending", "attempts": 1, "attempted_at": now,
             "claimed_by": "a-killed-worker", "created_at": now}])
        session.execute(insert(OutboxItem), [{"message_id": second, "queue": "replies", "state": "pending",
                                              "attempts": 0, "created_at": now}])
        session.commit()
    query = f"outbox={row}&key={callback_key(runtime.settings.secrets.secret_key, row)}"
    params = fixture("status_sent") | {"MessageSid": "SM" + "a" * 32, "SmsSid": "SM" + "a" * 32}
    assert whatsapp.post(f"/twilio/status?{query}", params).status_code == 204
    whatsapp.wait()
    assert twilio.bodies("+31612000006") == ["second"]
    with runtime.session() as session:
        assert session.get(OutboxItem, row).state == "sent"
        assert session.get(Message, first).provider_sid == "SM" + "a" * 32


def test_a_row_a_killed_worker_left_sending_without_a_callback_is_settled_in_seconds(runtime, twilio):
    """The worker died after claiming the row, before its request left: no callback will come.
    Ten seconds after its last sign of life the row is reconciled (Twilio does not have it) and
    sent, and the person's next message follows, each once."""
    now = utcnow()
    claimed = now - timedelta(seconds=11)
    with runtime.session() as session:
        session.add(Worker(id="a-killed-worker", seen_at=claimed))
        _, (first, second) = person_with_replies(session, runtime, "killed2", "+31612000009", ("first", "second"),
                                                 claimed)
        session.execute(insert(OutboxItem), [
            {"message_id": first, "queue": "bulk", "state": "sending", "attempts": 1, "attempted_at": claimed,
             "claimed_by": "a-killed-worker", "created_at": claimed},
            {"message_id": second, "queue": "replies", "state": "pending", "attempts": 0, "created_at": claimed}])
        session.commit()
    wait_until(lambda: len(twilio.bodies("+31612000009")) == 2, 15, "both sent by the sweeper's watch")
    runtime.tasks.drain()
    assert twilio.bodies("+31612000009") == ["first", "second"]


OUTAGE_BACKENDS = ["sqlite"] + (["postgresql"] if SERVICES["database"] else [])


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory):
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


@pytest.fixture(params=OUTAGE_BACKENDS)
def outage_app(request, private_redis, twilio, monkeypatch):
    """The app on a private Redis that a test may stop and start again."""
    from webhook import create_app

    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    _empty_tables(url)
    if private_redis.process.poll() is not None:
        private_redis.start()
    redis_lib.Redis.from_url(private_redis.url).flushdb()
    monkeypatch.setenv("DATABASE_URL", url)
    if request.param != "sqlite":  # a keyring of its own, never the developer's var/ (made with their key)
        monkeypatch.setenv("DDA_KEYRING_URL", request.getfixturevalue("postgres_keyring_url"))
    monkeypatch.setenv("REDIS_URL", private_redis.url)
    app = create_app(embedded_worker=False)
    app.config["TESTING"] = True
    runtime = app.extensions["dda"]
    runtime.tasks.start_worker(threads=2, bulk_threads=1, sweep_every=3600)
    yield app
    if private_redis.process.poll() is not None:
        private_redis.start()
    runtime.close()


def test_with_the_queue_down_a_message_is_taken_and_answered_once_it_is_back(outage_app, private_redis, twilio):
    from tests.conftest import WhatsApp

    runtime = outage_app.extensions["dda"]
    whatsapp = WhatsApp(outage_app.test_client(), runtime, twilio)
    private_redis.stop()
    response = whatsapp.send("hallo, ik wil me aanmelden", phone="+31612000007", wait=False)
    assert response.status_code == 200
    with runtime.session() as session:
        assert session.scalar(select(Message.processed_at).where(Message.direction == "in")) is None
    private_redis.start()
    wait_until(lambda: twilio.bodies("+31612000007"), 20, "the stored message answered once Redis is back")
    with runtime.session() as session:
        assert session.scalar(select(Message.processed_at).where(Message.direction == "in")) is not None


def test_set_status_with_redis_down_reports_success_and_the_notice_follows(outage_app, private_redis, twilio):
    runtime = outage_app.extensions["dda"]
    now = utcnow()
    with runtime.session() as session:
        contact_id, _ = person_with_replies(session, runtime, lookup_key(runtime.settings.secrets.encryption_key,
                                                                         "+31612000008"), "+31612000008", (), now)
        session.execute(insert(Registration), [{"contact_id": contact_id, "status": "registered", "join_code": "J1",
                                                "number_confirmed": True, "created_at": now, "updated_at": now}])
        session.commit()
    private_redis.stop()
    result = outage_app.test_cli_runner().invoke(args=["registrations", "set-status", "--phone", "+31612000008",
                                                       "--status", "verified", "--reason", "papers seen"])
    assert result.exit_code == 0, result.output
    assert "registered -> verified" in result.output
    with runtime.session() as session:
        assert session.scalar(select(Registration.status)) == "verified"
        assert session.scalar(select(OutboxItem.state)) == "pending"
    private_redis.start()
    wait_until(lambda: twilio.bodies("+31612000008"), 20, "the notice sent once Redis is back")
    assert len(twilio.bodies("+31612000008")) == 1


def test_conversation_state_is_kept_encrypted(whatsapp, runtime):
    whatsapp.send("Bonjour, je voudrais m'inscrire au programme", phone=FR_PHONE)
    whatsapp.send("1", phone=FR_PHONE)
    whatsapp.send("Jean-Pierre", phone=FR_PHONE)
    with runtime.db.connect() as connection:
        stored = connection.execute(text("SELECT state FROM conversation_states")).scalar_one()
    assert "Jean-Pierre" not in stored and "register" not in stored


def test_a_retry_waiting_for_its_backoff_is_not_lost_with_redis(outage_app, private_redis, twilio):
    """A send failed a moment ago and is due again in two seconds; its delayed job goes with a
    Redis restart. The row is sent when due, not minutes later, and not before."""
    runtime = outage_app.extensions["dda"]
    now = utcnow()
    due = now + timedelta(seconds=2)
    with runtime.session() as session:
        _, (message,) = person_with_replies(session, runtime, "backoff", "+31612000010", ("again",), now)
        session.execute(insert(OutboxItem), [{"message_id": message, "queue": "replies", "state": "pending",
                                              "attempts": 1, "attempted_at": now, "due_at": due,
                                              "last_error": "ConnectionError", "created_at": now}])
        session.commit()
    private_redis.stop()
    private_redis.start()
    wait_until(lambda: twilio.bodies("+31612000010"), 10, "the retry sent once due")
    assert twilio.sent("+31612000010")[0]["Body"] == "again"
    assert twilio.requests[0]["at"] >= due
