"""The webhook's hand-over to the workers (delivery/tasks.py `arrived`): on Redis a list the
workers turn into jobs, in process a job at once. Either way every message is answered, in the
order it was written, and a queue that cannot be reached loses nothing."""
from __future__ import annotations

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select

from delivery.tasks import ARRIVALS, INBOUND
from store.models import Message

MESSAGES = {
    "nl": ("+31612000101", ["Hallo", "Ik wil me inschrijven", "1"]),
    "ar": ("+31612000102", ["مرحبا", "أريد التسجيل", "1"]),
    "es": ("+31612000103", ["Hola", "quiero registrarme", "1"]),
}


@pytest.mark.parametrize("language", MESSAGES)
def test_messages_written_while_no_worker_runs_are_all_answered_in_order(whatsapp, runtime, language):
    phone, texts = MESSAGES[language]
    runtime.tasks.stop_worker()
    for text in texts:
        whatsapp.send(text, phone=phone, wait=False)
    assert runtime.tasks.waiting(INBOUND) == len(texts)  # listed (Redis) or queued (in process), none lost
    runtime.tasks.start_worker(threads=3, sweep_every=3600)
    whatsapp.wait()
    with runtime.session() as session:
        processed = session.scalars(select(Message.processed_at).where(Message.direction == "in")
                                    .order_by(Message.id)).all()
    assert len(processed) == len(texts) and all(processed)
    assert processed == sorted(processed)  # one person's messages are read in the order they came
    assert whatsapp.replies(phone)


def test_a_person_listed_several_times_gets_one_job(whatsapp, runtime, backend):
    if backend != "services":
        pytest.skip("the list of arrivals is Redis's; in process each message queues its job")
    phone, texts = MESSAGES["nl"]
    runtime.tasks.stop_worker()
    for text in texts:
        whatsapp.send(text, phone=phone, wait=False)
    assert runtime.redis.llen(ARRIVALS) == len(texts)
    jobs = []
    send = runtime.tasks.process_contact.send
    runtime.tasks.process_contact.send = lambda contact_id: (jobs.append(contact_id), send(contact_id))
    try:
        runtime.tasks.start_worker(threads=3, sweep_every=3600)
        whatsapp.wait()
    finally:
        del runtime.tasks.process_contact.send
    assert len(jobs) == 1
    assert runtime.redis.llen(ARRIVALS) == 0


def test_an_unreachable_queue_still_gets_a_200_and_the_message_is_answered_later(whatsapp, runtime, monkeypatch):
    phone, texts = MESSAGES["es"]

    def unreachable(*args, **kwargs):
        raise RedisConnectionError("Redis is down")

    with monkeypatch.context() as down:
        down.setattr(Redis, "rpush", unreachable)  # every connection, the webhook thread's own too
        down.setattr(runtime.tasks.process_contact.actor, "send_with_options", unreachable)
        assert whatsapp.send(texts[0], phone=phone, wait=False).status_code == 200
    with runtime.session() as session:
        assert session.scalar(select(Message.id).where(Message.direction == "in")) is not None  # stored
    assert runtime.tasks.sweep(everything=True) == 1  # what the sweeper does once the queue is back
    whatsapp.wait()
    assert whatsapp.replies(phone)


def test_a_person_the_dispatcher_takes_off_the_list_while_drain_looks_still_counts_as_arriving(
        whatsapp, runtime, backend, monkeypatch):
    """`drain` (tests, `flask chat`) must not stop waiting in the moment between the dispatcher
    taking a person off the list and queueing their job: it once did, and a test read the reply
    to one message among the replies to the next."""
    if backend != "services":
        pytest.skip("the list of arrivals is Redis's; in process each message queues its job")
    tasks = runtime.tasks
    tasks.stop_worker()
    phone, texts = MESSAGES["ar"]
    whatsapp.send(texts[0], phone=phone, wait=False)
    read_length = tasks.redis.llen

    def taken_while_looking(name):  # the dispatcher's first steps, just as drain looks at the list
        tasks._dispatching.set()
        tasks.redis.lpop(ARRIVALS, 100)
        return read_length(name)

    with monkeypatch.context() as looking:
        looking.setattr(tasks.redis, "llen", taken_while_looking)
        assert tasks._arriving()
    tasks._dispatching.clear()


def test_a_drain_that_times_out_says_what_waits_and_where_the_job_hangs(whatsapp, runtime, monkeypatch):
    """A job that hangs and one that never started look alike from outside; the suite's wait
    says which it was, by code location only (no message text, no number)."""
    import threading

    import runtime as composition

    release = threading.Event()

    def hanging_turn(service, contact_id):
        release.wait(10)

    monkeypatch.setattr(composition, "process_contact", hanging_turn)
    phone = "+31612000104"
    whatsapp.send("Hallo", phone=phone, wait=False)
    try:
        with pytest.raises(TimeoutError) as timed_out:
            runtime.tasks.drain(timeout_ms=1000)
    finally:
        release.set()
    report = str(timed_out.value)
    assert "inbound" in report and "hanging_turn" in report and "Hallo" not in report and phone[1:] not in report


def test_a_turn_that_hangs_past_its_time_limit_is_stopped_and_the_person_still_answered(whatsapp, runtime,
                                                                                       monkeypatch):
    """A job stuck on something that never answers would hold a worker thread forever: the time
    limit stops it, and the retry answers the person (on Redis too, where no limit was watched)."""
    import time

    import runtime as composition

    real_turn, attempts = composition.process_contact, []

    def first_attempt_hangs(service, contact_id):
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            while time.monotonic() - attempts[0] < 20:  # the limit's exception lands between two sleeps
                time.sleep(0.01)
        return real_turn(service, contact_id)

    monkeypatch.setattr(composition, "process_contact", first_attempt_hangs)
    monkeypatch.setitem(runtime.tasks.process_contact.actor.options, "time_limit", 300)
    phone = "+31612000105"
    whatsapp.send("Hallo", phone=phone)
    assert len(attempts) == 2 and attempts[1] - attempts[0] < 10
    assert whatsapp.replies(phone)


def test_making_another_service_in_a_process_starts_no_thread_that_outlives_it(app):
    """Each test makes a service; before, every one left dramatiq's time-limit watchers running,
    hundreds of threads per test process by the end of a suite."""
    import threading

    from webhook import create_app

    before = threading.active_count()
    for _ in range(3):
        other = create_app(embedded_worker=False)
        other.extensions["dda"].close()
    assert threading.active_count() <= before
