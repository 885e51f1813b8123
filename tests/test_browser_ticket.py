"""A ticket's page in a real browser (the fixture of tests/test_browser.py): the context that
answers a voucher question, changing the person's language to Arabic, "send voucher again",
the 24-hour window's countdown and the template offered once it has closed."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from store.models import Contact, Ticket, utcnow
from tests import test_browser, test_vouchers
from tests.test_browser import SCREENSHOTS, expect, page_for, sign_in
from tests.test_vouchers import PERIOD, include, redeem, run, vouchers

# The browser, the live server and the staff accounts of tests/test_browser.py; a till's key.
browser, live, users, store_key = test_browser.browser, test_browser.live, test_browser.users, test_vouchers.store_key

PHONE = "+31612000001"  # tests.test_vouchers.include's person
WAITING_SID = "HX" + "a" * 32


@pytest.fixture(autouse=True)
def _simulator_for_every_test(request):
    if "app" in request.fixturenames:
        request.getfixturevalue("simulator_on")


def ticket_of(runtime) -> int:
    with runtime.session() as session:
        return session.scalar(select(Ticket.id).where(Ticket.status == "open"))


def test_a_voucher_question_is_answered_from_the_ticket_in_arabic(
        browser, live, users, whatsapp, runner, runtime, client, store_key, backend):
    include(whatsapp, runner, runtime)
    run(runner, runtime, "vouchers", "issue", "--period", PERIOD)
    run(runner, runtime, "vouchers", "issue", "--period", "2026-W50")
    spent, current = vouchers(runtime)
    assert redeem(client, store_key, spent.code, 1750, "t-all").status_code == 200
    whatsapp.send("human", phone=PHONE)

    page = page_for(browser, live)
    sign_in(page, "agent@example.org")
    page.goto(f"/helpdesk/tickets/{ticket_of(runtime)}")
    expect(page.locator("#person-name")).to_have_text("Amina")
    expect(page.locator("#registration-status")).to_have_text("included")
    page.locator("#registration-history summary").click()
    history = page.locator("#registration-history li")
    expect(history).to_have_count(4)  # started in the chat, registered, verified by staff, included
    expect(history.last).to_contain_text("verified → included")
    fully_spent = page.locator(f'#vouchers tr[data-voucher="{spent.id}"]')
    expect(fully_spent.locator(".state")).to_have_text("spent")
    expect(fully_spent).to_contain_text("yes (used at a till)")
    expect(page.locator(f'#vouchers tr[data-voucher="{current.id}"] .state')).to_have_text("not received yet")
    expect(page.locator("#previous-tickets")).to_have_text("This is their first ticket.")

    page.select_option("#language-choice", "ar")
    page.click("#change-language")
    expect(page.locator("#ticket-language")).to_have_text("ar")
    ready = page.locator("button.canned-reply").first
    expect(ready).to_have_attribute("dir", "auto")
    assert ready.evaluate("button => getComputedStyle(button).direction") == "rtl"  # ready answers now in Arabic
    assert page.locator("#reply-text").evaluate("box => getComputedStyle(box).direction") == "rtl"

    page.click("#resend-voucher")
    expect(page.locator("main .notice").first).to_contain_text("1 voucher sent again")
    agent = page.locator("#conversation .message.agent")
    expect(agent.last).to_contain_text(current.code)
    expect(agent.last.locator(".text")).to_have_attribute("dir", "auto")
    for _ in range(50):  # the page redraws the chat as the message's status changes: measure a drawn one
        reads = agent.last.locator(".text").evaluate("node => node.isConnected ? getComputedStyle(node).direction : ''")
        if reads:
            break
        page.wait_for_timeout(100)
    assert reads == "rtl"  # the voucher text went out in Arabic
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"ticket-context-arabic-{backend}.png", full_page=True)
    page.context.close()


def test_the_window_counts_down_and_then_offers_the_approved_template(browser, live, users, whatsapp, runtime,
                                                                      twilio, backend):
    runtime.settings.templates["message_waiting"] = {"ar": WAITING_SID}
    whatsapp.send("أحتاج مساعدة من فضلك، أريد التحدث مع شخص", phone=PHONE)
    whatsapp.send("إنسان", phone=PHONE)
    with runtime.session() as session:  # the person wrote 24 hours ago less 8 seconds
        session.execute(Contact.__table__.update().values(
            last_inbound_at=utcnow() - timedelta(hours=24) + timedelta(seconds=8)))
        session.commit()
    page = page_for(browser, live)
    sign_in(page, "agent@example.org")
    page.goto(f"/helpdesk/tickets/{ticket_of(runtime)}")
    expect(page.locator("#ticket-window")).to_contain_text("open: you can write freely")
    expect(page.locator("#window-left")).to_have_text("0 min")
    expect(page.locator("#window-closes")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    expect(page.locator("#window-left")).to_have_text("none", timeout=20_000)  # counted down by the page itself
    expect(page.locator("#chat-status")).to_contain_text(re.compile(r"24-hour window (has just closed|is now closed)"))

    page.reload()
    expect(page.locator("#reply-text")).to_have_count(0)
    waiting = page.locator("#waiting-text")
    expect(waiting).to_have_attribute("dir", "auto")
    assert waiting.evaluate("node => getComputedStyle(node).direction") == "rtl"
    page.click("#send-waiting")
    expect(page.locator("#conversation .message.agent").last).to_contain_text("message_waiting")
    whatsapp.wait()
    assert twilio.sent(PHONE)[-1]["ContentSid"] == WAITING_SID
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"ticket-window-closed-arabic-{backend}.png", full_page=True)
    page.context.close()


def test_a_supervisor_adds_a_ready_answer_and_helpers_get_it_in_the_persons_language(
        browser, live, users, whatsapp, runtime):
    whatsapp.send("أحتاج مساعدة من فضلك، أريد التحدث مع شخص", phone=PHONE)
    whatsapp.send("إنسان", phone=PHONE)
    page = page_for(browser, live)
    sign_in(page, "supervisor@example.org")
    page.goto("/helpdesk/")
    page.get_by_role("link", name="Ready answers").click()
    expect(page.locator("#ready-summary")).to_have_text("Every answer is in all 15 languages.")
    page.fill("#new-id", "opening_hours")
    page.fill("#new-text-en", "We answer on weekdays from 9:00 to 17:00.")
    page.fill("#new-text-ar", "نجيب في أيام الأسبوع من 9:00 إلى 17:00.")
    assert page.locator("#new-text-ar").evaluate("box => getComputedStyle(box).direction") == "rtl"
    page.click("#add-ready-answer")
    expect(page.locator("main .notice").first).to_contain_text("Ready answer opening_hours saved (2 of 15 languages)")
    expect(page.locator("#ready-summary")).to_have_text("13 translations missing across 6 answers.")
    expect(page.locator('#ready-overview tr[data-answer="opening_hours"] .missing')).to_contain_text("es, fr, id, nl")

    page.goto(f"/helpdesk/tickets/{ticket_of(runtime)}")  # an Arabic ticket: the new answer in Arabic
    arabic = page.locator("button.canned-reply", has_text="نجيب في أيام الأسبوع")
    expect(arabic).to_have_count(1)
    assert arabic.evaluate("button => getComputedStyle(button).direction") == "rtl"
    expect(page.locator("#ready-fallback")).to_have_count(0)
    page.select_option("#language-choice", "nl")  # the person prefers Dutch: no Dutch text yet
    page.click("#change-language")
    fallback = page.locator("button.canned-reply.fallback")
    expect(fallback).to_have_count(1)
    expect(fallback).to_contain_text("EN We answer on weekdays")
    expect(page.locator("#ready-fallback")).to_contain_text("1 of 6 not translated into nl yet")
    fallback.click()
    expect(page.locator("#reply-text")).to_have_value("We answer on weekdays from 9:00 to 17:00.")
    page.context.close()
