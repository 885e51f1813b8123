"""Registering a person at the weekly desk: `flask registrations add` and the desk page.

What the volunteer and the person notice: the person gets the welcome on WhatsApp in their own
language (the approved template outside the 24-hour window), or is marked "no WhatsApp" and gets
nothing; a number already registered is refused with a clear message; an imported invitation is
continued, not doubled; consent and who took it are recorded in the history and the audit log.
"""
from __future__ import annotations

import json
import re

from markupsafe import escape
from sqlalchemy import func, select

from registration.imports import import_contacts
from store.models import AuditEntry, Contact, Message, Partner, Registration
from tests.test_staff import create_user, csrf, signed_in

TEMPLATE = "HX" + "d" * 32
PHONE = "+31612340001"


def add(runner, *extra, phone=PHONE, name="Amina", language="ti", consent_by="desk@example.org"):
    args = ["registrations", "add", "--phone", phone, "--name", name, "--language", language,
            "--consent-by", consent_by, *extra]
    return runner.invoke(args=args)


def registrations(runtime) -> list[Registration]:
    with runtime.session() as session:
        found = list(session.scalars(select(Registration).order_by(Registration.id)))
        for registration in found:
            _ = registration.contact.phone, registration.partner, [e.to_status for e in registration.events]
        return found


def test_the_desk_registers_a_person_who_gets_the_welcome_template_in_their_language(runner, runtime, twilio):
    create_user(runner, "desk@example.org", "agent")
    runtime.settings.templates["desk_welcome"] = {"ti": TEMPLATE}
    result = add(runner, "--partner", "Church Help", phone="06 1234 0001")  # a local way of writing it
    assert result.exit_code == 0, result.output
    assert "registered; welcome sent as template" in result.output
    runtime.tasks.drain()
    [registration] = registrations(runtime)
    assert registration.contact.phone == PHONE and registration.contact.language == "ti"
    assert registration.status == "registered" and registration.name == "Amina"
    assert registration.consent_at is not None and registration.consent_by == "desk@example.org"
    assert registration.partner_named == "Church Help" and not registration.no_whatsapp
    assert [e.to_status for e in registration.events] == ["registering", "registered"]
    [message] = twilio.sent(PHONE)
    assert message["ContentSid"] == TEMPLATE
    with runtime.session() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "registered at the desk"))
        assert entry.actor == "cli" and entry.subject == f"registration:{registration.id}"
        assert "consent taken by staff:desk@example.org" in entry.detail and PHONE not in entry.detail


def test_without_an_approved_template_the_welcome_waits_and_the_desk_is_told(runner, runtime, twilio):
    create_user(runner, "desk@example.org", "agent")
    result = add(runner, language="ar")
    assert result.exit_code == 0, result.output
    assert "welcome not sent: no approved desk_welcome template for ar" in result.output
    assert twilio.sent(PHONE) == []


def test_the_welcome_is_free_text_in_their_language_while_the_window_is_open(runner, runtime, whatsapp):
    create_user(runner, "desk@example.org", "agent")
    whatsapp.send("ሰላም", phone=PHONE)  # wrote to us a moment ago, at the desk
    before = len(whatsapp.replies(PHONE))
    result = add(runner, language="ti")
    assert result.exit_code == 0, result.output
    whatsapp.wait()
    welcome = whatsapp.replies(PHONE)[before:]
    assert len(welcome) == 1 and "Direct Digital Aid" in welcome[0]
    assert re.search(r"[\u1200-\u137F]", welcome[0]), welcome  # Tigrinya, not English
    assert "registered at our help desk" not in welcome[0]


