"""The desk page in a real browser at a tablet's size (the fixture of tests/test_browser.py): a
volunteer picks the person's language, reads the privacy text with them, is stopped until the
consent is ticked, registers them, sees the welcome go out, and is told clearly when the same
number comes to the desk again."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from store.models import Voucher
from tests import test_browser
from tests.test_browser import SCREENSHOTS, TIMEOUT_MS, expect, sign_in
from tests.test_printing import pages, scanned

# The browser, the live server and the staff accounts (supervisor, agent) of tests/test_browser.py.
browser, live, users = test_browser.browser, test_browser.live, test_browser.users

TABLET = {"width": 820, "height": 1180}
PHONE = "+31612340077"
TEMPLATE = "HX" + "e" * 32


@pytest.fixture(autouse=True)
def _simulator_for_every_test(request):
    if "app" in request.fixturenames:
        request.getfixturevalue("simulator_on")


def tablet(browser, base):
    context = browser.new_context(base_url=base, viewport=TABLET, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def test_a_volunteer_registers_a_person_at_the_desk_on_a_tablet(browser, live, users, runtime, twilio, backend):
    runtime.settings.templates["desk_welcome"] = {"ti": TEMPLATE}
    page = tablet(browser, live)
    sign_in(page, "agent@example.org")
    page.get_by_role("link", name="Desk", exact=True).click()
    expect(page.locator("#privacy-text")).to_have_count(0)  # first the language

    page.get_by_role("link", name=re.compile("Tigrinya")).click()
    privacy = page.locator("#privacy-text")
    expect(privacy).to_have_attribute("lang", "ti")
    expect(privacy).to_contain_text(re.compile("[\u1200-\u137f]{3}"))  # Ethiopic script, read together
    page.fill("#phone", "06 1234 0077")
    page.fill("#name", "ሰላም")
    expect(page.locator("#name")).to_have_attribute("dir", "auto")
    register = page.locator("#register")
    assert register.bounding_box()["height"] >= 44  # a finger's size on a tablet
    register.click()  # without the consent ticked
    expect(page.locator("#desk-error")).to_contain_text("without their consent nobody is registered")
    expect(page.locator("#name")).to_have_value("ሰላም")  # nothing typed is lost
    loaded = page.evaluate("document.fonts.ready.then(() => [...document.fonts].filter(f => f.status == 'loaded')"
                           ".map(f => f.family))")
    assert '"Desk Ethiopic"' in loaded or "Desk Ethiopic" in loaded  # the shipped font, not the tablet's luck
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"desk-form-tigrinya-tablet-{backend}.png", full_page=True)

    page.check("#consent")
    page.locator("#register").click()
    expect(page).to_have_url(re.compile(r"/staff/desk/\d+$"))
    expect(page.locator("#desk-status")).to_have_text("registered")
    expect(page.locator("#desk-whatsapp")).to_have_text("yes")
    expect(page.get_by_role("status")).to_contain_text("Welcome message: sent as template")
    expect(page.locator("#desk-person")).to_contain_text("taken by agent@example.org")
    runtime.tasks.drain()
    assert [m["ContentSid"] for m in twilio.sent(PHONE)] == [TEMPLATE]
    page.screenshot(path=SCREENSHOTS / f"desk-registered-tablet-{backend}.png", full_page=True)

    # The same person at the desk again next week: told, and taken to their page.
    page.get_by_role("link", name="Desk: next person").click()
    page.get_by_role("link", name=re.compile("Arabic")).click()
    expect(page.locator("#privacy-text")).to_have_attribute("dir", "rtl")
    assert page.locator("#privacy-text").evaluate("text => getComputedStyle(text).direction") == "rtl"
    page.fill("#phone", PHONE)
    page.fill("#name", "Amina")
    page.check("#consent")
    page.locator("#register").click()
    expect(page.locator("#desk-error")).to_contain_text("already registered")
    page.locator("#desk-error a").click()
    expect(page.locator("#desk-status")).to_have_text("registered")
    assert len(twilio.sent(PHONE)) == 1  # no second welcome


def test_at_the_desk_a_person_on_paper_is_found_and_their_voucher_printed(browser, live, users, runner, runtime,
                                                                          tmp_path):
    for args in (["registrations", "add", "--phone", PHONE, "--name", "Amina", "--language", "ar",
                  "--consent-by", "agent@example.org", "--no-whatsapp"],
                 ["registrations", "set-status", "--phone", PHONE, "--status", "verified", "--reason", "ok"],
                 ["registrations", "set-status", "--phone", PHONE, "--status", "included", "--reason", "ok"],
                 ["vouchers", "issue", "--kind", "supermarket", "--period", "2026-W49"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    with runtime.session() as session:
        code = session.scalar(select(Voucher.code))

    page = tablet(browser, live)
    sign_in(page, "agent@example.org")
    page.goto("/staff/desk/")
    page.fill("#find-phone", "06 1234 0077")
    page.get_by_role("button", name=re.compile("^Find")).click()
    expect(page.locator("#desk-whatsapp")).to_have_text("no: served on paper")
    expect(page.locator("#desk-vouchers tbody")).to_contain_text("€17.50")  # what is left, on the spot
    expect(page.locator("#resend")).to_have_count(0)  # nothing goes to WhatsApp for them
    page.select_option("#paper", "receipt")
    with page.expect_download() as download:
        page.click("#print")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.suffix == ".pdf"
    [(picture, text, (width, _height))] = pages(saved.read_bytes())
    assert scanned(picture) == [code] * 2 and round(width) == 80 and "قسيمة" in text
    page.reload()
    expect(page.locator("#desk-vouchers tbody td").nth(5)).not_to_be_empty()  # handed out on paper, shown
