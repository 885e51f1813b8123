"""Bot texts in a real browser (issue 21, points 2 and 3): an editor changes what the menu says in
French and Arabic, sees the WhatsApp preview and the character counter follow the typing, saves,
publishes, and a test person in the simulator gets the new text in both languages; after a
rollback, the old one. Reuses tests/test_browser.py's Chromium and live server."""
from __future__ import annotations

import re

import pytest

from staff.auth import hash_password
from store.models import StaffUser
from tests.test_browser import (  # noqa: F401  (fixtures)
    PASSWORD,
    _simulator_for_every_test,
    browser,
    expect,
    live,
    page_for,
    sign_in,
    write,
)
from tests.test_texts import files  # noqa: F401  (fixture)

MENU = "What can I do for you?"
FRENCH_OLD, FRENCH_NEW = "Que puis-je faire pour vous ?", "Comment puis-je vous aider aujourd'hui ?"
ARABIC_OLD, ARABIC_NEW = "كيف يمكنني مساعدتك؟", "بماذا أساعدك اليوم؟"
LANGUAGE_NUMBER = {"ar": "1", "fr": "4"}  # flows/language.yml


@pytest.fixture
def editor(runtime, files):  # noqa: F811
    with runtime.session() as session:
        session.add(StaffUser(email="editor@example.org", password_hash=hash_password(PASSWORD), role="editor",
                              active=True))
        session.commit()
    return "editor@example.org"


def menu_as_a_new_person(page, language: str):
    """A new test person picks `language` in the simulator; returns the chat."""
    page.goto("/simulator/")
    before = page.locator(".phone-number").inner_text()
    page.get_by_role("button", name="Start again as a new person").click()
    # The new person's page, not the last one's chat (which also shows the language menu)
    expect(page.locator(".phone-number")).not_to_have_text(before)
    chat = page.locator("#conversation")
    write(page, "hello")
    expect(chat).to_contain_text("2. English")
    write(page, LANGUAGE_NUMBER[language])
    expect(page.locator("#phone-language")).to_have_text(language)
    return chat


def edit_translation(page, language: str, text: str):
    area = page.locator(f"#text-{language}")
    area.fill(text)
    expect(page.locator(f"#preview-{language} .wa-bubble")).to_have_text(text)  # the preview follows the typing
    expect(page.locator(f"#counter-{language}")).to_contain_text(f"{len(text)} / 1024 characters")
    page.locator(f"#language-{language} button[type=submit]").click()
    expect(page.locator("main .notice").first).to_contain_text(f"Saved the {language} text")
    expect(page.locator(f"#text-{language}")).to_have_value(text)


def test_an_editor_changes_a_text_and_people_get_it_in_two_languages(browser, live, editor):  # noqa: F811
    page = page_for(browser, live)
    sign_in(page, editor)
    page.goto("/staff/texts/?flow=main&q=" + MENU.replace(" ", "+").replace("?", "%3F"))
    row = page.locator("tr.text-row", has_text=MENU).first
    row.get_by_role("link").click()
    expect(page.locator("h1")).to_have_text("main › menu: menu")
    assert page.locator("#text-ar").get_attribute("dir") == "auto"
    assert page.locator("#text-ar").evaluate("box => getComputedStyle(box).direction") == "rtl"
    expect(page.locator("#preview-fr .wa-list-button")).to_be_visible()  # seven options: a list, as sent

    too_long = "x" * 1030
    page.locator("#text-fr").fill(too_long)
    expect(page.locator("#counter-fr")).to_have_class(re.compile(r"\bover\b"))
    page.locator("#text-fr").fill("Pour {name} ?")
    expect(page.locator("#placeholders-fr")).to_contain_text("Placeholders must be exactly: none")
    page.locator("#language-fr button[type=submit]").click()  # the server refuses it too
    expect(page.locator("#language-fr .error")).to_contain_text("it may not contain {name}")

    edit_translation(page, "fr", FRENCH_NEW)
    edit_translation(page, "ar", ARABIC_NEW)

    phone = page_for(browser, live)
    sign_in(phone, editor)
    chat = menu_as_a_new_person(phone, "fr")  # saved is not yet published: people get the live text
    expect(chat.locator(".message.bot").last).to_contain_text(FRENCH_OLD)

    expect(page.locator("#unpublished")).to_contain_text("saved changes that people do not get yet")
    page.fill("#note", "a warmer menu question")
    page.click("#publish")
    expect(page.locator("main .notice").first).to_contain_text("Published release 2")
    expect(page.locator("#live-release")).to_contain_text("Release 2 is live")

    chat = menu_as_a_new_person(phone, "fr")
    expect(chat.locator(".message.bot").last).to_contain_text(FRENCH_NEW)
    chat = menu_as_a_new_person(phone, "ar")
    expect(chat.locator(".message.bot").last).to_contain_text(ARABIC_NEW)

    page.goto("/staff/texts/")
    expect(page.locator("#release-2")).to_contain_text("a warmer menu question")
    page.get_by_role("button", name="Roll back to release 1").click()
    expect(page.locator("main .notice").first).to_contain_text("Release 1 is live again, as release 3")
    chat = menu_as_a_new_person(phone, "fr")
    expect(chat.locator(".message.bot").last).to_contain_text(FRENCH_OLD)
    chat = menu_as_a_new_person(phone, "ar")
    expect(chat.locator(".message.bot").last).to_contain_text(ARABIC_OLD)
    page.context.close()
    phone.context.close()
