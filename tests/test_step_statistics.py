"""Editors' statistics (issue 21, point 6): per flow step how often people reached it, where the bot
did not understand them and where the chat went to a person, per language; counts only."""
from __future__ import annotations

from sqlalchemy import select, update

from bot.engine import Profile, State, Turn
from inbox.step_counts import events_of
from store.models import Contact, StepCount
from tests.test_staff import signed_in

PHONE = "+31612340066"


def test_a_turn_counts_the_step_answered_the_steps_reached_and_a_handover():
    before = State(flow="main", step="menu")
    turn = Turn(state=State(), profile=Profile(language="fr"), visited=[("human", "ask"), ("human", "ask")],
                handoff="asked")
    assert events_of(before, turn) == [("main", "menu", "answered"), ("human", "ask", "reached"),
                                       ("human", "ask", "handoff")]
    confused = Turn(state=State(), profile=Profile(language="fr"), misunderstood=True, handoff="fallback")
    assert events_of(before, confused) == [("main", "menu", "answered"), ("main", "menu", "not_understood"),
                                           ("main", "menu", "handoff")]


def test_the_page_shows_where_people_are_not_understood_per_language(client, runner, whatsapp, runtime):
    whatsapp.send("hello", phone=PHONE)
    with runtime.session() as session:
        session.execute(update(Contact).values(language="fr"))
        session.commit()
    whatsapp.conversation("menu", "blorp fizzle", "wibble wobble", phone=PHONE)
    with runtime.session() as session:
        counts = {(c.flow, c.step, c.language, c.event): c.count for c in session.scalars(select(StepCount))}
        columns = set(StepCount.__table__.columns.keys())
    assert counts[("main", "menu", "fr", "reached")] == 1  # asked again after a misunderstanding: not reached anew
    assert counts[("main", "menu", "fr", "answered")] == 1
    # Words the bot knows none of get "I did not understand" and the menu again; twice, a person.
    assert counts[("main", "menu", "fr", "not_understood")] == 2
    assert counts[("main", "menu", "fr", "handoff")] == 1
    assert columns == {"id", "day", "flow", "step", "language", "event", "count"}  # nothing about a person

    signed_in(client, runner, role="editor")
    page = client.get("/staff/statistics/").text
    assert 'id="chart-steps"' in page and 'id="step-main-menu"' in page and 'class="needs-a-look"' in page
    assert 'id="language-fr"' in page and PHONE[-3:] not in page.replace("2026", "")
    french_only = client.get("/staff/statistics/?language=fr&period=7").text
    assert 'id="step-main-menu"' in french_only
    dutch_only = client.get("/staff/statistics/?language=nl&period=all").text
    assert 'id="step-main-menu"' not in dutch_only


def test_statistics_need_a_viewer_role(client, runner):
    assert client.get("/staff/statistics/").status_code == 302
    signed_in(client, runner, role="agent")
    assert client.get("/staff/statistics/").status_code == 403
    assert client.get("/staff/statistics/?period=nonsense&language=xx").status_code == 403


def test_a_question_asked_again_is_not_counted_as_answered():
    """Reached once, not understood twice, then left: 'stopped here' (reached minus answered) stays 0, never below."""
    before = State(flow="register", step="name")
    asked_again = Turn(state=State(flow="register", step="name"), profile=Profile(language="ar"), misunderstood=True)
    assert events_of(before, asked_again) == [("register", "name", "not_understood")]
