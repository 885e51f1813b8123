"""Ready answers are data supervisors edit per language (the page /helpdesk/ready-answers, starting
from handoff/ready_answers.yml); every web server offers what was saved on any of them, and a ticket
offers them in the person's language, English only where a translation is missing, and then says so."""
from __future__ import annotations

import html

import pytest
from sqlalchemy import func, select

from handoff.ready_answers import FILE, KIND, ReadyAnswer, ReadyAnswerError, ReadyAnswers, parse
from store.models import AuditEntry, ContentRelease, Ticket
from tests.test_helpdesk_web import post, sign_in

PAGE = "/helpdesk/ready-answers/"


@pytest.fixture(autouse=True)
def _simulator_for_every_test(request):
    if "app" in request.fixturenames:
        request.getfixturevalue("simulator_on")


def another_server(runtime) -> ReadyAnswers:
    """What a second web server, started apart from this one, offers."""
    return ReadyAnswers(runtime.session, runtime.settings.languages.all, runtime.settings.languages.source,
                        lambda: 0)


def releases_of_answers(runtime) -> int:
    with runtime.session() as session:
        return session.scalar(select(func.count()).select_from(ContentRelease).where(ContentRelease.kind == KIND))


def test_the_shipped_answers_are_valid_and_in_every_language(runtime):
    languages, source = runtime.settings.languages.all, runtime.settings.languages.source
    shipped = parse(FILE.read_text(encoding="utf-8"), languages, source)
    assert len(shipped) >= 5
    assert all(set(answer.texts) == set(languages) for answer in shipped)
    assert all(answer.texts["nl"] != answer.texts["en"] for answer in shipped)


@pytest.mark.parametrize("raw, problem", [
    ("answers: [{id: Hello, text: {en: hi}}]", "an id is 2-40 lower-case"),
    ("answers: [{id: hello, text: {nl: hoi}}]", "the en text is required"),
    ("answers: [{id: hello, text: {en: hi, xx: hi}}]", "'xx' is not a language the service speaks"),
    ("answers: [{id: hello, text: {en: hi}}, {id: hello, text: {en: ho}}]", "already an answer with this id"),
    ("answers: {hello: hi}", "needs a list 'answers'"),
    ("answers: [\tx", "not valid YAML"),
])
def test_a_broken_file_is_refused_with_the_reason(raw, problem):
    with pytest.raises(ReadyAnswerError, match=problem):
        parse(raw, ["en", "nl"], "en")


def test_a_ticket_offers_the_persons_language_and_flags_a_missing_translation(whatsapp, client, runtime):
    greeting = runtime.ready_answers.all()[0]
    with runtime.session() as session:  # the greeting has no Dutch yet
        runtime.ready_answers.put(session, ReadyAnswer(greeting.id, {k: v for k, v in greeting.texts.items()
                                                                     if k != "nl"}), "test", new=False)
        session.commit()
    runtime.ready_answers.forget()
    whatsapp.send("hello")
    whatsapp.send("6")  # Nederlands
    whatsapp.send("mens")
    sign_in(client, runtime, "supervisor")
    with runtime.session() as session:
        ticket_id = session.scalar(select(Ticket.id))
    page = html.unescape(client.get(f"/helpdesk/tickets/{ticket_id}").text)
    ready = page.split('id="ready-answers"')[1].split("</fieldset>")[0]
    assert "Ready answers in nl" in ready
    assert "1 of 5 not translated into nl yet" in ready and 'href="/helpdesk/ready-answers/"' in ready
    assert '<span class="badge">EN</span> Hello, I am from the team.' in ready  # the fallback, marked
    assert "Dank je. Ik zoek het voor je uit, wacht even." in ready  # translations used where they exist
    assert "Thank you. I am checking this" not in ready.split("title=")[0]


def test_supervisors_add_and_translate_answers_and_agents_may_not(app, client, runtime):
    agent = app.test_client()
    sign_in(agent, runtime, "agent")
    assert agent.get(PAGE).status_code == 403
    sign_in(client, runtime, "supervisor")
    page = client.get(PAGE).text
    assert "Every answer is in all 15 languages." in page

    added = post(client, PAGE, {"new": "yes", "id": "opening_hours", "text_en": "We answer on weekdays 9:00-17:00.",
                                "text_ar": "نجيب في أيام الأسبوع"}, page=PAGE)
    assert added.status_code == 302
    page = html.unescape(client.get(PAGE).text)
    assert "Ready answer opening_hours saved (2 of 15 languages)." in page
    assert "13 translations missing across 6 answers." in page
    row = page.split('data-answer="opening_hours"')[1].split("</tr>")[0]
    assert '<span class="warning">es, fr, id, nl, pt, tl, uk, fa, ti, so, tr, ru, am</span>' in row  # not ar, en

    translated = post(client, PAGE, {"id": "opening_hours", "text_en": "We answer on weekdays 9:00-17:00.",
                                     "text_ar": "نجيب في أيام الأسبوع", "text_nl": "We antwoorden op werkdagen."},
                      page=PAGE)
    assert translated.status_code == 302
    saved = another_server(runtime).all()  # saved on this server, offered by every other
    assert saved[-1].texts == {"ar": "نجيب في أيام الأسبوع", "en": "We answer on weekdays 9:00-17:00.",
                               "nl": "We antwoorden op werkdagen."}
    with runtime.session() as session:
        audited = session.execute(select(AuditEntry.action, AuditEntry.subject, AuditEntry.actor)
                                  .where(AuditEntry.subject.like("ready_answer:%")).order_by(AuditEntry.id)).all()
    assert [tuple(row) for row in audited] == [
        ("added ready answer", "ready_answer:opening_hours", "staff:supervisor@example.org"),
        ("changed ready answer", "ready_answer:opening_hours", "staff:supervisor@example.org")]


def test_a_refused_answer_keeps_what_was_typed(client, runtime):
    sign_in(client, runtime, "supervisor")
    before = runtime.ready_answers.all()
    no_english = post(client, PAGE, {"new": "yes", "id": "bye", "text_nl": "Tot ziens"}, page=PAGE)
    assert no_english.status_code == 400
    assert "Not saved: bye: the en text is required" in no_english.text and "Tot ziens" in no_english.text
    taken = post(client, PAGE, {"new": "yes", "id": "greeting", "text_en": "Hi"}, page=PAGE)
    assert taken.status_code == 400 and "already an answer with this id" in taken.text
    assert another_server(runtime).all() == before and releases_of_answers(runtime) == 0


def test_a_save_keeps_what_another_server_saved_a_moment_before(client, runtime):
    """Two supervisors on two web servers: the second builds on the first's save, which its own
    server may not have looked for yet, and the two saves at once are two releases in order."""
    sign_in(client, runtime, "supervisor")
    runtime.ready_answers.all()  # this server has looked, and will not look again for a while
    other = another_server(runtime)
    with runtime.session() as session:
        other.put(session, ReadyAnswer("opening_hours", {"en": "We answer on weekdays."}), "staff:other", new=True)
        session.commit()
    added = post(client, PAGE, {"new": "yes", "id": "bring_papers", "text_en": "Bring any papers you have.",
                                "text_fa": "هر مدرکی دارید بیاورید."}, page=PAGE)
    assert added.status_code == 302
    assert [a.id for a in other.all()][-2:] == ["opening_hours", "bring_papers"]
    assert releases_of_answers(runtime) == 2
