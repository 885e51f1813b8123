"""A send that may or may not have reached Twilio is never sent twice and never lost."""
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select

from bot.messages import Reply
from channels.base import MaybeSent, Outgoing
from channels.twilio_sender import TwilioChannel
from store.models import OutboxItem
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, SERVICE_NUMBER, fixture
from tests.test_delivery import PHONE, outbox_states, queue


@pytest.fixture
def impatient(runtime):
    """Sends give up after half a second; an uncertain one is reconciled at once."""
    runtime.channel.client.http_client.timeout = 0.5
    runtime.settings.delivery.uncertain_grace_seconds = 0.01
    return runtime


def status_callback(whatsapp, request: dict, status: str = "sent"):
    """Twilio calling back the URL the send gave it, signed as Twilio signs it."""
    url = urlsplit(request["StatusCallback"])
    params = fixture("status_delivered") | {"MessageSid": request["Sid"], "SmsSid": request["Sid"],
                                            "MessageStatus": status, "SmsStatus": status}
    response = whatsapp.post(f"{url.path}?{url.query}", params)
    assert response.status_code == 204


def test_a_timeout_after_sending_is_settled_by_the_status_callback_and_not_sent_again(runtime, twilio, whatsapp):
    runtime.channel.client.http_client.timeout = 0.5
    twilio.stall_next(1.5)
    contact_id = queue(runtime, Reply(text="first"), Reply(text="second"))
    runtime.tasks.deliver.send(contact_id)
    runtime.tasks.drain()
    assert twilio.bodies(PHONE) == ["first"]  # the second waits behind the one in doubt
    assert outbox_states(runtime) == [("uncertain", 1), ("pending", 0)]
    status_callback(whatsapp, twilio.sent(PHONE)[0])
    runtime.tasks.drain()
    assert twilio.bodies(PHONE) == ["first", "second"]
    assert [state for state, _ in outbox_states(runtime)] == ["sent", "sent"]


def test_without_a_callback_the_send_is_found_in_twilios_list_and_adopted(impatient, twilio):
    twilio.stall_next(1.5)
    contact_id = queue(impatient, Reply(text="only once"))
    impatient.tasks.deliver.send(contact_id)
    impatient.tasks.drain()
    assert outbox_states(impatient) == [("uncertain", 1)]
    assert impatient.tasks.sweep() == 1
    impatient.tasks.drain()
    assert twilio.bodies(PHONE) == ["only once"]
    with impatient.session() as session:
        item = session.scalar(select(OutboxItem))
        assert (item.state, item.message.provider_sid) == ("sent", twilio.sent(PHONE)[0]["Sid"])


def test_a_request_that_never_arrived_is_sent_again_after_the_grace_period(impatient, twilio):
    twilio.stall_next(1.5)
    contact_id = queue(impatient, Reply(text="lost on the way"))
    impatient.tasks.deliver.send(contact_id)
    impatient.tasks.drain()
    twilio.requests.clear()  # Twilio never got it
    impatient.tasks.sweep()
    impatient.tasks.drain()
    assert twilio.bodies(PHONE) == ["lost on the way"]
    assert outbox_states(impatient) == [("sent", 2)]


def test_a_callback_with_a_wrong_key_settles_nothing(runtime, twilio, whatsapp):
    runtime.channel.client.http_client.timeout = 0.5
    twilio.stall_next(1.5)
    contact_id = queue(runtime, Reply(text="in doubt"))
    runtime.tasks.deliver.send(contact_id)
    runtime.tasks.drain()
    forged = twilio.sent(PHONE)[0] | {"StatusCallback": twilio.sent(PHONE)[0]["StatusCallback"][:-4] + "0000"}
    status_callback(whatsapp, forged)
    assert outbox_states(runtime) == [("uncertain", 1)]


def test_the_adapter_tells_a_refused_connection_from_a_timeout_after_sending(twilio):
    unreachable = TwilioChannel(ACCOUNT_SID, AUTH_TOKEN, SERVICE_NUMBER, "https://dda.example.org/twilio/status",
                                api_base_url="http://127.0.0.1:9", timeout=0.5)
    with pytest.raises(requests.exceptions.ConnectionError) as refused:
        unreachable.send(Outgoing(to=PHONE, body="x"))
    assert not isinstance(refused.value, MaybeSent)
    stalled = TwilioChannel(ACCOUNT_SID, AUTH_TOKEN, SERVICE_NUMBER, "https://dda.example.org/twilio/status",
                            api_base_url=twilio.url, timeout=0.5)
    twilio.stall_next(1.5)
    with pytest.raises(MaybeSent):
        stalled.send(Outgoing(to=PHONE, body="x"))
    assert len(twilio.requests) == 1
