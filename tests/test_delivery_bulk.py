"""Bulk delivery (voucher notices, invitations, reminders): many people per job, without one
person's trouble holding up the others, and never ahead of a person's earlier message."""
import time
from collections import Counter

from sqlalchemy import select, update

from bot.messages import Reply
from delivery.outbox import queue_replies
from store.models import OutboxItem
from tests.test_delivery import person


def notices(runtime, count: int, *, before: dict[int, str] | None = None) -> list[int]:
    """`count` people who just wrote, each with a bulk notice waiting (after a reply, for the
    people numbered in `before`); returns their contact ids."""
    contacts = []
    with runtime.session() as session:
        for n in range(count):
            contact = person(session, runtime, f"+3162200{n:04d}")
            if before and n in before:
                queue_replies(session, runtime.settings, contact, [Reply(text=before[n])])
            queue_replies(session, runtime.settings, contact, [Reply(text=f"notice {n}")], queue="bulk")
            session.flush()
            contacts.append(contact.id)
        session.commit()
    return contacts


def rows(runtime) -> dict[str, tuple[str, int]]:
    with runtime.session() as session:
        return {item.message.body: (item.state, item.attempts) for item in session.scalars(select(OutboxItem))}


def test_a_server_error_for_one_person_does_not_hold_up_the_rest(runtime, twilio):
    twilio.fail_next(500, 20500)
    runtime.tasks.send_bulk(notices(runtime, 10))
    runtime.tasks.drain()
    bodies = twilio.bodies()
    assert sorted(bodies) == sorted(f"notice {n}" for n in range(10))  # each once
    assert bodies[-1] == "notice 0"  # it waited for its backoff; the others did not wait for it
    assert rows(runtime)["notice 0"] == ("sent", 2)
    assert {rows(runtime)[f"notice {n}"] for n in range(1, 10)} == {("sent", 1)}


def test_a_bulk_job_keeps_each_persons_order(runtime, twilio):
    """A reply written before the notice goes first, even when the bulk job finds it; a person
    whose earlier message is being sent by someone else is left for later."""
    contacts = notices(runtime, 3, before={0: "your answer", 1: "in flight"})
    with runtime.session() as session:
        in_flight = session.scalar(select(OutboxItem.id).where(OutboxItem.queue == "replies").order_by(
            OutboxItem.id.desc()).limit(1))
        session.execute(update(OutboxItem).where(OutboxItem.id == in_flight).values(state="sending"))
        session.commit()
    runtime.tasks.send_bulk(contacts)
    runtime.tasks.drain()
    assert twilio.bodies("+31622000000") == ["your answer", "notice 0"]
    assert twilio.bodies("+31622000001") == []
    assert twilio.bodies("+31622000002") == ["notice 2"]
    assert rows(runtime)["notice 1"] == ("pending", 0)


def test_bulk_sends_leave_part_of_each_second_to_replies(runtime, twilio):
    runtime.rate_limiter.per_second, runtime.rate_limiter.reserve = 6, 3
    stamps = []
    send = runtime.channel.send

    def timed(message):
        stamps.append((int(time.time()), message.body))
        return send(message)

    runtime.channel.send = timed
    # What the limiter grants bulk, by the second it grants for: a run spends the slots it took
    # one message at a time, so a send may fall just after the second its slot belonged to.
    granted: Counter[str] = Counter()
    grant = runtime.rate_limiter._grant

    def counted(keys, args):
        taken = int(grant(keys=keys, args=args))
        granted[keys[0]] += taken if args[3] else 0
        return taken

    runtime.rate_limiter._grant = counted
    runtime.tasks.send_bulk(notices(runtime, 9))
    runtime.tasks.drain()
    assert len(stamps) == 9 and sum(granted.values()) >= 9
    assert max(granted.values()) <= 3  # the other 3 of each second stay free for replies
    assert len(Counter(second for second, _ in stamps)) >= 3
