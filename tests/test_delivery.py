"""Delivery through the Twilio adapter: retries, permanent failures and long texts."""
import json
import time

from sqlalchemy import select

from bot.messages import Reply
from delivery.outbox import queue_replies, split_text
from inbox.receive import contact_for
from store.models import Message, OutboxItem, utcnow

PHONE = "+31612345678"


def person(session, runtime, phone: str = PHONE):
    """A contact who has just written, so the 24-hour window is open."""
    contact = contact_for(session, phone)
    contact.last_inbound_at = utcnow()
    return contact


def queue(runtime, *replies: Reply) -> int:
    """Each reply a message of its own, as from turns one after another (the texts of one turn
    would go as one message)."""
    with runtime.session() as session:
        contact = person(session, runtime)
        for reply in replies:
            queue_replies(session, runtime.settings, contact, [reply])
        session.commit()
        return contact.id


def outbox_states(runtime) -> list[tuple[str, int]]:
    with runtime.session() as session:
        return [(i.state, i.attempts) for i in session.scalars(select(OutboxItem).order_by(OutboxItem.id))]


def test_server_errors_are_retried_until_sent_once(runtime, twilio):
    twilio.fail_next(500, 20500, times=2)
    contact_id = queue(runtime, Reply(text="hello"))
    runtime.tasks.deliver.send(contact_id)
    runtime.tasks.drain()
    assert twilio.bodies(PHONE) == ["hello"]
    assert outbox_states(runtime) == [("sent", 3)]


def test_rate_limited_send_is_retried(runtime, twilio):
    twilio.fail_next(429, 20429)
    contact_id = queue(runtime, Reply(text="one"), Reply(text="two"))
    runtime.tasks.deliver.send(contact_id)
    runtime.tasks.drain()
    assert twilio.bodies(PHONE) == ["one", "two"]


def test_invalid_number_fails_permanently_and_is_not_retried(runtime, twilio):
    twilio.fail_next(400, 21211)
    contact_id = queue(runtime, Reply(text="hello"))
    runtime.tasks.deliver.send(contact_id)
    runtime.tasks.drain()
    assert twilio.bodies(PHONE) == []
    assert outbox_states(runtime) == [("failed", 1)]
    with runtime.session() as session:
        message = session.scalar(select(Message))
        assert (message.status, message.error_code) == ("failed", "21211")


def test_long_reply_is_split_into_whatsapp_sized_parts_in_order(runtime, twilio):
    paragraphs = [f"Paragraph {n}. " + "word " * 120 for n in range(8)]  # about 5,000 characters
    contact_id = queue(runtime, Reply(text="\n\n".join(paragraphs)))
    runtime.tasks.deliver.send(contact_id)
    runtime.tasks.drain()
    bodies = twilio.bodies(PHONE)
    assert len(bodies) > 1
    assert all(len(body) <= 1600 for body in bodies)
    assert " ".join(" ".join(bodies).split()) == " ".join(" ".join(paragraphs).split())
    assert bodies[0].startswith("Paragraph 0.")


def test_split_prefers_paragraphs_then_words():
    text = "a" * 900 + "\n\n" + "b" * 900
    assert split_text(text, 1600) == ["a" * 900, "b" * 900]
    words = " ".join(["word"] * 500)
    parts = split_text(words, 1600)
    assert all(len(p) <= 1600 and not p.startswith(" ") and not p.endswith(" ") for p in parts)
    assert " ".join(parts) == words
    assert split_text("x" * 3300, 1600) == ["x" * 1600, "x" * 1600, "x" * 100]


def test_media_and_template_messages_reach_twilio_in_its_parameters(runtime, twilio):
    from store.models import Message, OutboxItem

    with runtime.session() as session:
        contact = person(session, runtime)
        media = Message(contact_id=contact.id, direction="out", kind="media", body="Your voucher",
                        media_url="https://dda.example.org/media/v1.png", sender="bot", status="pending")
        template = Message(contact_id=contact.id, direction="out", kind="template", body=None,
                           content_sid="HX0123456789abcdef0123456789abcdef",
                           content_variables={"1": "€ 17,50"}, sender="bot", status="pending")
        session.add_all([media, OutboxItem(message=media), template, OutboxItem(message=template)])
        session.commit()
        contact_id = contact.id
    runtime.tasks.deliver.send(contact_id)
    runtime.tasks.drain()
    first, second = twilio.sent(PHONE)
    assert (first["Body"], first["MediaUrl"]) == ("Your voucher", "https://dda.example.org/media/v1.png")
    assert second["ContentSid"] == "HX0123456789abcdef0123456789abcdef"
    assert json.loads(second["ContentVariables"]) == {"1": "€ 17,50"}
    assert "Body" not in second


def test_sends_never_exceed_the_rate_per_sender_across_workers(runtime, twilio):
    """Two contacts delivered by several worker threads share one limit."""
    import time
    from collections import Counter

    runtime.rate_limiter.per_second = 4
    stamps = []
    original = runtime.channel.send

    def timed(message):
        stamps.append(int(time.time()))
        return original(message)

    runtime.channel.send = timed
    first = queue(runtime, *[Reply(text=f"a{n}") for n in range(6)])
    with runtime.session() as session:
        other = person(session, runtime, "+31687654321")
        for n in range(6):
            queue_replies(session, runtime.settings, other, [Reply(text=f"b{n}")])
        session.commit()
        second = other.id
    runtime.tasks.deliver.send(first)
    runtime.tasks.deliver.send(second)
    runtime.tasks.drain()
    assert len(stamps) == 12
    per_second = Counter(stamps)
    # A slot taken at the very end of one second may leave just after the next began.
    assert max(per_second.values()) <= 4 + 1
    assert len(per_second) >= 3  # 12 at 4 a second: throttled


def test_a_bulk_batch_never_stands_between_a_person_and_their_answer(runtime, twilio, whatsapp):
    """Voucher notices for many people are being sent (slowly, as at the rate limit); someone
    writes; their answer does not wait for the batch."""
    runtime.tasks.stop_worker()
    send = runtime.channel.send

    def at_the_limit(message):
        if message.body.startswith("notice"):
            time.sleep(0.05)
        return send(message)

    runtime.channel.send = at_the_limit
    with runtime.session() as session:
        contacts = []
        for n in range(30):
            contact = person(session, runtime, f"+3161100{n:04d}")
            queue_replies(session, runtime.settings, contact, [Reply(text=f"notice {n}")], queue="bulk")
            session.flush()
            contacts.append(contact.id)
        session.commit()
    runtime.tasks.send_bulk(contacts)
    runtime.tasks.start_worker(threads=1, bulk_threads=1, sweep_every=3600)
    whatsapp.send("hello", wait=False)
    whatsapp.wait()
    order = [m["To"] for m in twilio.sent()]
    assert len(order) == 31
    assert order.index(f"whatsapp:{PHONE}") < 15
