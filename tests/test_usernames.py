"""WhatsApp usernames: people who hide their number write from a business-scoped user ID (BSUID).
They are answered there, recognised when a message once carried both identifiers, merged by
staff when nothing did, and never shown or logged in clear."""
import logging

import pytest
from sqlalchemy import Text, func, select, type_coerce

from store import personal
from store.models import AuditEntry, Contact, ContactIdentifier, Message, Registration, Voucher
from tests.conftest import fixture
from tests.test_vouchers import PERIOD, include, run

BSUID = fixture("inbound_bsuid_only")["From"].split(":", 1)[1]  # NL.13491208655302741918
PHONE = "+" + fixture("inbound_phone_and_bsuid")["WaId"]  # +31612345678, the same person with both


def identifiers(runtime) -> list[tuple[int, str, str]]:
    with runtime.session() as session:
        return [(i.contact_id, i.kind, i.value) for i in session.scalars(select(ContactIdentifier)
                                                                        .order_by(ContactIdentifier.id))]


def contacts(runtime) -> int:
    with runtime.session() as session:
        return session.scalar(select(func.count()).select_from(Contact))


def post_fixture(whatsapp, name: str, **changes):
    response = whatsapp.post("/twilio/whatsapp", fixture(name) | changes)
    whatsapp.wait()
    return response


# --- inbound --------------------------------------------------------------------------------

def test_a_message_from_a_username_user_is_stored_and_answered_at_their_user_id(whatsapp, runtime, twilio):
    response = post_fixture(whatsapp, "inbound_bsuid_only")
    assert response.status_code == 200
    assert [(kind, value) for _, kind, value in identifiers(runtime)] == [("bsuid", BSUID)]
    replies = twilio.sent(BSUID)
    assert replies and replies[0]["To"] == f"whatsapp:{BSUID}"
    assert "Nederlands" in twilio.bodies(BSUID)[0]  # the language menu: a new person, answered like any other
    with runtime.session() as session:
        stored = session.scalar(select(type_coerce(ContactIdentifier.value, Text())))
        assert BSUID not in stored and personal.is_encrypted(stored)  # encrypted at rest
        assert session.scalar(select(ContactIdentifier.key)) == personal.lookup_key(
            runtime.settings.secrets.encryption_key, BSUID)


def test_a_message_with_number_and_user_id_links_both_to_one_contact(whatsapp, runtime, twilio):
    assert post_fixture(whatsapp, "inbound_phone_and_bsuid").status_code == 200
    found = identifiers(runtime)
    assert sorted((kind, value) for _, kind, value in found) == [("bsuid", BSUID), ("phone", PHONE)]
    assert len({contact for contact, _, _ in found}) == 1 and contacts(runtime) == 1
    assert twilio.sent(PHONE) and not twilio.sent(BSUID)  # the reply goes where they wrote from
    post_fixture(whatsapp, "inbound_bsuid_only")  # later, number hidden: the same person
    assert contacts(runtime) == 1
    assert twilio.sent(BSUID)


def test_a_user_id_beside_a_user_id_sender_with_a_number_links_the_number(whatsapp, runtime):
    post_fixture(whatsapp, "inbound_bsuid_only", WaId=PHONE[1:])
    assert sorted(kind for _, kind, _ in identifiers(runtime)) == ["bsuid", "phone"]
    assert contacts(runtime) == 1


@pytest.mark.parametrize("sender", [
    "whatsapp:NL.", "whatsapp:nl.13491208655302741918", "whatsapp:N.1349", "whatsapp:NL.1349-1208",
    "whatsapp:NL." + "7" * 129, "whatsapp:NL.ENT.", "whatsapp:NL..1349", "whatsapp:NL.1349 1208",
    "whatsapp:NL.13491208655302741918\n", "whatsapp:ÑL.1349"])
def test_a_malformed_user_id_is_refused_at_the_edge(whatsapp, runtime, sender):
    response = post_fixture(whatsapp, "inbound_bsuid_only", From=sender)
    assert response.status_code == 400
    assert contacts(runtime) == 0


def test_managed_business_user_ids_and_the_longest_are_accepted(whatsapp, runtime, twilio):
    for sender, sid in (("NL.ENT.4471aBc9", "SMent1"), ("US." + "Z9" * 64, "SMlong1")):
        response = post_fixture(whatsapp, "inbound_bsuid_only", From=f"whatsapp:{sender}", MessageSid=sid)
        assert response.status_code == 200
        assert twilio.sent(sender)