def test_no_whatsapp_marks_the_registration_and_sends_nothing(runner, runtime, twilio):
    create_user(runner, "desk@example.org", "supervisor")
    runtime.settings.templates["desk_welcome"] = {"ti": TEMPLATE}
    result = add(runner, "--no-whatsapp")
    assert result.exit_code == 0, result.output
    assert "no WhatsApp, served on paper" in result.output
    [registration] = registrations(runtime)
    assert registration.no_whatsapp and registration.status == "registered"
    assert twilio.sent(PHONE) == []
    [listed] = json.loads(runner.invoke(args=["registrations", "list", "--json"]).output)
    assert listed["no_whatsapp"] is True and listed["consent_by"] == "desk@example.org"
    # a status change later tells the person nothing: they have no WhatsApp
    runtime.settings.templates["status_verified"] = {"ti": TEMPLATE}
    result = runner.invoke(args=["registrations", "set-status", "--phone", PHONE, "--status", "verified",
                                 "--reason", "checked"])
    assert result.exit_code == 0, result.output
    runtime.tasks.drain()
    assert twilio.sent(PHONE) == []


def test_a_number_already_registered_is_refused_clearly_and_nothing_changes(runner, runtime, twilio):
    create_user(runner, "desk@example.org", "agent")
    assert add(runner).exit_code == 0
    again = add(runner, "--no-whatsapp", phone="+31 6 1234 0001", name="Someone Else")
    assert again.exit_code != 0
    assert "already registered" in again.output and "Nothing was changed" in again.output
    [registration] = registrations(runtime)
    assert registration.name == "Amina" and not registration.no_whatsapp
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 1


def test_an_imported_invitation_is_continued_not_doubled(runner, runtime):
    create_user(runner, "desk@example.org", "agent")
    settings = runtime.settings
    with runtime.session() as session:
        import_contacts(session, f"phone,language\n{PHONE},en\n", partner_name="Partner A",
                        secret=settings.secrets.encryption_key, region="NL", languages=settings.languages.all,
                        actor="test")
        session.commit()
    result = add(runner, "--partner", "Partner A", language="so")
    assert result.exit_code == 0, result.output
    assert "(continued from imported)" in result.output
    [registration] = registrations(runtime)
    assert [e.to_status for e in registration.events] == ["imported", "registering", "registered"]
    assert registration.contact.language == "so" and registration.partner.name == "Partner A"


def test_bad_input_gets_a_clear_answer(runner, runtime):
    create_user(runner, "desk@example.org", "agent")
    create_user(runner, "partner@example.org", "partner", partner="Partner A")
    cases = [
        (dict(phone="12"), "is not a valid phone number"),
        (dict(name="A"), "Write the person's name"),
        (dict(language="xx"), "Unknown language 'xx'"),
        (dict(consent_by="nobody@example.org"), "No active staff account"),
        (dict(consent_by="partner@example.org"), "A partner account cannot register people at the desk"),
    ]
    for arguments, message in cases:
        result = add(runner, **arguments)
        assert result.exit_code == 1 and message in result.output, (arguments, result.output)
    assert registrations(runtime) == []


# --- the desk page ------------------------------------------------------------------------------

def desk_post(client, path, data):
    return client.post(path, data={"csrf_token": csrf(client, "/staff/desk/"), **data})


def registration_form(**extra):
    return {"language": "ti", "phone": "+31 6 1234 0001", "name": "Amina", "partner": "", "whatsapp": "yes",
            "consent": "yes", **extra}


def test_the_desk_page_shows_the_privacy_text_in_the_persons_language(client, runner, runtime):
    signed_in(client, runner, "agent")
    page = client.get("/staff/desk/?language=ti").text
    privacy = runtime.bot.flows.flows["register"].steps["privacy"].get("say")
    tigrinya = runtime.translator.text(privacy, "ti", **runtime.settings.placeholders())
    assert tigrinya != privacy and escape(tigrinya) in page
    assert 'id="privacy-text" lang="ti" dir="ltr"' in page
    assert 'lang="ar" dir="rtl"' in client.get("/staff/desk/?language=ar").text
    assert 'id="privacy-text"' not in client.get("/staff/desk/?language=xx").text  # unknown: choose again


