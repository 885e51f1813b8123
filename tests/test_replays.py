"""A re-sent message of an erased person does not bring them back (issue 16): their MessageSids
are kept as keyed hashes for the deduplication window, then forgotten too."""
from datetime import timedelta

from sqlalchemy import func, select, update

from store.models import Contact, ForgottenMessage, Message, utcnow
from tests.conftest import fixture

PHONE = "+31612345678"


def send(whatsapp, text, sid):
    params = fixture("inbound_text") | {"Body": text, "From": f"whatsapp:{PHONE}", "MessageSid": sid,
                                        "SmsMessageSid": sid, "SmsSid": sid}
    response = whatsapp.post("/twilio/whatsapp", params)
    whatsapp.wait()
    return response


def contacts(runtime) -> int:
    with runtime.session() as session:
        return session.scalar(select(func.count()).select_from(Contact))


def test_a_replayed_message_of_an_erased_person_is_dropped(whatsapp, runtime, runner):
    first = "SM" + "a" * 32
    send(whatsapp, "hallo", first)
    send(whatsapp, "Nederlands", "SM" + "b" * 32)
    send(whatsapp, "verwijder mijn gegevens", "SM" + "c" * 32)
    send(whatsapp, "1", "SM" + "d" * 32)
    assert "Je gegevens zijn gewist" in whatsapp.replies()[-1]
    runner.invoke(args=["privacy", "purge"])  # the confirmation was delivered: the contact row goes too
    whatsapp.wait()
    replies = len(whatsapp.replies())

    for sid in ("SM" + "a" * 32, "SM" + "c" * 32):  # Twilio retries, or someone re-sends a captured request
        assert send(whatsapp, "hallo", sid).status_code == 200
    assert len(whatsapp.replies()) == replies
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 0
        keys = list(session.scalars(select(ForgottenMessage.sid_key)))
    assert len(keys) == 4 and first not in keys and all(len(key) == 64 for key in keys)
    assert contacts(runtime) == 0

    send(whatsapp, "hallo", "SM" + "e" * 32)  # writing again is a fresh start
    assert contacts(runtime) == 1 and len(whatsapp.replies()) > replies


def test_the_hashes_go_after_the_deduplication_window(whatsapp, runtime, runner):
    send(whatsapp, "hello", "SM" + "f" * 32)
    result = runner.invoke(args=["privacy", "erase", "--phone", PHONE, "--yes"])
    assert result.exit_code == 0
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(ForgottenMessage)) == 1
        window = runtime.settings.privacy.replay_days
        session.execute(update(ForgottenMessage).values(at=utcnow() - timedelta(days=window + 1)))
        session.commit()
    purged = runner.invoke(args=["privacy", "purge"])
    assert "replay guards expired: 1" in purged.output
