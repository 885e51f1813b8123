"""A ticket answers the usual questions on its own page: who the person is, their language (and
changing it), where their registration stands and how it got there, their vouchers with what is
left, "send voucher again", and how their earlier tickets ended."""
from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from handoff.console import BACK_TO_BOT
from store.models import AuditEntry, Contact, Message, OutboxItem, Ticket
from tests import test_vouchers
from tests.test_helpdesk_web import post, sign_in
from tests.test_vouchers import PERIOD, include, outside_window, redeem, run, vouchers

PHONE = "+31612000001"  # tests.test_vouchers.include's person
WAITING_SID = "HX" + "5" * 32
store_key = test_vouchers.store_key  # a till's key


@pytest.fixture(autouse=True)
def _simulator_for_every_test(request):
    if "app" in request.fixturenames:
        request.getfixturevalue("simulator_on")


def ask_for_a_person(whatsapp, runtime, phone=PHONE) -> Ticket:
    whatsapp.send("human", phone=phone)
    with runtime.session() as session:
        return session.scalar(select(Ticket).where(Ticket.status == "open").order_by(Ticket.id.desc()))


def included_with_vouchers(whatsapp, runner, runtime) -> None:
    include(whatsapp, runner, runtime)
    run(runner, runtime, "vouchers", "issue", "--period", PERIOD)
    run(runner, runtime, "vouchers", "issue", "--period", "2026-W50")


def test_the_ticket_shows_name_registration_history_vouchers_and_earlier_tickets(
        whatsapp, runner, runtime, client, store_key):
    included_with_vouchers(whatsapp, runner, runtime)
    first, second = vouchers(runtime)
    assert redeem(client, store_key, first.code, 1750, "t-all").status_code == 200  # spent, never reported delivered
    assert redeem(client, store_key, second.code, 520, "t-part").status_code == 200
    earlier = ask_for_a_person(whatsapp, runtime)
    sign_in(client, runtime, "agent")
    earlier_page = f"/helpdesk/tickets/{earlier.id}"
    post(client, f"{earlier_page}/close", {"outcome": "referred"}, page=earlier_page)
    ticket = ask_for_a_person(whatsapp, runtime)

    page = html.unescape(client.get(f"/helpdesk/tickets/{ticket.id}").text)
    assert '<bdi dir="auto">Amina</bdi>' in page
    assert '<dd id="registration-status">included</dd>' in page
    history = page.split('id="registration-history"')[1].split("</details>")[0]
    assert history.index("<strong>registered</strong>") < history.index("<strong>verified</strong>") \
        < history.index("<strong>included</strong>")
    rows = {row.split('"')[0]: row for row in page.split('data-voucher="')[1:]}
    spent, partly = rows[str(first.id)], rows[str(second.id)]
    assert "€0.00" in spent and ">spent<" in spent and "yes (used at a till)" in spent and ">no<" not in spent
    assert "€12.30" in partly and "€5.20" in partly and "partly spent" in partly
    previous = page.split('id="previous-tickets"')[1].split("</ul>")[0]
    assert f"#{earlier.id}" in previous and "<strong>referred</strong>" in previous
    assert 'id="resend-voucher"' in page


def test_a_fully_spent_voucher_is_not_offered_again(whatsapp, runner, runtime, client, store_key):
    include(whatsapp, runner, runtime)
    run(runner, runtime, "vouchers", "issue", "--period", PERIOD)
    (only,) = vouchers(runtime)
    redeem(client, store_key, only.code, 1750, "t-all")
    ticket = ask_for_a_person(whatsapp, runtime)
    sign_in(client, runtime, "agent")
    page = f"/helpdesk/tickets/{ticket.id}"
    assert 'id="resend-voucher"' not in client.get(page).text
    refused = post(client, f"{page}/resend-voucher", page=page)
    assert refused.status_code == 400 and "no voucher with money left" in refused.text


