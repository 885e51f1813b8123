"""Ready answers are data supervisors edit per language (handoff/ready_answers.yml and the page
/helpdesk/ready-answers); a ticket offers them in the person's language, English only where a
translation is missing, and then says so."""
from __future__ import annotations

import html
import shutil

import pytest
import yaml
from sqlalchemy import select

from handoff import ready_answers
from handoff.ready_answers import FILE, ReadyAnswerError, parse
from store.models import AuditEntry, Ticket
from tests.test_helpdesk_web import post, sign_in

PAGE = "/helpdesk/ready-answers/"


@pytest.fixture(autouse=True)
def _simulator_for_every_test(request):
    if "app" in request.fixturenames:
        request.getfixturevalue("simulator_on")


@pytest.fixture
def answers_file(tmp_path, monkeypatch):
    """A copy of the shipped file, so saving in a test leaves the repository's alone."""
    copy = tmp_path / "ready_answers.yml"
    shutil.copy(FILE, copy)
    monkeypatch.setattr(ready_answers.answers, "path", copy)
    monkeypatch.setattr(ready_answers.answers, "_seen", None)
    return copy


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


def test_a_ticket_offers_the_persons_language_and_flags_a_missing_translation(whatsapp, client, runtime,
                                                                               answers_file):
    data = yaml.safe_load(answers_file.read_text(encoding="utf-8"))
    del data["answers"][0]["text"]["nl"]  # the greeting has no Dutch yet
    answers_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
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


def test_supervisors_add_and_translate_answers_and_agents_may_not(app, client, runtime, answers_file):
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
    saved = parse(answers_file.read_text(encoding="utf-8"), runtime.settings.languages.all, "en")
    assert saved[-1].texts == {"ar": "نجيب في أيام الأسبوع", "en": "We answer on weekdays 9:00-17:00.",
                               "nl": "We antwoorden op werkdagen."}
    with runtime.session() as session:
        audited = session.execute(select(AuditEntry.action, AuditEntry.subject, AuditEntry.actor)
                                  .where(AuditEntry.subject.like("ready_answer:%")).order_by(AuditEntry.id)).all()
    assert [tuple(row) for row in audited] == [
        ("added ready answer", "ready_answer:opening_hours", "staff:supervisor@example.org"),
        ("changed ready answer", "ready_answer:opening_hours", "staff:supervisor@example.org")]


def test_a_refused_answer_keeps_what_was_typed(client, runtime, answers_file):
    sign_in(client, runtime, "supervisor")
    before = answers_file.read_text(encoding="utf-8")
    no_english = post(client, PAGE, {"new": "yes", "id": "bye", "text_nl": "Tot ziens"}, page=PAGE)
    assert no_english.status_code == 400
    assert "Not saved: bye: the en text is required" in no_english.text and "Tot ziens" in no_english.text
    taken = post(client, PAGE, {"new": "yes", "id": "greeting", "text_en": "Hi"}, page=PAGE)
    assert taken.status_code == 400 and "already an answer with this id" in taken.text
    assert answers_file.read_text(encoding="utf-8") == before
