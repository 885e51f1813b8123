"""Registration end to end: partner import, invitation, the conversation in several languages,
staff status changes, reminders and every refusal."""
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from store import conversations
from store.models import Contact, Invitation, Registration, utcnow

NL_PHONE, AR_PHONE, FR_PHONE = "+31612000001", "+31612000002", "+31612000003"


def registration_of(runtime, phone) -> Registration | None:
    from store.identifiers import find_contact_id

    with runtime.session() as session:
        contact_id = find_contact_id(session.connection(), phone)
        contact = None if contact_id is None else session.get(Contact, contact_id)
        if contact is None:
            return None
        registration = session.scalar(select(Registration).where(Registration.contact_id == contact.id))
        if registration is not None:
            _ = registration.events, registration.contact  # load before the session closes
        return registration


def run(runner, runtime, *args):
    """Invoke a command, then wait for what it queued to be delivered (by this test's worker)."""
    result = runner.invoke(args=list(args))
    runtime.tasks.drain()
    return result


def write_csv(tmp_path, rows: list[str], name="partner.csv"):
    path = tmp_path / name
    path.write_text("phone,language,partner reference\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_import_reports_bad_rows_with_line_and_reason_and_is_idempotent(runner, runtime, tmp_path):
    path = write_csv(tmp_path, [
        "06 1200 0001,nl,REF-1",          # line 2: Dutch mobile without country code
        "+32 470 12 34 56,fr,REF-2",      # line 3: Belgian number
        "12345,nl,REF-3",                 # line 4: not a number
        "+31612000004,xx,REF-4",          # line 5: unknown language
        "+31 6 12000001,,REF-5",          # line 6: the same number as line 2
        "+31612000006,,",                 # line 7: no language, no reference
    ])
    result = runner.invoke(args=["contacts", "import", str(path), "--partner", "Vluchtelingenwerk"])
    assert result.exit_code == 0, result.output
    assert "accepted 3, already on this partner's list 0, rejected 3" in result.output
    assert "partner.csv:4: not a valid phone number" in result.output
    assert "partner.csv:5: unknown language 'xx'" in result.output
    assert "partner.csv:6: the same number as line 2" in result.output
    again = runner.invoke(args=["contacts", "import", str(path), "--partner", "Vluchtelingenwerk", "--json"])
    report = json.loads(again.output[again.output.index("{"):])
    assert (report["accepted"], report["already_yours"]) == (0, 3)
    listed = json.loads(runner.invoke(args=["registrations", "list", "--status", "imported", "--json"]).output)
    assert sorted(r["phone"] for r in listed) == ["+31612000001", "+31612000006", "+32470123456"]
    assert {r["partner"] for r in listed} == {"Vluchtelingenwerk"}


def test_import_refuses_a_file_without_phone_column(runner, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("name,age\nAmina,30\n")
    result = runner.invoke(args=["contacts", "import", str(path), "--partner", "X"])
    assert result.exit_code != 0
    assert "no phone column" in result.output


def test_invitation_carries_a_join_link_and_is_not_repeated(runner, runtime, twilio, tmp_path):
    runner.invoke(args=["contacts", "import", str(write_csv(tmp_path, [f"{NL_PHONE},nl,A1"])), "--partner", "P"])
    runtime.settings.templates = {"invitation": {"nl": "HX" + "1" * 32}}
    result = run(runner, runtime, "contacts", "invite")
    assert "invited: 1" in result.output
    sent = twilio.sent(NL_PHONE)
    assert len(sent) == 1 and sent[0]["ContentSid"] == "HX" + "1" * 32
    link = json.loads(sent[0]["ContentVariables"])["1"]
    code = registration_of(runtime, NL_PHONE).join_code
    assert link == f"https://wa.me/14155238886?text=JOIN%20{code}"
    assert "invited: 1" not in run(runner, runtime, "contacts", "invite").output
    assert len(twilio.sent(NL_PHONE)) == 1
    with runtime.session() as session:
        assert len(session.scalars(select(Invitation)).all()) == 1


def test_invitation_without_an_approved_template_is_not_sent(runner, runtime, twilio, tmp_path):
    runner.invoke(args=["contacts", "import", str(write_csv(tmp_path, [f"{NL_PHONE},nl,A1"])), "--partner", "P"])
    result = run(runner, runtime, "contacts", "invite")
    assert "skipped: no approved invitation template for nl: 1" in result.output
    assert twilio.sent(NL_PHONE) == []
    assert registration_of(runtime, NL_PHONE).status == "imported"


def test_invited_person_registers_in_dutch_from_the_link(runner, runtime, whatsapp, tmp_path):
    runner.invoke(args=["contacts", "import", str(write_csv(tmp_path, [f"{NL_PHONE},nl,A1"])),
                        "--partner", "Vluchtelingenwerk"])
    code = registration_of(runtime, NL_PHONE).join_code
    replies = whatsapp.conversation(f"JOIN {code}", phone=NL_PHONE)
    assert any("mensen zonder papieren elke week een boodschappenbon" in r for r in replies)  # in Dutch
    assert "[Ja, ik ga akkoord] [Nee]" in replies[-1]  # the consent question, with buttons
    whatsapp.send("1", phone=NL_PHONE)   # yes, I agree
    whatsapp.send("Amina", phone=NL_PHONE)
    summary = whatsapp.conversation("1", phone=NL_PHONE)[-1]  # this number: yes
    assert "Amina" in summary and "Vluchtelingenwerk" in summary
    done = whatsapp.conversation("1", phone=NL_PHONE)
    assert "Amina" in done[0]
    registration = registration_of(runtime, NL_PHONE)
    assert (registration.status, registration.name, registration.number_confirmed) == ("registered", "Amina", True)
    assert [e.to_status for e in registration.events] == ["imported", "registering", "registered"]
    assert registration.consent_at is not None


def test_arabic_first_message_registers_right_to_left(whatsapp, runtime):
    replies = whatsapp.conversation("مرحبا، أريد التسجيل في البرنامج من فضلك", phone=AR_PHONE)
    assert any("العربية" in r for r in replies)
    assert "\u2068Direct Digital Aid\u2069" in " ".join(replies)
    whatsapp.send("1", phone=AR_PHONE)            # consent
    whatsapp.send("فاطمة", phone=AR_PHONE)        # name
    whatsapp.send("1", phone=AR_PHONE)            # this number
    summary = whatsapp.conversation("الصليب الأحمر", phone=AR_PHONE)[-1]
    assert "\u2068فاطمة\u2069" in summary
    whatsapp.send("1", phone=AR_PHONE)
    registration = registration_of(runtime, AR_PHONE)
    assert (registration.status, registration.name, registration.partner_named) == \
        ("registered", "فاطمة", "الصليب الأحمر")
    assert registration.contact.language == "ar"


def test_leaving_half_way_and_coming_back_days_later_continues(whatsapp, runtime):
    whatsapp.send("Bonjour, je voudrais m'inscrire au programme", phone=FR_PHONE)
    whatsapp.send("1", phone=FR_PHONE)          # consent
    whatsapp.send("Jean-Pierre", phone=FR_PHONE)
    contact_id = registration_of(runtime, FR_PHONE).contact_id
    with runtime.session() as session:            # days later: the conversation itself has expired
        conversations.forget(session, contact_id)
        session.commit()
    replies = whatsapp.conversation("inscription", phone=FR_PHONE)
    assert "[Oui] [Un autre numéro]" in replies[-1] and "Jean-Pierre" not in replies[-1]  # the number, not the name
    whatsapp.send("1", phone=FR_PHONE)
    assert "Jean-Pierre" in whatsapp.conversation("Médecins du Monde", phone=FR_PHONE)[-1]


def test_no_consent_keeps_nothing_but_information_help_and_a_person_stay(whatsapp, runtime):
    whatsapp.send("hello")
    whatsapp.send("2")
    whatsapp.send("register")
    (reply,) = whatsapp.conversation("2")
    assert reply.index("we keep nothing about you") < reply.index("What can I do for you?")
    assert registration_of(runtime, "+31612345678") is None
    with runtime.session() as session:
        contact = session.scalar(select(Contact))
        assert not contact.opted_out
        assert all(m.body is None for m in contact.messages if m.direction == "in")
    assert "person from our team" in whatsapp.conversation("I want to talk to a person")[-1]


def test_closed_registration_explains_how_to_get_referred(whatsapp, runtime):
    runtime.settings.registration.open = False
    whatsapp.send("hello")
    whatsapp.send("2")
    assert "you need a referral" in whatsapp.conversation("register")[0]
    assert registration_of(runtime, "+31612345678") is None


def test_join_code_from_another_number_moves_the_invitation(runner, runtime, whatsapp, tmp_path):
    runner.invoke(args=["contacts", "import", str(write_csv(tmp_path, [f"{NL_PHONE},nl,A1"])), "--partner", "P"])
    code = registration_of(runtime, NL_PHONE).join_code
    whatsapp.send(f"join {code.lower()}", phone="+31699999999")
    whatsapp.send("6", phone="+31699999999")  # the language menu first: Nederlands
    assert registration_of(runtime, "+31699999999").status == "registering"
    assert registration_of(runtime, NL_PHONE) is None


def register(whatsapp, phone=NL_PHONE):
    whatsapp.send("hello", phone=phone)
    whatsapp.send("2", phone=phone)
    for answer in ("register", "1", "Amina", "1", "Stichting Hulp", "1"):
        whatsapp.send(answer, phone=phone)


def test_staff_status_change_records_and_notifies_in_their_language(runner, runtime, whatsapp):
    register(whatsapp)
    result = run(runner, runtime, "registrations", "set-status", "--phone", "06 1200 0001", "--status", "verified",
                 "--reason", "checked with partner")
    assert result.exit_code == 0, result.output
    assert "registered -> verified" in result.output
    assert whatsapp.replies(NL_PHONE)[-1].startswith("Good news: your registration has been checked")
    events = registration_of(runtime, NL_PHONE).events
    assert (events[-1].actor, events[-1].reason, events[-1].from_status) == ("cli", "checked with partner",
            "registered")


def test_status_change_outside_the_window_needs_a_template(runner, runtime, whatsapp, twilio):
    register(whatsapp)
    with runtime.session() as session:
        session.execute(Contact.__table__.update().values(last_inbound_at=utcnow() - timedelta(days=2)))
        session.commit()
    before = len(twilio.sent(NL_PHONE))
    run(runner, runtime, "registrations", "set-status", "--phone", NL_PHONE, "--status", "verified", "--reason", "ok")
    assert len(twilio.sent(NL_PHONE)) == before  # no approved template configured: nothing sent
    runtime.settings.templates = {"status_included": {"en": "HX" + "2" * 32}}
    run(runner, runtime, "registrations", "set-status", "--phone", NL_PHONE, "--status", "included", "--reason", "ok")
    assert twilio.sent(NL_PHONE)[-1]["ContentSid"] == "HX" + "2" * 32


@pytest.mark.parametrize("args, message", [
    (["--status", "included", "--reason", "skip the checks"], "cannot go from registered to included"),
    (["--status", "verified", "--reason", "  "], "a reason is required"),
])
def test_refused_status_changes_say_why(runner, whatsapp, args, message):
    register(whatsapp)
    result = runner.invoke(args=["registrations", "set-status", "--phone", NL_PHONE] + args)
    assert result.exit_code != 0
    assert message in result.output


def test_unknown_phone_is_refused(runner):
    result = runner.invoke(args=["registrations", "set-status", "--phone", "+31600000000", "--status", "verified",
                                 "--reason", "x"])
    assert "no registration with that number" in result.output


def test_unfinished_registration_is_reminded_once_then_expires(runner, runtime, whatsapp):
    whatsapp.send("hello", phone=NL_PHONE)
    whatsapp.send("2", phone=NL_PHONE)
    whatsapp.send("register", phone=NL_PHONE)
    whatsapp.send("1", phone=NL_PHONE)
    whatsapp.send("Amina", phone=NL_PHONE)

    def age(hours):
        with runtime.session() as session:
            session.execute(Registration.__table__.update().values(updated_at=utcnow() - timedelta(hours=hours)))
            session.commit()

    age(30)
    assert "reminded: 1" in run(runner, runtime, "registrations", "remind").output
    assert "did not finish" in whatsapp.replies(NL_PHONE)[-1]
    assert "reminded: 0" in run(runner, runtime, "registrations", "remind").output
    age(24 * 8)
    assert "expired: 1" in run(runner, runtime, "registrations", "remind").output
    registration = registration_of(runtime, NL_PHONE)
    assert (registration.status, registration.name) == ("ended", None)


def test_list_filters_by_status_partner_language_and_date(runner, runtime, tmp_path):
    runner.invoke(args=["contacts", "import", str(write_csv(tmp_path, [f"{NL_PHONE},nl,A1", f"{AR_PHONE},ar,A2"])),
                        "--partner", "P1"])
    runner.invoke(args=["contacts", "import", str(write_csv(tmp_path, [f"{FR_PHONE},fr,B1"], "b.csv")),
                        "--partner", "P2"])

    def listed(*extra):
        return [r["phone"] for r in json.loads(runner.invoke(args=["registrations", "list", "--json", *extra]).output)]

    assert listed("--partner", "P1") == [NL_PHONE, AR_PHONE]
    assert listed("--language", "fr") == [FR_PHONE]
    assert listed("--status", "verified") == []
    assert len(listed("--since", utcnow().strftime("%Y-%m-%d"))) == 3


def test_invitation_by_sms_where_configured(runner, runtime, twilio, tmp_path):
    runner.invoke(args=["contacts", "import", str(write_csv(tmp_path, [f"{NL_PHONE},nl,A1"])), "--partner", "P"])
    runtime.settings.registration.invitation.channel = "sms"
    runtime.channel.sms_number = "+3197010000000"
    assert "invited: 1" in run(runner, runtime, "contacts", "invite").output
    sms = [m for m in twilio.sent() if m["To"] == NL_PHONE]
    assert len(sms) == 1 and sms[0]["From"] == "+3197010000000"
    assert "https://wa.me/14155238886?text=JOIN%20" in sms[0]["Body"]
