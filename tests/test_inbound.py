"""Inbound messages: every kind Twilio sends is stored once and answered, bad input never 5xx."""
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

import inbox.receive as receive_module
from store.models import Contact, Message
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
    before = len(whatsapp.replies())
    whatsapp.post("/twilio/whatsapp", fixture("inbound_voice_note"))
    whatsapp.wait()
    (reply,) = whatsapp.replies()[before:]  # the apology, with what to do next under it
    assert "cannot listen to voice messages" in reply.split("\n\n")[0]


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


def test_a_new_person_writing_several_messages_at_once_becomes_one_contact(runtime):
    """Twilio delivers a burst from someone new on parallel requests: one person, every message kept."""
    from concurrent.futures import ThreadPoolExecutor

    from channels.twilio_payload import read_inbound
    from inbox.receive import receive
    from store.models import Contact, ContactIdentifier

    def post(number: int):
        sid = f"SM{number:032x}"
        form = fixture("inbound_text") | {"From": "whatsapp:+31687654321", "MessageSid": sid, "SmsSid": sid,
                                          "SmsMessageSid": sid, "Body": f"bericht {number}"}
        return receive(runtime, read_inbound(form, "NL", 4096))

    with ThreadPoolExecutor(8) as pool:
        stored = list(pool.map(post, range(16)))
    assert len({item.contact_id for item in stored}) == 1 and all(item.new for item in stored)
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 1
        assert session.scalar(select(func.count()).select_from(ContactIdentifier)) == 1
        bodies = session.scalars(select(Message.body).where(Message.direction == "in")).all()
    assert sorted(bodies) == sorted(f"bericht {number}" for number in range(16))


def test_a_number_moved_to_another_contact_is_followed_at_once(runtime):
    """Staff merged two contacts: the next message goes to the one kept, whatever a web process remembered."""
    from channels.twilio_payload import read_inbound
    from inbox.receive import receive
    from registration.merge import merge

    def post(phone: str, sid: str):
        form = fixture("inbound_text") | {"From": f"whatsapp:{phone}", "MessageSid": sid, "SmsSid": sid,
                                          "SmsMessageSid": sid}
        return receive(runtime, read_inbound(form, "NL", 4096))

    keep = post("+31611111111", "SM" + "1" * 32).contact_id
    other = post("+31622222222", "SM" + "2" * 32).contact_id
    with runtime.session() as session:
        merge(session, keep, other, actor="test")
        session.commit()
    again = post("+31622222222", "SM" + "3" * 32)
    assert again.new and again.contact_id == keep


def test_a_burst_of_messages_keeps_when_the_person_last_wrote_to_the_minute(whatsapp, runtime, monkeypatch):
    """People write in bursts: a message within a minute of the one before leaves "last wrote" as
    it was (the 24-hour window may close up to a minute early, never late), one after a longer
    pause moves it. The webhook then writes one row per message instead of three."""
    start = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    seen = []
    for number, seconds in enumerate((0, 45, 75)):
        moment = start + timedelta(seconds=seconds)
        monkeypatch.setattr(receive_module, "utcnow", lambda moment=moment: moment)
        sid = f"SM{number:032d}"
        assert whatsapp.post("/twilio/whatsapp", fixture("inbound_text") | {"MessageSid": sid, "SmsMessageSid": sid,
                                                                           "SmsSid": sid}).status_code == 200
        with runtime.session() as session:
            wrote = session.scalar(select(Contact.last_inbound_at))
        seen.append(wrote if wrote.tzinfo else wrote.replace(tzinfo=UTC))
    assert seen == [start, start, start + timedelta(seconds=75)]
    whatsapp.wait()
    assert inbound_count(runtime) == 3