def test_send_voucher_again_sends_the_image_once_and_is_audited(whatsapp, runner, runtime, client, twilio):
    included_with_vouchers(whatsapp, runner, runtime)
    ticket = ask_for_a_person(whatsapp, runtime)
    sign_in(client, runtime, "agent")
    page = f"/helpdesk/tickets/{ticket.id}"
    before = len(twilio.sent(PHONE))
    response = post(client, f"{page}/resend-voucher", page=page)
    assert response.status_code == 302
    shown = client.get(page).text
    assert "2 vouchers sent again" in shown, shown[shown.find("<main"):][:1500]
    whatsapp.wait()
    media = [m for m in twilio.sent(PHONE)[before:] if m.get("MediaUrl")]
    assert sorted(v.code in m["Body"] for m in media for v in vouchers(runtime)).count(True) == 2
    again = post(client, f"{page}/resend-voucher", page=page)  # a double click
    assert again.status_code == 302 and "nothing sent twice" in client.get(page).text
    whatsapp.wait()
    assert len([m for m in twilio.sent(PHONE)[before:] if m.get("MediaUrl")]) == 2
    with runtime.session() as session:
        audited = session.scalars(select(AuditEntry.subject).where(AuditEntry.action == "resent voucher")).all()
        assert sorted(audited) == sorted(f"voucher:{v.id}" for v in vouchers(runtime))
        senders = session.scalars(select(Message.author).where(Message.tag.like("voucher:%"),
                                                               Message.sender == "agent")).all()
        assert senders == ["agent@example.org"] * 2
        assert session.get(Ticket, ticket.id).assigned_to_id is not None  # sending claims it, as a reply does


def test_send_voucher_again_outside_the_window_waits_for_the_person(whatsapp, runner, runtime, client, twilio):
    runtime.settings.templates["message_waiting"] = {"en": WAITING_SID}
    include(whatsapp, runner, runtime)
    run(runner, runtime, "vouchers", "issue", "--period", PERIOD)
    ticket = ask_for_a_person(whatsapp, runtime)
    outside_window(runtime)
    sign_in(client, runtime, "agent")
    page = f"/helpdesk/tickets/{ticket.id}"
    before = len(twilio.sent(PHONE))
    assert post(client, f"{page}/resend-voucher", page=page).status_code == 302
    assert "waits until the person writes" in client.get(page).text
    whatsapp.wait()
    sent = twilio.sent(PHONE)[before:]
    assert [m.get("ContentSid") for m in sent] == [WAITING_SID]  # "you have a message", not the voucher
    with runtime.session() as session:
        assert session.scalar(select(OutboxItem.state).join(Message).where(Message.tag.like("voucher:%"),
                                                                          Message.sender == "agent")) == "held"
    whatsapp.send("hi", phone=PHONE)
    assert any(m.get("MediaUrl") for m in twilio.sent(PHONE)[before:])  # released when they wrote


def test_changing_the_language_makes_the_bot_speak_it(whatsapp, runtime, client):
    whatsapp.send("hello", phone=PHONE)
    whatsapp.send("2", phone=PHONE)  # English
    ticket = ask_for_a_person(whatsapp, runtime)
    sign_in(client, runtime, "agent")
    page = f"/helpdesk/tickets/{ticket.id}"
    shown = client.get(page).text
    assert '<option value="ar" >ar – Arabic (العربية)</option>' in shown
    unknown = post(client, f"{page}/language", {"language": "xx"}, page=page)
    assert unknown.status_code == 400 and "is not a language the service speaks" in html.unescape(unknown.text)
    assert post(client, f"{page}/language", {"language": "ar"}, page=page).status_code == 302
    with runtime.session() as session:
        assert session.scalar(select(Contact.language)) == "ar"
        assert session.get(Ticket, ticket.id).language == "ar"
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "changed language"))
        assert (entry.actor, entry.detail) == ("staff:agent@example.org", "en -> ar")
    assert post(client, f"{page}/close", {"outcome": "resolved"}, page=page).status_code == 302
    whatsapp.wait()
    expected = runtime.translator.text(BACK_TO_BOT, "ar", **runtime.settings.placeholders())
    assert whatsapp.replies(PHONE)[-1] == expected != BACK_TO_BOT


def test_an_agent_sees_how_an_earlier_ticket_ended_but_opens_only_those_they_may_read(whatsapp, app, runtime, client):
    whatsapp.send("hello", phone=PHONE)
    whatsapp.send("2", phone=PHONE)
    earlier = ask_for_a_person(whatsapp, runtime)
    other = app.test_client()
    sign_in(other, runtime, "agent", email="other@example.org")
    earlier_page = f"/helpdesk/tickets/{earlier.id}"
    post(other, f"{earlier_page}/claim", page=earlier_page)
    post(other, f"{earlier_page}/close", {"outcome": "resolved"}, page=earlier_page)
    ticket = ask_for_a_person(whatsapp, runtime)
    sign_in(client, runtime, "agent")
    previous = client.get(f"/helpdesk/tickets/{ticket.id}").text.split('id="previous-tickets"')[1].split("</ul>")[0]
    assert f"#{earlier.id}" in previous and "<strong>resolved</strong>" in previous and "other@example.org" in previous
    assert f'href="{earlier_page}"' not in previous and client.get(earlier_page).status_code == 404
