"""Processing off the request path: one message per person at a time, in order, exactly once."""
import time

from sqlalchemy import select

from store.models import Message

SCRIPT = ["hello", "2", "language", "6", "menu", "2", "1", "menu"]


def test_burst_of_messages_is_processed_in_arrival_order(whatsapp):
    answered = []
    for text in SCRIPT:  # one at a time, waiting for each turn
        answered.append(len(whatsapp.conversation(text, phone="+31600000001")))
    for text in SCRIPT:  # all at once, three worker threads racing
        whatsapp.send(text, phone="+31600000002", wait=False)
    whatsapp.wait()
    assert whatsapp.replies("+31600000002") == whatsapp.replies("+31600000001")
    # each turn answered in one message, but the last: written while a helper is on the way, it is for them
    assert answered == [1] * (len(SCRIPT) - 1) + [0]


def test_webhook_answers_before_processing(whatsapp, runtime):
    runtime.tasks.stop_worker()
    response = whatsapp.send("hello", wait=False)
    assert response.status_code == 200
    with runtime.session() as session:
        message = session.scalar(select(Message).where(Message.direction == "in"))
        assert message.processed_at is None
    runtime.tasks.start_worker(threads=2, sweep_every=3600)
    whatsapp.wait()
    assert whatsapp.replies()[0].startswith("Choose your language")


def test_failure_after_the_state_was_saved_is_retried_without_double_replies(whatsapp, runtime, monkeypatch):
    """The state is saved, then committing the replies fails: the retry must apply the
    message once, from the state before it."""
    import inbox.process as process

    whatsapp.send("hello")
    original, failures = process.queue_replies, []

    def fail_once(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise ConnectionError("database went away")
        return original(*args, **kwargs)

    monkeypatch.setattr(process, "queue_replies", fail_once)
    replies = whatsapp.conversation("2")
    assert failures == [1]
    assert replies[0].startswith("Thank you. I will write to you in English.")
    assert sum(reply.count("Welcome to") for reply in replies) == 1


def test_lost_queue_message_is_picked_up_by_the_sweeper(whatsapp, runtime, monkeypatch):
    """A broker restart can lose a queued job; the message is in the database and is processed."""
    monkeypatch.setattr(runtime.tasks.process_contact, "send", lambda *a, **k: None)
    whatsapp.send("hello")
    assert whatsapp.replies() == []
    monkeypatch.undo()
    runtime.settings.delivery.sweep_after_seconds = 1
    time.sleep(1.1)
    runtime.tasks.sweep()  # (on Redis the watch may have queued it already: a fresh Redis lost nothing yet)
    whatsapp.wait()
    assert whatsapp.replies()[0].startswith("Choose your language")


def test_the_answer_leaves_with_the_turn_without_a_trip_through_the_queue(whatsapp, runtime, monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(runtime.tasks.deliver, "send", queued.append)
    whatsapp.send("hello")
    assert whatsapp.replies()[0].startswith("Choose your language")
    assert queued == []


def test_when_sending_with_the_turn_fails_a_queued_job_sends_the_answer(whatsapp, runtime, monkeypatch):
    def fails(contact_id: int) -> None:
        raise ConnectionError("database went away")

    monkeypatch.setattr(runtime.tasks, "_deliver_here", fails)
    whatsapp.send("hello")
    assert whatsapp.replies()[0].startswith("Choose your language")
