"""Human takeover in the same conversation: escalation, what the person is told, the helper's
answers, notes and closing, and the bot stepping back and returning."""
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from handoff import console
from store.models import Contact, StaffUser, Ticket, utcnow

PHONE = "+31612345678"
MONDAY_NOON = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)    # 12:00 in Amsterdam
SUNDAY_NIGHT = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)


@pytest.fixture
def agent(runtime):
    with runtime.session() as session:
        user = StaffUser(email="agent@example.org", password_hash="x", role="agent")
        session.add(user)
        session.commit()
        return user


def ticket_of(session) -> Ticket:
    return session.scalar(select(Ticket).order_by(Ticket.id.desc()))


def english(whatsapp, phone=PHONE):
    whatsapp.send("hello", phone=phone)
    whatsapp.send("2", phone=phone)


def test_person_is_told_the_wait_while_helpers_work(whatsapp, monkeypatch):
    monkeypatch.setattr("handoff.actions.utcnow", lambda: MONDAY_NOON)
    english(whatsapp)
    assert "usually within 30 minutes" in whatsapp.conversation("human")[-1]


@pytest.mark.parametrize("choice, hours", [
    ("2", "Monday–Friday 9:00 AM – 5:00 PM"),
    ("6", "maandag–vrijdag 09:00–17:00"),
    ("1", "الاثنين–الجمعة 9:00 ص – 5:00 م"),
    ("10", "دوشنبه–جمعه ۹:۰۰ تا ۱۷:۰۰"),
    ("14", "понедельник–пятница 09:00–17:00"),
    ("11", "ሰኑይ–ዓርቢ 9:00 ቅ.ቀ. – 5:00 ድ.ቀ."),
])
def test_person_is_told_the_hours_when_nobody_works_in_their_own_language(whatsapp, monkeypatch, choice, hours):
    """Day names and times as the person's language writes them, never 'Mon 09:00-17:00' in English."""
    monkeypatch.setattr("handoff.actions.utcnow", lambda: SUNDAY_NIGHT)
    whatsapp.send("hello")
    whatsapp.send(choice)
    replies = whatsapp.conversation("2")  # the main menu's "talk to a person"
    reply = replies[-1].replace("\u2009", " ").replace("\u202f", " ")
    assert hours in reply and "Mon 09" not in reply and "09:00-17:00" not in reply


@pytest.mark.parametrize("message", ["my husband said he hits me every day", "I want to kill myself",
                                     "hij slaat me, geweld thuis", "أتعرض إلى عنف في البيت"])
def test_urgent_words_anywhere_raise_the_priority_even_mid_flow(whatsapp, runtime, message):
    english(whatsapp)
    whatsapp.send("register")  # inside a flow
    replies = whatsapp.conversation(message)
    assert any("call 112" in reply for reply in replies)
    with runtime.session() as session:
        ticket = ticket_of(session)
        assert (ticket.reason, ticket.priority, ticket.status) == ("urgent", 2, "open")


def test_queue_is_sorted_by_priority_then_waiting_time(whatsapp, runner):
    english(whatsapp, "+31600000001")
    whatsapp.send("human", phone="+31600000001")
    english(whatsapp, "+31600000002")
    whatsapp.send("I want to kill myself", phone="+31600000002")
    rows = json.loads(runner.invoke(args=["helpdesk", "queue", "--json"]).output)
    assert [(r["reason"], r["priority"]) for r in rows] == [("urgent", 2), ("asked", 0)]


def test_helper_answers_in_the_same_chat_and_the_bot_stays_silent(whatsapp, runtime, agent):
    english(whatsapp)
    whatsapp.send("human")
    told = whatsapp.conversation("I have no food for my children")  # to the ticket, not to a flow
    assert len(told) == 1 and told[0].startswith("Your message has reached our team")
    with runtime.session() as session:
        ticket = ticket_of(session)
        console.reply(session, runtime, ticket, session.get(StaffUser, agent.id), "Hello Amina, I can help.")
        session.commit()
        contact_id = ticket.contact_id
        assert ticket.assigned_to_id == agent.id  # answering claims it
    runtime.tasks.deliver.send(contact_id)
    whatsapp.wait()
    assert whatsapp.replies()[-1] == "Hello Amina, I can help."
    assert whatsapp.conversation("Thank you, where do I go?") == []  # the helper is talking: the bot adds nothing


def test_closing_hands_back_to_the_bot_with_a_short_message(whatsapp, runtime, agent):
    english(whatsapp)
    whatsapp.send("human")
    with runtime.session() as session:
        ticket = ticket_of(session)
        console.note(session, ticket, session.get(StaffUser, agent.id), "referred to the food bank")
        console.close(session, runtime, ticket, session.get(StaffUser, agent.id), "resolved")
        session.commit()
        contact_id = ticket.contact_id
        assert (ticket.status, ticket.outcome) == ("closed", "resolved")
    runtime.tasks.deliver.send(contact_id)
    whatsapp.wait()
    assert whatsapp.replies()[-1].startswith("Our helper has finished this conversation")
    assert whatsapp.conversation("menu")[-1].startswith("What can I do for you?")


def test_free_text_outside_the_window_is_refused(whatsapp, runtime, agent):
    english(whatsapp)
    whatsapp.send("human")
    with runtime.session() as session:
        session.execute(Contact.__table__.update().values(last_inbound_at=utcnow() - timedelta(days=2)))
        session.commit()
        with pytest.raises(console.ConsoleError, match="24-hour window is closed"):
            console.reply(session, runtime, ticket_of(session), session.get(StaffUser, agent.id), "hi")


def test_close_needs_a_known_outcome(whatsapp, runtime, agent):
    english(whatsapp)
    whatsapp.send("human")
    with runtime.session() as session, pytest.raises(console.ConsoleError, match="outcome must be one of"):
        console.close(session, runtime, ticket_of(session), session.get(StaffUser, agent.id), "whatever")
