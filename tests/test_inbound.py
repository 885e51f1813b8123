"""Inbound messages: every kind Twilio sends is stored once and answered, bad input never 5xx."""
import logging

import pytest
from sqlalchemy import func, select

from store.models import Message
from tests.conftest import fixture

PHONE = "+31612345678"


def inbound_count(runtime) -> int:
    with runtime.session() as session:
        return session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))


@pytest.mark.parametrize("name", ["inbound_text", "inbound_text_arabic", "inbound_button_tap", "inbound_list_reply",
                                  "inbound_location", "inbound_image", "inbound_voice_note"])
def test_every_twilio_payload_is_stored_and_answered(whatsapp, runtime, name):
    params = fixture(name)
    response = whatsapp.post("/twilio/whatsapp", params)
    assert response.status_code == 200
    whatsapp.wait()
    assert inbound_count(runtime) == 1
    phone = params["From"].split(":", 1)[1]
    assert whatsapp.replies(phone), f"no reply to {name}"


def test_retried_delivery_is_processed_once(whatsapp, runtime, twilio):
    params = fixture("inbound_text")
    for _ in range(3):
        assert whatsapp.post("/twilio/whatsapp", params).status_code == 200
    whatsapp.wait()
    assert inbound_count(runtime) == 1
    first_turn = len(twilio.sent(PHONE))
    assert whatsapp.post("/twilio/whatsapp", params).status_code == 200
    whatsapp.wait()
    assert len(twilio.sent(PHONE)) == first_turn


def test_voice_note_gets_a_polite_answer_in_text(whatsapp):
    whatsapp.send("2")  # English
    whatsapp.post("/twilio/whatsapp", fixture("inbound_voice_note"))
    whatsapp.wait()
    assert "cannot listen to voice messages" in whatsapp.replies()[-2]


def test_image_only_gets_a_polite_answer(whatsapp):
    whatsapp.send("2")
    whatsapp.post("/twilio/whatsapp", fixture("inbound_image"))
    whatsapp.wait()
    assert any("only read text" in reply for reply in whatsapp.replies()[-2:])


def test_empty_body_is_answered(whatsapp):
    whatsapp.send("2")
    assert whatsapp.conversation("")[0].startswith("Your message was empty")


def test_very_long_message_is_read_and_answered(whatsapp, runtime):
    whatsapp.send("2")
    replies = whatsapp.conversation("menu " * 1200)  # 6,000 characters
    assert replies, "a long message must still get an answer"
    with runtime.session() as session:
        longest = max(len(m.body or "") for m in session.scalars(select(Message).where(Message.direction == "in")))
    assert longest == runtime.settings.conversation.max_inbound_chars


def test_emoji_only_is_answered_not_crashed(whatsapp):
    whatsapp.send("hello")
    whatsapp.send("2")
    assert whatsapp.conversation("🎈🧩🛸")[0].startswith("Sorry, I")  # not understood, or "did you mean"
    assert whatsapp.conversation("🙏🙏")[0] == "You are welcome. Write MENU whenever you need something."


@pytest.mark.parametrize("sender", ["whatsapp:", "whatsapp:+999", "whatsapp:not-a-number", "messenger:12345",
                                    "", "+31612345678x"])
def test_unknown_sender_format_is_refused_with_400(whatsapp, runtime, sender):
    response = whatsapp.post("/twilio/whatsapp", fixture("inbound_text") | {"From": sender})
    assert response.status_code == 400
    assert inbound_count(runtime) == 0


@pytest.mark.parametrize("missing", ["MessageSid", "From"])
def test_missing_fields_are_refused_with_400(whatsapp, runtime, missing):
    params = fixture("inbound_text")
    for key in [missing] + (["SmsMessageSid", "SmsSid"] if missing == "MessageSid" else []):
        params.pop(key)
    assert whatsapp.post("/twilio/whatsapp", params).status_code == 400
    assert inbound_count(runtime) == 0


def test_empty_request_is_refused_not_crashed(whatsapp):
    assert whatsapp.post("/twilio/whatsapp", {}).status_code == 400


def test_logs_never_hold_the_number_or_the_text(whatsapp, caplog):
    caplog.set_level(logging.DEBUG)
    whatsapp.send("my secret words", phone="+31687654321")
    whatsapp.post("/twilio/whatsapp", fixture("inbound_text") | {"From": "whatsapp:+999"})
    whatsapp.wait()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "inbound stored" in logged
    for secret in ("31687654321", "my secret words", "6876 54321", "+999"):
        assert secret not in logged