def test_registering_on_the_desk_page_needs_consent_and_records_who_took_it(client, runner, runtime, twilio):
    email = signed_in(client, runner, "agent")
    runtime.settings.templates["desk_welcome"] = {"ti": TEMPLATE}
    refused = desk_post(client, "/staff/desk/register", registration_form(consent=""))
    assert refused.status_code == 400 and "without their consent nobody is registered" in refused.text
    assert registrations(runtime) == []

    response = desk_post(client, "/staff/desk/register", registration_form())
    assert response.status_code == 302
    runtime.tasks.drain()
    [registration] = registrations(runtime)
    assert response.headers["Location"].endswith(f"/staff/desk/{registration.id}")
    assert registration.consent_by == email and registration.status == "registered"
    assert {e.actor for e in registration.events} == {f"staff:{email}"}
    assert [m["ContentSid"] for m in twilio.sent(PHONE)] == [TEMPLATE]
    page = client.get(response.headers["Location"]).text
    assert "Welcome message: sent as template" in page and f"taken by {email}" in page

    again = desk_post(client, "/staff/desk/register", registration_form(name="Other", whatsapp="no"))
    assert again.status_code == 409 and "already registered" in again.text
    assert f'href="/staff/desk/{registration.id}"' in again.text
    assert PHONE not in client.get(f"/staff/desk/{registration.id}").text  # an agent sees the number masked


def test_the_desk_finds_a_person_by_number_and_refuses_bad_input(client, runner, runtime):
    signed_in(client, runner, "agent")
    assert desk_post(client, "/staff/desk/register", registration_form(whatsapp="no")).status_code == 302
    [registration] = registrations(runtime)
    found = desk_post(client, "/staff/desk/find", {"phone": "0612340001"})
    assert found.headers["Location"].endswith(f"/staff/desk/{registration.id}")
    assert "Nobody is registered" in desk_post(client, "/staff/desk/find", {"phone": "+31612349999"}).text
    assert "is not a valid phone number" in desk_post(client, "/staff/desk/find", {"phone": "hello"}).text
    bad = desk_post(client, "/staff/desk/register", registration_form(phone="+3161234000", name="A"))
    assert bad.status_code == 400 and "not a valid phone number" in bad.text
    page = client.get(f"/staff/desk/{registration.id}").text
    assert "no: served on paper" in page and 'id="resend"' not in page
    client.post("/staff/logout", data={"csrf_token": csrf(client, "/staff/desk/")})
    signed_in(client, runner, "supervisor")
    detail = client.get(f"/staff/registrations/{registration.id}").text
    assert "no: served on paper (registered at the desk)" in detail and "taken by agent@example.org" in detail


def test_partners_have_no_desk(client, runner):
    signed_in(client, runner, "partner", partner="Partner A")
    assert client.get("/staff/desk/").status_code == 403


def test_the_same_name_at_the_same_partner_is_flagged_as_a_possible_duplicate(client, runner, runtime):
    signed_in(client, runner, "agent")
    with runtime.session() as session:
        session.add(Partner(name="Church Help"))
        session.commit()
    for phone in ("+31612340001", "+31612340002"):
        response = desk_post(client, "/staff/desk/register", registration_form(phone=phone, partner="Church Help",
                                                                               name="Amina  Yusuf"))
        assert response.status_code == 302
    first, second = registrations(runtime)
    assert first.partner.name == second.partner.name == "Church Help"
    page = client.get(f"/staff/desk/{second.id}").text
    assert f"registration #{first.id} has the same name at the same partner" in page


def test_someone_half_way_through_the_chat_registration_is_registered_at_the_desk(runner, runtime, whatsapp):
    create_user(runner, "desk@example.org", "agent")
    whatsapp.conversation("hello", "2", "register", "1", phone=PHONE)  # consented in the chat; asked their name
    result = add(runner, language="en")
    assert result.exit_code == 0 and "(continued from registering)" in result.output, result.output
    # They go on answering the chat's questions (name, number, organisation, "yes, register me").
    for answer in ("Amina", "1", "Stichting Hulp", "1"):
        assert whatsapp.conversation(answer, phone=PHONE), answer  # every message answered
    with runtime.session() as session:
        failed = session.scalar(select(func.count()).select_from(Message).where(Message.failures > 0))
    assert failed == 0  # no message of theirs broke on the registration already done
    [registration] = registrations(runtime)
    assert registration.status == "registered"
    assert [e.to_status for e in registration.events] == ["registering", "registered"]
