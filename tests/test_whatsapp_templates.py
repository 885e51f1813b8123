"""`flask whatsapp sync` makes the approved templates config.yml names, in every served language,
through Twilio's Content API (the stand-in of tests/conftest.py), submits them for WhatsApp's
approval and records the answer; once approved the service uses them, so a helper facing a
closed 24-hour window gets "you have a message" in the person's language without anyone copying
a Content SID into config.yml."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from store.models import Contact, Ticket, WhatsAppTemplate, utcnow
from tests.test_helpdesk_web import sign_in


@pytest.fixture(autouse=True)
def _simulator_for_every_test(request):
    if "app" in request.fixturenames:
        request.getfixturevalue("simulator_on")


def sync(runner) -> dict:
    result = runner.invoke(args=["whatsapp", "sync", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["templates"]


def test_sync_makes_and_submits_every_template_in_every_language(runner, runtime, twilio):
    names, languages = sorted(runtime.settings.templates), runtime.settings.languages.all
    first = sync(runner)
    assert first["made"] == len(names) * len(languages) and first["unknown"] == [] and first["failed"] == []
    assert first["waiting"] == first["made"] and first["approved"] == 0
    submitted = {(twilio.contents[sid]["friendly_name"], approval["category"]) for sid, approval in
                 twilio.approvals.items()}
    assert ("dda_message_waiting_ar", "UTILITY") in submitted and len(submitted) == first["made"]
    contents = {c["friendly_name"]: c for c in twilio.contents.values()}
    waiting = contents["dda_message_waiting_ar"]["types"]["twilio/quick-reply"]
    expected = runtime.translator.text("You have a new message from {program}. Tap the button to read it.", "ar",
                                       **runtime.settings.placeholders())
    assert waiting["body"] == expected and waiting["actions"][0]["title"] == runtime.translator.text("Yes", "ar")
    invitation = contents["dda_invitation_nl"]
    assert "{{1}}" in invitation["types"]["twilio/text"]["body"] and invitation["variables"]["1"].startswith("https://")
    assert runtime.settings.templates["message_waiting"] == {}  # nothing is used before WhatsApp approves it

    twilio.decide("approved")
    twilio.decide("rejected", "INVALID_FORMAT", language="so")
    again = sync(runner)
    assert again["made"] == 0 and again["existing"] == first["made"]
    assert again["approved"] == first["made"] - len(names)
    assert {(r["language"], r["reason"]) for r in again["rejected"]} == {("so", "INVALID_FORMAT")}
    assert len(twilio.approvals) == first["made"]  # nothing made or submitted twice
    assert runtime.settings.templates["message_waiting"]["ar"] == next(
        sid for sid, c in twilio.contents.items() if c["friendly_name"] == "dda_message_waiting_ar")
    assert "so" not in runtime.settings.templates["message_waiting"]

    listed = json.loads(runner.invoke(args=["whatsapp", "templates", "--json"]).output)
    row = next(r for r in listed if (r["template"], r["language"]) == ("message_waiting", "so"))
    assert (row["status"], row["reason"]) == ("rejected", "INVALID_FORMAT")
    text = runner.invoke(args=["whatsapp", "sync"])
    assert "WhatsApp rejected it (INVALID_FORMAT)" in text.output and "approved" in text.output


def test_an_approved_template_reaches_the_console_and_a_new_process(runner, app, runtime, twilio, whatsapp, client):
    sync(runner)
    twilio.decide("approved")
    sync(runner)
    with runtime.session() as session:
        assert session.scalar(select(WhatsAppTemplate.status).where(WhatsAppTemplate.name == "message_waiting",
                                                                    WhatsAppTemplate.language == "ar")) == "approved"
    whatsapp.send("أحتاج مساعدة من فضلك، أريد التحدث مع شخص")
    whatsapp.send("إنسان")
    with runtime.session() as session:
        session.execute(Contact.__table__.update().values(last_inbound_at=utcnow().replace(year=2025)))
        session.commit()
        ticket_id = session.scalar(select(Ticket.id))
    sign_in(client, runtime)
    assert 'id="send-waiting"' in client.get(f"/helpdesk/tickets/{ticket_id}").text

    runtime.settings.templates["message_waiting"] = {"ar": "HX" + "c" * 32}  # config.yml names its own: it wins
    assert runtime.merge_approved_templates() > 0
    assert runtime.settings.templates["message_waiting"]["ar"] == "HX" + "c" * 32


def test_tapping_you_have_a_message_gets_the_menu_not_a_misunderstanding(runner, twilio, whatsapp):
    from tests.test_menus import chose_language, tap

    sync(runner)
    button = next(c for c in twilio.contents.values() if c["friendly_name"] == "dda_message_waiting_en")
    action = button["types"]["twilio/quick-reply"]["actions"][0]
    chose_language(whatsapp)
    replies = tap(whatsapp, action["id"], action["title"])
    assert replies and replies[0].startswith("What can I do for you?")
    assert not any("did not understand" in reply for reply in replies)
