"""Referral content in a real browser (Chromium through Playwright, the fixture of
tests/test_browser.py): an editor changes an offer in the form, previews it, publishes and rolls
back, and the public information pages show each release; /info in Arabic and Tigrinya on a
390 px phone: right to left where it should be, small, and without a cookie."""
from __future__ import annotations

import re

import pytest

from staff.auth import hash_password
from store.models import StaffUser
from tests.test_browser import PASSWORD, SCREENSHOTS, TIMEOUT_MS, browser, expect, live, page_for, sign_in  # noqa: F401
from tests.test_content_web import real_content  # noqa: F401
from tests.test_referrals import content  # noqa: F401

PHONE_SCREEN = {"width": 390, "height": 844}


@pytest.fixture
def editor(runtime):
    with runtime.session() as session:
        session.add(StaffUser(email="editor@example.org", password_hash=hash_password(PASSWORD), role="editor",
                              active=True))
        session.commit()


def test_an_editor_edits_previews_publishes_and_rolls_back_an_offer(browser, live, editor, content, runner,  # noqa: F811
                                                                    backend):
    assert runner.invoke(args=["content", "reload"]).exit_code == 0  # release 1
    page = page_for(browser, live)
    sign_in(page, "editor@example.org")
    page.goto("/staff/content/")
    page.locator(".offer-links a", has_text="Practice 03").click()
    expect(page.locator("h1")).to_contain_text("doc_03")

    page.fill("#phone", "020 555 0103")  # a national number: refused with the fix, nothing written
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#problems")).to_contain_text("write it with + and the country code")

    page.fill("#phone", "+31 20 555 0199")
    page.fill("#hours", "Mo-Fr 08:00-12:00")
    page.fill("[id='description.ar']", "عيادة عامة في وسط المدينة")
    page.select_option("#preview_language", "ar")
    page.get_by_role("button", name="Check and preview").click()
    bubble = page.locator(".wa-bubble").first
    expect(bubble).to_contain_text("عيادة عامة في وسط المدينة")
    assert bubble.evaluate("node => getComputedStyle(node).direction") == "rtl"
    expect(page.locator(".info-card-preview").first).to_contain_text("+31 20 555 0199")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("section.previews").screenshot(path=SCREENSHOTS / f"content-offer-preview-{backend}.png")

    page.get_by_role("button", name="Save").click()
    expect(page.locator(".notice[role=status]")).to_contain_text("Saved offer doc_03")
    page.goto("/staff/content/")
    page.get_by_role("button", name="Publish the files").click()
    expect(page.locator(".notice[role=status]")).to_contain_text("Published release 2")

    visitor = page_for(browser, live)
    visitor.goto("/info/en/testtown/health/")
    expect(visitor.locator("#offer-doc_03")).to_contain_text("+31 20 555 0199")

    page.get_by_role("button", name="Roll back to release 1").click()
    expect(page.locator(".notice[role=status]")).to_contain_text("release 3 restores release 1")
    expect(page.locator("#release-3")).to_contain_text("rollback to 1")
    visitor.reload()
    expect(visitor.locator("#offer-doc_03")).to_contain_text("+31 20 555 0103")
    page.context.close()
    visitor.context.close()


@pytest.mark.parametrize("language, direction", [("ar", "rtl"), ("ti", "ltr")])
def test_info_pages_on_a_390_px_phone(browser, live, real_content, runner, backend, language, direction):  # noqa: F811
    assert runner.invoke(args=["content", "reload"]).exit_code == 0
    context = browser.new_context(base_url=live, viewport=PHONE_SCREEN, is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    responses = []
    page.on("response", lambda response: responses.append(response))
    page.goto(f"/info/{language}/")
    root = page.locator("html")
    expect(root).to_have_attribute("lang", language)
    assert root.evaluate("node => getComputedStyle(node).direction") == direction
    page.locator(".choices a").first.click()  # Amsterdam
    page.locator(".choices a").first.click()  # health care
    expect(page.locator(".card").first).to_be_visible()
    assert page.locator("h1").evaluate("node => getComputedStyle(node).direction") == direction
    assert page.locator(".card .ways bdi").first.evaluate("node => getComputedStyle(node).unicodeBidi") == "isolate"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_SCREEN["width"]  # nothing cut off
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"info-{language}-390px-{backend}.png", full_page=True)

    page.locator(".languages a[hreflang=nl]").click()  # the switcher keeps the page, in another language
    expect(page).to_have_url(re.compile(r"/info/nl/amsterdam/health/$"))
    assert page.locator("html").evaluate("node => getComputedStyle(node).direction") == "ltr"

    assert all(response.url.startswith(live) for response in responses), "nothing loaded from elsewhere"
    assert not [r.url for r in responses if "set-cookie" in r.all_headers()], "no cookie set"
    assert context.cookies() == []
    pages = {}
    for response in responses:  # fetched again: a page's body is gone once the browser navigated away
        if response.request.resource_type in ("document", "stylesheet"):
            again = context.request.get(response.url)
            assert "set-cookie" not in again.headers
            pages[response.url] = len(again.body())
    css = sum(size for url, size in pages.items() if url.endswith(".css"))
    for url, size in pages.items():
        if not url.endswith(".css"):
            assert size + css < 50_000, (url, size, css)  # the page and its one stylesheet, no images
    context.close()