def test_a_malformed_user_id_beside_a_number_is_left_out_and_the_message_answered(whatsapp, runtime, twilio):
    response = post_fixture(whatsapp, "inbound_phone_and_bsuid", ExternalUserIdentifier="<script>")
    assert response.status_code == 200
    assert [kind for _, kind, _ in identifiers(runtime)] == ["phone"]
    assert twilio.sent(PHONE)


def test_a_status_callback_to_a_user_id_settles_the_voucher_it_carried(whatsapp, runner, runtime, twilio):
    include(whatsapp, runner, runtime, phone=PHONE)
    whatsapp.send("🙏", phone=PHONE, ExternalUserIdentifier=BSUID)
    whatsapp.send("hello", phone=BSUID)  # number hidden from now on; the window is open
    run(runner, runtime, "vouchers", "issue", "--period", PERIOD)
    sent = [m for m in twilio.sent(BSUID) if m.get("MediaUrl")]
    assert len(sent) == 1  # the voucher went to the user ID they last wrote from
    with runtime.session() as session:
        assert session.scalar(select(Voucher.claimed_at)) is None
    query = sent[0]["StatusCallback"].partition("?")[2]
    callback = fixture("status_delivered_bsuid") | {"MessageSid": sent[0]["Sid"], "SmsSid": sent[0]["Sid"]}
    assert whatsapp.post(f"/twilio/status?{query}", callback).status_code == 204
    with runtime.session() as session:
        assert session.scalar(select(Voucher.claimed_at)) is not None
        assert session.scalar(select(Message.status).where(Message.provider_sid == sent[0]["Sid"])) == "delivered"


# --- one person, two identifiers ----------------------------------------------------------------

def test_registered_by_number_then_writing_by_user_id_keeps_registration_and_balance(
        whatsapp, runner, runtime, twilio):
    include(whatsapp, runner, runtime, phone=PHONE, language_choice="6")  # Nederlands
    run(runner, runtime, "vouchers", "issue", "--period", PERIOD)
    post_fixture(whatsapp, "inbound_phone_and_bsuid")  # "Dank je", number and user ID together
    before = len(twilio.sent(BSUID))
    whatsapp.send("hoeveel saldo heb ik nog", phone=BSUID)
    reply = "\n".join(twilio.bodies(BSUID)[before:])
    assert "€ 17,50" in reply.replace("\u00a0", " ")
    assert contacts(runtime) == 1
    with runtime.session() as session:
        assert session.scalar(select(Registration.status)) == "included"


def test_without_a_link_the_user_id_is_someone_new_until_staff_merge_them(whatsapp, runner, runtime, twilio):
    include(whatsapp, runner, runtime, phone=PHONE, language_choice="6")
    run(runner, runtime, "vouchers", "issue", "--period", PERIOD)
    whatsapp.send("hoeveel saldo heb ik nog", phone=BSUID)
    stranger = "\n".join(twilio.bodies(BSUID))
    assert "Aanmelden" in stranger and "€" not in stranger  # someone new: offered to register, no balance
    assert contacts(runtime) == 2
    with runtime.session() as session:
        kept = session.scalar(select(Registration.contact_id))
        other = session.scalar(select(Contact.id).where(Contact.id != kept))

    shown = runner.invoke(args=["contacts", "merge", str(kept), str(other)], input="n\n")
    assert shown.exit_code != 0 and contacts(runtime) == 2  # asked, refused: nothing changed
    assert f"contact {kept}: phone; registration #" in shown.output and "(included); 1 voucher(s)" in shown.output
    assert f"contact {other}: WhatsApp username; no registration" in shown.output
    assert BSUID not in shown.output and PHONE not in shown.output

    merged = runner.invoke(args=["contacts", "merge", str(kept), str(other), "--yes"])
    assert merged.exit_code == 0, merged.output
    assert f"merged: contact {kept}: phone, WhatsApp username" in merged.output
    assert contacts(runtime) == 1
    with runtime.session() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "contacts.merge"))
        assert (entry.actor, entry.subject) == ("cli", f"contact:{kept}") and f"contact:{other}" in entry.detail
        assert session.scalar(select(func.count()).select_from(Message).where(Message.contact_id == kept)) > 0

    before = len(twilio.sent(BSUID))
    whatsapp.send("hoeveel saldo heb ik nog", phone=BSUID)
    assert "€ 17,50" in "\n".join(twilio.bodies(BSUID)[before:]).replace("\u00a0", " ")


