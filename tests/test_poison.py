"""One bad message never silences a person (issue 16): fields processing could not read are
refused at the edge, and a message whose processing keeps failing is set aside, the person is
told, and their later messages are answered in order."""
import json

import pytest
from sqlalchemy import select

from channels.twilio_payload import Received
from inbox.receive import receive
from store.identifiers import Identity
from store.models import PHONE as PHONE_KIND
from store.models import Message
from tests.conftest import fixture

PHONE = "+31612345678"


@pytest.mark.parametrize("fields, reason", [
    ({"MessageType": "location", "Latitude": "junk", "Longitude": "4.9"}, "Latitude is not a number"),
    ({"MessageType": "location", "Latitude": "52.3", "Longitude": "999"}, "Longitude is out of range"),
    ({"MessageType": "location", "Latitude": "nan", "Longitude": "4.9"}, "Latitude is out of range"),
    ({"ButtonPayload": "cmd.\x00human"}, "ButtonPayload is longer than 256 characters or holds a NUL byte"),
    ({"ButtonPayload": "x" * 300}, "ButtonPayload is longer than 256 characters"),
    ({"NumMedia": "lots"}, "NumMedia must be a whole number"),
])
def test_fields_processing_could_not_read_are_refused_at_the_edge(whatsapp, runtime, fields, reason):
    params = fixture("inbound_text") | {"Body": "", "MessageSid": "SM" + "1" * 32} | fields
    response = whatsapp.post("/twilio/whatsapp", params)
    assert response.status_code == 400 and reason in response.get_data(as_text=True)
    with runtime.session() as session:
        assert session.scalar(select(Message.id)) is None


def test_a_real_location_still_gets_through(whatsapp):
    response = whatsapp.post("/twilio/whatsapp", fixture("inbound_location"))
    assert response.status_code == 200
    whatsapp.wait()
    assert whatsapp.replies()


def stored_before_the_edge_checked(runtime, phone=PHONE) -> int:
    """A message an older version stored, which processing cannot read."""
    received = Received(sid="SM" + "9" * 32, sender=Identity(PHONE_KIND, phone), linked=(), kind="location",
                        body="geo:junk,4.9", payload=None, media_types=(), truncated=False)
    stored = receive(runtime, received)
    runtime.tasks.process_contact.send(stored.contact_id)
    return stored.message_id


def test_a_message_that_keeps_failing_is_set_aside_and_the_next_ones_are_answered(whatsapp, runtime, runner,
                                                                                   caplog, client):
    whatsapp.send("hallo", phone=PHONE)
    whatsapp.send("Nederlands", phone=PHONE)
    before = len(whatsapp.replies())
    poison = stored_before_the_edge_checked(runtime)
    whatsapp.send("menu", phone=PHONE, wait=False)
    whatsapp.send("stop", phone=PHONE)

    replies = whatsapp.replies()[before:]
    assert "Sorry, er ging iets mis met je laatste bericht" in replies[0]
    assert "Wat kan ik voor je doen" in replies[1]
    assert "START" in replies[-1]  # STOP, after the bad message, was processed, in order
    with runtime.session() as session:
        message = session.get(Message, poison)
        assert message.set_aside_at is not None and message.failures == runtime.settings.conversation.set_aside_after
        assert message.failure == "ValueError"
        assert session.scalar(select(Message.id).where(Message.direction == "in",
                                                       Message.processed_at.is_(None))) is None
    assert "junk" not in caplog.text

    listed = runner.invoke(args=["inbox", "failed", "--json"])
    assert listed.exit_code == 0
    [row] = json.loads(listed.output)
    assert row["id"] == poison and row["error"] == "ValueError" and row["failures"] == 3
    assert "geo" not in listed.output
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "dda_inbound_set_aside 1.0" in metrics

    retried = runner.invoke(args=["inbox", "retry", str(poison)])
    runtime.tasks.drain()
    assert retried.exit_code == 0 and f"message {poison} queued again" in retried.output
    with runtime.session() as session:
        assert session.get(Message, poison).set_aside_at is not None  # still unreadable: set aside again
    assert runner.invoke(args=["inbox", "retry", "424242"]).exit_code != 0


def test_a_database_outage_is_not_counted_against_the_message(whatsapp, runtime, monkeypatch):
    """The failure says nothing about the message: it waits, however often it is tried."""
    import inbox.process as process

    whatsapp.send("hello")
    failures = []

    def database_gone(*args, **kwargs):
        failures.append(1)
        if len(failures) <= 4:
            raise ConnectionError("database went away")
        return original(*args, **kwargs)

    original = process.queue_replies
    monkeypatch.setattr(process, "queue_replies", database_gone)
    whatsapp.send("2")
    assert len(failures) == 5
    with runtime.session() as session:
        assert session.scalar(select(Message.id).where(Message.set_aside_at.is_not(None))) is None
    assert whatsapp.replies()[-1]
