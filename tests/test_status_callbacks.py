"""Delivery statuses from Twilio only move forward, keep the error code and are idempotent."""
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from store.models import Message
from tests.conftest import fixture

PHONE = "+31612345678"


def first_reply(runtime, whatsapp) -> Message:
    whatsapp.send("hello")
    with runtime.session() as session:
        return session.scalar(select(Message).where(Message.direction == "out").order_by(Message.id)
                              .options(selectinload(Message.outbox)))


def callback(whatsapp, name: str, sid: str, query: str = "", **extra):
    """Twilio's status callback, to the URL the send gave it (query included, as Twilio signs it)."""
    params = fixture(name) | {"MessageSid": sid, "SmsSid": sid} | extra
    response = whatsapp.post("/twilio/status" + (f"?{query}" if query else ""), params)
    assert response.status_code == 204
    return response


def status_of(runtime, sid: str) -> tuple[str, str | None]:
    with runtime.session() as session:
        message = session.scalar(select(Message).where(Message.provider_sid == sid))
        return message.status, message.error_code


def test_reply_is_sent_through_twilio_with_a_status_callback(whatsapp, twilio, runtime):
    message = first_reply(runtime, whatsapp)
    sent = twilio.sent(PHONE)[0]
    assert sent["From"] == "whatsapp:+14155238886"
    assert sent["To"] == f"whatsapp:{PHONE}"
    base, _, query = sent["StatusCallback"].partition("?")
    assert base == "https://dda.example.org/twilio/status"
    named = parse_qs(query)
    assert named["outbox"] == [str(message.outbox.id)] and len(named["key"][0]) == 32
    assert sent["Body"] == message.body
    assert status_of(runtime, message.provider_sid) == ("queued", None)


def test_statuses_move_forward_only(whatsapp, runtime):
    sid = first_reply(runtime, whatsapp).provider_sid
    callback(whatsapp, "status_delivered", sid)
    callback(whatsapp, "status_sent", sid)  # late
    assert status_of(runtime, sid) == ("delivered", None)
    callback(whatsapp, "status_read", sid)
    callback(whatsapp, "status_delivered", sid)
    assert status_of(runtime, sid) == ("read", None)


def test_failure_keeps_its_error_code_and_repeats_change_nothing(whatsapp, runtime):
    sid = first_reply(runtime, whatsapp).provider_sid
    for _ in range(3):
        callback(whatsapp, "status_failed_63024", sid)
    assert status_of(runtime, sid) == ("failed", "63024")


def test_undelivered_keeps_63016(whatsapp, runtime):
    sid = first_reply(runtime, whatsapp).provider_sid
    callback(whatsapp, "status_undelivered_63016", sid)
    assert status_of(runtime, sid) == ("undelivered", "63016")


def test_callback_before_the_send_is_recorded_is_applied_later(whatsapp, runtime, twilio, monkeypatch):
    """Twilio can call back before messages.create has returned to us."""
    import channels.twilio_sender as sender

    original = sender.TwilioChannel.send

    def send_and_race(channel, message):
        sent = original(channel, message)
        callback(whatsapp, "status_delivered", sent.provider_sid)
        return sent

    monkeypatch.setattr(sender.TwilioChannel, "send", send_and_race)
    whatsapp.send("hello")
    sid = twilio.sent(PHONE)[0]["Sid"]
    assert status_of(runtime, sid) == ("delivered", None)


def test_unknown_status_or_missing_fields(whatsapp):
    assert whatsapp.post("/twilio/status", {"MessageSid": "SMx"}).status_code == 400
    assert whatsapp.post("/twilio/status", {"MessageSid": "SMx", "MessageStatus": "teleported"}).status_code == 204


@pytest.mark.parametrize("code, effect", [("63024", "unreachable"), ("63003", "unreachable"), ("63014", "opted out")])
def test_failure_codes_change_what_the_service_does_next(whatsapp, runtime, code, effect):
    from store.models import Contact

    sid = first_reply(runtime, whatsapp).provider_sid
    callback(whatsapp, "status_failed_63024", sid, ErrorCode=code)
    with runtime.session() as session:
        contact = session.scalar(select(Contact))
        assert bool(contact.unreachable_at) == (effect == "unreachable")
        assert contact.opted_out == (effect == "opted out")


def test_outside_the_window_the_message_waits_behind_the_approved_template(whatsapp, runtime, twilio):
    runtime.settings.templates = {"message_waiting": {"en": "HX" + "6" * 32}}
    whatsapp.send("hello")
    sid = whatsapp.twilio.sent(PHONE)[-1]["Sid"]
    before = len(twilio.sent(PHONE))
    callback(whatsapp, "status_undelivered_63016", sid)
    whatsapp.wait()
    assert [m.get("ContentSid") for m in twilio.sent(PHONE)[before:]] == ["HX" + "6" * 32]
