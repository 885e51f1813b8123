"""The 24-hour window is decided when a message is delivered: free text outside it waits for
the person, behind one approved "you have a message" template, and goes when they write."""
from datetime import timedelta

from sqlalchemy import select

from bot.messages import Reply
from delivery.outbox import queue_replies
from inbox.receive import contact_for
from store.models import Contact, Message, OutboxItem, utcnow
from tests.test_delivery import PHONE, outbox_states

WAITING_SID = "HX" + "7" * 32


def written_days_ago(runtime, days: float) -> int:
    with runtime.session() as session:
        contact = contact_for(session, PHONE)
        contact.last_inbound_at = utcnow() - timedelta(days=days)
        session.commit()
        return contact.id


def queue(runtime, contact_id: int, *texts: str, queue: str = "bulk") -> None:
    """Each text a message of its own, as notices written at different moments."""
    with runtime.session() as session:
        for text in texts:
            queue_replies(session, runtime.settings, session.get(Contact, contact_id), [Reply(text=text)],
                          queue=queue)
        session.commit()
    runtime.tasks.send_bulk([contact_id])
    runtime.tasks.drain()


def test_outside_the_window_free_text_waits_and_the_template_goes_once(runtime, twilio, whatsapp):
    runtime.settings.templates = {"message_waiting": {"en": WAITING_SID}}
    contact_id = written_days_ago(runtime, 2)
    queue(runtime, contact_id, "your voucher", "where to use it")
    queue(runtime, contact_id, "a reminder")
    assert [m.get("ContentSid") for m in twilio.sent(PHONE)] == [WAITING_SID]
    assert [state for state, _ in outbox_states(runtime)] == ["held", "held", "sent", "held"]

    whatsapp.send("hello")  # the person taps the template: the window opens
    bodies = twilio.bodies(PHONE)[1:]
    assert bodies[:3] == ["your voucher", "where to use it", "a reminder"]
    assert len(bodies) == 4  # and then the bot's answer to "hello"
    assert "held" not in [state for state, _ in outbox_states(runtime)]


def test_inside_the_window_free_text_goes_at_once(runtime, twilio):
    contact_id = written_days_ago(runtime, 0.5)
    queue(runtime, contact_id, "hello again")
    assert twilio.bodies(PHONE) == ["hello again"]


def test_templates_go_out_whatever_the_window(runtime, twilio):
    contact_id = written_days_ago(runtime, 10)
    with runtime.session() as session:
        notice = Message(contact_id=contact_id, direction="out", kind="template", content_sid="HX" + "1" * 32,
                         sender="bot", status="pending")
        session.add_all([notice, OutboxItem(message=notice, queue="bulk")])
        session.commit()
    runtime.tasks.send_bulk([contact_id])
    runtime.tasks.drain()
    assert [m["ContentSid"] for m in twilio.sent(PHONE)] == ["HX" + "1" * 32]


def test_without_an_approved_template_the_message_still_waits_not_fails(runtime, twilio, whatsapp):
    contact_id = written_days_ago(runtime, 3)
    queue(runtime, contact_id, "kept for you")
    assert twilio.sent(PHONE) == []
    assert outbox_states(runtime) == [("held", 0)]
    whatsapp.send("hi")
    assert twilio.bodies(PHONE)[0] == "kept for you"


def test_a_63016_refusal_is_held_like_any_message_outside_the_window(runtime, twilio, whatsapp):
    runtime.settings.templates = {"message_waiting": {"en": WAITING_SID}}
    contact_id = written_days_ago(runtime, 0.5)  # we think the window is open; WhatsApp does not
    twilio.fail_next(400, 63016)
    queue(runtime, contact_id, "refused once")
    assert [m.get("ContentSid") for m in twilio.sent(PHONE)] == [WAITING_SID]
    with runtime.session() as session:
        statuses = [(m.body, m.status, m.error_code) for m in session.scalars(
            select(Message).where(Message.direction == "out", Message.content_sid.is_(None)).order_by(Message.id))]
    assert statuses == [("refused once", "failed", "63016"), ("refused once", "pending", None)]
    whatsapp.send("ok")
    assert twilio.bodies(PHONE)[1] == "refused once"


def test_metrics_show_what_waits_and_for_how_long(runtime, twilio, client):
    contact_id = written_days_ago(runtime, 2)
    queue(runtime, contact_id, "one", "two")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'dda_outbox_rows{queue="bulk",state="held"} 2.0' in text
    assert 'dda_queue_jobs{queue="bulk"} 0.0' in text
    assert "dda_outbox_oldest_pending_seconds" in text and "dda_webhook_seconds" in text
