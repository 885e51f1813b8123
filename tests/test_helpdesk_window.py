"""WhatsApp's 24-hour window on a ticket: while open, when it closes (counted down by the page,
written in the helper's locale); once closed, the approved "you have a message" template in the
person's language, one button away, instead of a dead end."""
from __future__ import annotations

import html
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime
from sqlalchemy import select

from delivery.window import WAITING_TAG
from store.models import Contact, Message, Ticket, utcnow
from tests.test_helpdesk_web import post, sign_in

PHONE = "+31612345678"
ARABIC_WAITING = "HX" + "a" * 32
ENGLISH_WAITING = "HX" + "e" * 32


@pytest.fixture(autouse=True)
def _simulator_for_every_test(request):
    if "app" in request.fixturenames:
        request.getfixturevalue("simulator_on")


def arabic_ticket(whatsapp, runtime) -> int:
    whatsapp.send("أحتاج مساعدة من فضلك، أريد التحدث مع شخص")
    whatsapp.send("إنسان")
    with runtime.session() as session:
        ticket = session.scalar(select(Ticket))
        assert ticket is not None and ticket.contact.language == "ar"
        return ticket.id


def wrote_hours_ago(runtime, hours: float) -> None:
    with runtime.session() as session:
        session.execute(Contact.__table__.update().values(last_inbound_at=utcnow() - timedelta(hours=hours)))
        session.commit()


def test_an_open_window_shows_when_it_closes_in_the_helpers_locale(whatsapp, client, runtime):
    ticket_id = arabic_ticket(whatsapp, runtime)
    wrote_hours_ago(runtime, 20)
    sign_in(client, runtime)
    page = f"/helpdesk/tickets/{ticket_id}"
    english = client.get(page, headers={"Accept-Language": "en-GB,en;q=0.8"}).text
    closes = english.split('id="window-closes" datetime="')[1].split('"')[0]
    assert any(f'role="timer">{left}<' in english for left in ("3 h 59 min", "4 h 00 min"))
    at = datetime.fromisoformat(closes)
    assert timedelta(hours=3, minutes=58) < at - utcnow() <= timedelta(hours=4)
    zone = ZoneInfo(runtime.settings.helpdesk.timezone)
    dutch = html.unescape(client.get(page, headers={"Accept-Language": "nl"}).text)
    shown = dutch.split('id="window-closes"')[1].split(">")[1].split("</time")[0]
    assert shown == format_datetime(at, "medium", tzinfo=zone, locale="nl")  # "6 dec 2026, 12:04:00"
    assert shown != html.unescape(english.split('id="window-closes"')[1].split(">")[1].split("</time")[0])
    assert client.get(f"{page}.json").get_json()["ticket"]["window_closes"] == closes


def test_a_closed_window_offers_message_waiting_in_the_persons_language(whatsapp, client, runtime, twilio):
    runtime.settings.templates["message_waiting"] = {"ar": ARABIC_WAITING, "en": ENGLISH_WAITING}
    ticket_id = arabic_ticket(whatsapp, runtime)
    wrote_hours_ago(runtime, 30)
    sign_in(client, runtime)
    page = f"/helpdesk/tickets/{ticket_id}"
    shown = client.get(page).text
    assert 'id="reply-text"' not in shown and 'id="send-waiting"' in shown
    expected = runtime.translator.text("You have a new message from {program}. Tap the button to read it.", "ar",
                                       **runtime.settings.placeholders())
    offered = shown.split('<blockquote dir="auto" lang="ar" id="waiting-text">')[1].split("</blockquote>")[0]
    offered = html.unescape(offered)
    assert expected.split()[0] in offered and "You have a new message" not in offered
    assert post(client, f"{page}/template", {"name": "message_waiting"}, page=page).status_code == 302
    whatsapp.wait()
    assert twilio.sent(PHONE)[-1]["ContentSid"] == ARABIC_WAITING
    with runtime.session() as session:
        sent = session.scalar(select(Message).order_by(Message.id.desc()))
        assert (sent.sender, sent.tag) == ("agent", WAITING_TAG)  # delivery will not ask a second time


def test_without_an_approved_template_the_page_says_what_to_do(whatsapp, client, runtime):
    runtime.settings.templates["message_waiting"] = {"en": ENGLISH_WAITING}  # none in Arabic
    ticket_id = arabic_ticket(whatsapp, runtime)
    wrote_hours_ago(runtime, 30)
    sign_in(client, runtime)
    shown = client.get(f"/helpdesk/tickets/{ticket_id}").text
    assert 'id="send-waiting"' not in shown
    assert "There is no approved template in ar yet" in shown and "flask whatsapp sync" in shown