def test_merge_refuses_two_registrations_that_both_count(whatsapp, runner, runtime):
    include(whatsapp, runner, runtime, phone=PHONE)
    include(whatsapp, runner, runtime, phone="+31612000077")
    with runtime.session() as session:
        first, second = session.scalars(select(Registration.contact_id).order_by(Registration.id)).all()
    refused = runner.invoke(args=["contacts", "merge", str(first), str(second), "--yes"])
    assert refused.exit_code != 0 and "both contacts have a registration" in refused.output
    assert contacts(runtime) == 2
    missing = runner.invoke(args=["contacts", "merge", str(first), "999999", "--yes"])
    assert missing.exit_code != 0 and "no contact 999999" in missing.output


def test_merge_as_json_for_scripts(whatsapp, runner, runtime):
    whatsapp.send("hallo", phone=PHONE)
    whatsapp.send("hallo", phone=BSUID)
    with runtime.session() as session:
        first, second = session.scalars(select(Contact.id).order_by(Contact.id)).all()
    assert runner.invoke(args=["contacts", "merge", str(first), str(second), "--json"]).exit_code != 0
    result = runner.invoke(args=["contacts", "merge", str(first), str(second), "--json", "--yes"])
    assert result.exit_code == 0, result.output
    assert '"identifiers": [\n    "phone",\n    "WhatsApp username"\n  ]' in result.output


# --- outbound -------------------------------------------------------------------------------

def test_replies_follow_the_identifier_last_written_from(whatsapp, runtime, twilio):
    post_fixture(whatsapp, "inbound_phone_and_bsuid")
    whatsapp.send("hallo", phone=BSUID)
    whatsapp.send("hallo", phone=PHONE)
    assert twilio.bodies(PHONE)[-1] and len(twilio.sent(BSUID)) == 1
    sent = len(twilio.sent(PHONE))
    whatsapp.send("hallo", phone=BSUID)
    assert len(twilio.sent(PHONE)) == sent and len(twilio.sent(BSUID)) == 2


def test_invitations_need_a_number(whatsapp, runner, runtime, twilio, tmp_path):
    csv = tmp_path / "list.csv"
    csv.write_text("phone,language\n+31612000088,nl\n", encoding="utf-8")
    assert runner.invoke(args=["contacts", "import", str(csv), "--partner", "Stichting Hulp"]).exit_code == 0
    whatsapp.send("hallo", phone=BSUID)
    with runtime.session() as session:
        imported = session.scalar(select(Registration.contact_id))
        stranger = session.scalar(select(Contact.id).where(Contact.id != imported))
        session.add(Registration(contact_id=stranger, status="imported", join_code="JOINBSUID1"))
        session.commit()
    runtime.settings.templates = {"invitation": {"nl": "HX" + "1" * 32, "en": "HX" + "2" * 32}}
    result = runner.invoke(args=["contacts", "invite"])
    runtime.tasks.drain()
    assert "invited: 1" in result.output and "skipped: no phone number: 1" in result.output
    assert twilio.sent("+31612000088") and len(twilio.sent(BSUID)) == 1  # only the reply to "hallo"


def test_the_partner_import_still_matches_by_number(whatsapp, runner, runtime, tmp_path):
    post_fixture(whatsapp, "inbound_phone_and_bsuid")
    csv = tmp_path / "list.csv"
    csv.write_text(f"phone,language\n{PHONE},nl\n", encoding="utf-8")
    result = runner.invoke(args=["contacts", "import", str(csv), "--partner", "Stichting Hulp"])
    assert result.exit_code == 0 and "accepted 1" in result.output, result.output
    assert contacts(runtime) == 1  # the person who wrote, not a second contact


def test_an_invited_person_who_answers_from_their_user_id_takes_the_invitation_along(
        whatsapp, runner, runtime, twilio, tmp_path):
    csv = tmp_path / "list.csv"
    csv.write_text(f"phone,language\n{PHONE},nl\n", encoding="utf-8")
    assert runner.invoke(args=["contacts", "import", str(csv), "--partner", "Vluchtelingenwerk"]).exit_code == 0
    with runtime.session() as session:
        code = session.scalar(select(Registration.join_code))
    replies = whatsapp.conversation(f"JOIN {code}", "6", phone=BSUID)  # a new contact: the language first
    assert any("boodschappenbon" in reply for reply in replies), replies  # in Dutch, the program explained
    # As from another number: the invitation moves; the imported number, which may not be theirs, goes.
    assert contacts(runtime) == 1
    assert [kind for _, kind, _ in identifiers(runtime)] == ["bsuid"]
    with runtime.session() as session:
        assert session.scalar(select(Registration.status)) == "registering"


# --- privacy --------------------------------------------------------------------------------

def test_erasure_removes_every_identifier(whatsapp, runner, runtime):
    post_fixture(whatsapp, "inbound_phone_and_bsuid")
    result = runner.invoke(args=["privacy", "erase", "--phone", PHONE, "--yes"])
    assert result.exit_code == 0, result.output
    assert identifiers(runtime) == [] and contacts(runtime) == 0


def test_a_username_user_can_be_erased_by_contact_id(whatsapp, runner, runtime):
    post_fixture(whatsapp, "inbound_bsuid_only")
    with runtime.session() as session:
        contact_id = session.scalar(select(Contact.id))
    result = runner.invoke(args=["privacy", "erase", "--contact", str(contact_id), "--yes"])
    assert result.exit_code == 0, result.output
    assert identifiers(runtime) == [] and contacts(runtime) == 0


def test_key_rotation_rehashes_user_ids_too(whatsapp, runner, runtime, monkeypatch):
    post_fixture(whatsapp, "inbound_phone_and_bsuid")
    old = runtime.settings.secrets.encryption_key
    new = "rotated-encryption-key-for-usernames"
    try:
        personal.configure(new, [old])
        result = runner.invoke(args=["privacy", "rotate-key"])
        assert result.exit_code == 0 and "2 lookup hash(es) recomputed" in result.output, result.output
        with runtime.session() as session:
            keys = set(session.scalars(select(ContactIdentifier.key)))
        assert keys == {personal.lookup_key(new, PHONE), personal.lookup_key(new, BSUID)}
    finally:
        personal.configure(old, [new])  # every data key back under the suite's key, for the tests after this one
        runtime.data_keys.rewrap()
        personal.configure(old)


def test_logs_never_hold_a_user_id(whatsapp, runner, runtime, caplog):
    caplog.set_level(logging.DEBUG)
    post_fixture(whatsapp, "inbound_phone_and_bsuid")
    post_fixture(whatsapp, "inbound_bsuid_only")
    post_fixture(whatsapp, "inbound_bsuid_only", From="whatsapp:NL.1349-bad", MessageSid="SMbad1")
    assert BSUID not in caplog.text and "1349" not in caplog.text


# --- staff pages ----------------------------------------------------------------------------

def test_staff_see_a_username_user_without_a_number_and_merge_on_the_page(whatsapp, runner, runtime, client, twilio):
    from tests.test_helpdesk_web import post, sign_in

    include(whatsapp, runner, runtime, phone=PHONE, language_choice="6")
    whatsapp.send("hallo", phone=BSUID)
    for answer in ("6", "register", "1", "Amina", "1", "Stichting Hulp", "1"):  # registers again, as someone new
        whatsapp.send(answer, phone=BSUID)
    with runtime.session() as session:
        kept, other = session.scalars(select(Registration.contact_id).order_by(Registration.id)).all()
        other_registration = session.scalar(select(Registration.id).where(Registration.contact_id == other))
    sign_in(client, runtime, role="supervisor")
    listing = client.get("/staff/registrations/").text
    assert "WhatsApp username user" in listing and BSUID not in listing
    detail = client.get(f"/staff/registrations/{other_registration}").text
    assert "WhatsApp username user" in detail and BSUID not in detail and f"#{other}" in detail

    page = client.get(f"/staff/contacts/merge?keep={kept}&other={other}")
    assert page.status_code == 200
    assert "(included)" in page.text and "(registered)" in page.text and "WhatsApp username" in page.text
    assert BSUID not in page.text and PHONE not in page.text  # the number masked, the user ID never shown
    done = post(client, "/staff/contacts/merge", {"keep": kept, "other": other},
                page=f"/staff/contacts/merge?keep={kept}&other={other}")
    assert done.status_code == 200 and f"Contact #{other} was merged into contact #{kept}" in done.text
    assert contacts(runtime) == 1
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Registration)) == 1  # the unfinished one dropped
        actions = set(session.scalars(select(AuditEntry.action)))
        assert {"compared contacts", "contacts.merge"} <= actions
    assert client.get("/staff/contacts/merge?keep=1&other=1").status_code == 400


def test_agents_and_partners_cannot_merge(whatsapp, runtime, client):
    from tests.test_helpdesk_web import sign_in

    sign_in(client, runtime, role="agent")
    assert client.get("/staff/contacts/merge").status_code in (302, 403)
