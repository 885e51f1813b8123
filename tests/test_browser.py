"""The helpdesk and the phone simulator in a real browser (Debian's Chromium, driven by
Playwright): a person asks for help in the simulator, an agent sees it arrive in the queue
without reloading, answers in the same chat and hands the person back to the bot.

Needs `apt-get install -y chromium` (.ci/run does it) and the test extra's playwright; the
browser Playwright would download itself is never used.
"""
from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from staff.auth import WRONG, hash_password
from store.models import Contact, StaffUser, Ticket

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
PASSWORD = "a long enough password"
TIMEOUT_MS = 10_000

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' brings playwright")
expect = sync_api.expect
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(autouse=True)
def _simulator_for_every_test(request):
    """Every test here may open the phone simulator, which the suite's app has off by default."""
    if "app" in request.fixturenames:
        request.getfixturevalue("simulator_on")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=30_000)
        yield chromium
        chromium.close()


@pytest.fixture
def live(app):
    """The app on a real port, as the browser needs; plain http, so the session cookie may not
    be https-only here."""
    app.config["SESSION_COOKIE_SECURE"] = False
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="live-server")
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def users(runtime):
    with runtime.session() as session:
        session.add_all([StaffUser(email=f"{role}@example.org", password_hash=hash_password(PASSWORD), role=role,
                                   active=True) for role in ("supervisor", "agent")])
        session.commit()


def page_for(browser, base):
    context = browser.new_context(base_url=base)
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def sign_in(page, email, password=PASSWORD):
    page.goto("/staff/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("main button[type=submit]")


def write(phone, text):
    phone.fill("#message", text)
    phone.click("#send")


def test_a_person_asks_for_help_and_an_agent_answers_in_the_same_chat(browser, live, users):
    phone = page_for(browser, live)
    sign_in(phone, "supervisor@example.org")
    expect(phone).to_have_url(re.compile(r"/staff/$"))
    phone.goto("/simulator/")
    chat = phone.locator("#conversation")
    write(phone, "hello")
    expect(chat).to_contain_text("2. English")  # fifteen languages: numbered text, as on WhatsApp
    write(phone, "2")
    expect(phone.locator("#phone-language")).to_have_text("en")
    chat.locator(".list-picker summary").last.click()  # the menu: a list behind one button
    expect(chat.get_by_role("button", name="Talk to a person").last).to_be_visible()

    helper = page_for(browser, live)
    sign_in(helper, "agent@example.org")
    helper.goto("/helpdesk/")
    expect(helper.locator("#queue tbody")).to_contain_text("Nobody is waiting.")

    write(phone, "human")
    expect(chat).to_contain_text("I have asked a person from our team")
    waiting = helper.locator("#queue tbody tr[data-ticket]")
    expect(waiting).to_have_count(1)  # arrived without a reload
    expect(helper).to_have_title(re.compile(r"^\(1 new\) Helpdesk queue"))  # the tab's title says so too
    expect(waiting).to_contain_text("asked")
    expect(waiting).to_contain_text("nobody yet")
    waiting.locator("a").click()

    expect(helper.locator("#conversation")).to_contain_text("human")
    helper.click("#claim")
    expect(helper.locator("#ticket-assigned")).to_have_text("agent@example.org")
    helper.get_by_role("button", name="Hello, I am from the team. How can I help you?").click()
    expect(helper.locator("#reply-text")).to_have_value("Hello, I am from the team. How can I help you?")
    helper.fill("#reply-text", "Hello, how can I help?")
    helper.click("#send-reply")
    expect(helper.locator("#conversation .message.agent")).to_contain_text("Agent (agent@example.org)")

    expect(chat.locator(".message.agent")).to_contain_text("Hello, how can I help?")
    write(phone, "I need food")
    expect(helper.locator("#conversation")).to_contain_text("I need food")  # the ticket page refreshes too

    helper.select_option("#outcome", "resolved")
    helper.click("#close-ticket")
    expect(helper.locator("#ticket-status")).to_have_text("closed (resolved)")
    expect(chat).to_contain_text("You are talking to the bot again")
    write(phone, "menu")
    expect(chat.locator(".message.bot").last).to_contain_text("What can I do for you?")
    phone.context.close()
    helper.context.close()


def test_refusals_show_in_the_browser(browser, live, users):
    page = page_for(browser, live)
    sign_in(page, "agent@example.org", "not the password at all")
    expect(page.locator("main .error")).to_have_text(WRONG)
    sign_in(page, "agent@example.org")
    expect(page).to_have_url(re.compile(r"/staff/$"))
    response = page.goto("/staff/registrations/")
    assert response.status == 403
    expect(page.locator("h1")).to_have_text("Not for your role")
    response = page.goto("/helpdesk/")
    assert response.status == 200
    page.context.close()


# --- right to left --------------------------------------------------------------------------

ARABIC = "أحتاج مساعدة، رمز القسيمة ABC-123!"
FARSI = "سلام، کد من 4821 کار نمی‌کند؟"

# Where a paragraph's first and last written characters land on screen, and its direction.
ENDS = """node => {
  if (!node.isConnected) return {direction: ""};
  const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
  const texts = [];
  while (walker.nextNode()) if (walker.currentNode.data.trim()) texts.push(walker.currentNode);
  const place = (text, at) => { const range = document.createRange(); range.setStart(text, at);
    range.setEnd(text, at + 1); const box = range.getBoundingClientRect(); return {left: box.left, right: box.right}; };
  const first = texts[0], last = texts[texts.length - 1];
  return {direction: getComputedStyle(node).direction, first: place(first, first.data.search(/\\S/)),
          last: place(last, last.data.trimEnd().length - 1)};
}"""


def reads_right_to_left(paragraph):
    """Laid out right to left, the sentence starts at the right and its closing punctuation
    (the '!' or '؟' typed last) sits at its left end, not stranded on the right."""
    for _ in range(50):  # the page redraws the chat when a message's status changes: measure a drawn one
        ends = paragraph.evaluate(ENDS)
        if ends["direction"]:
            break
        paragraph.page.wait_for_timeout(100)
    assert ends["direction"] == "rtl", ends
    assert ends["last"]["right"] <= ends["first"]["left"], ends


def test_arabic_and_farsi_read_right_to_left_in_the_console_and_the_simulator(browser, live, users, whatsapp, runtime):
    whatsapp.send(ARABIC, phone="+31612340001")
    whatsapp.send("human", phone="+31612340001")
    with runtime.session() as session:
        arabic = session.scalar(select(Ticket).join(Contact).where(Contact.language == "ar"))
        assert arabic is not None
    helper = page_for(browser, live)
    sign_in(helper, "agent@example.org")
    helper.goto(f"/helpdesk/tickets/{arabic.id}")
    chat = helper.locator("#conversation")
    bubble = chat.locator(".message.in .text", has_text="ABC-123")
    expect(bubble).to_have_count(1)
    reads_right_to_left(bubble)
    expect(bubble.locator("bdi")).to_have_text("ABC-123")  # the code keeps its own order
    expect(chat).to_have_attribute("data-drawn", "1")  # redrawn by the page's script: still right to left
    reads_right_to_left(chat.locator(".message.in .text", has_text="ABC-123"))
    assert helper.locator("#reply-text").evaluate("box => getComputedStyle(box).direction") == "rtl"
    ready = helper.locator("button.canned-reply").first
    assert ready.evaluate("button => getComputedStyle(button).direction") == "rtl"
    helper.fill("#note-text", "اتصلت بالعائلة؟")
    helper.get_by_role("button", name="Save the note").click()
    reads_right_to_left(helper.locator("#notes .text").last)

    phone = page_for(browser, live)
    sign_in(phone, "supervisor@example.org")
    phone.goto("/simulator/")
    write(phone, FARSI)
    farsi = phone.locator("#conversation .message.in .text", has_text="4821")
    expect(farsi).to_have_count(1)
    reads_right_to_left(farsi)
    expect(farsi.locator("bdi")).to_have_text("4821")
    phone.fill("#message", "مرحبا")  # the box follows what is typed
    assert phone.locator("#message").evaluate("box => getComputedStyle(box).direction") == "rtl"
    helper.context.close()
    phone.context.close()


# --- a phone-sized screen -------------------------------------------------------------------

PHONE_SCREEN = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "test-artefacts" / "screenshots"


def test_the_queue_and_a_ticket_work_on_a_390_px_phone(browser, live, users, whatsapp, backend):
    for number in ("+31612340011", "+31612340012"):
        whatsapp.send("hello", phone=number)
        whatsapp.send("2", phone=number)
        whatsapp.send("human", phone=number)
    context = browser.new_context(base_url=live, viewport=PHONE_SCREEN, is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    sign_in(page, "agent@example.org")
    page.goto("/helpdesk/")
    cards = page.locator("#queue tbody tr[data-ticket]")
    expect(cards).to_have_count(2)
    expect(page.locator("#queue thead")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_SCREEN["width"]  # nothing cut off
    # Both boxes in one look: the queue refreshes itself, and a card read between refreshes is gone.
    first, second = page.locator("#queue tbody tr[data-ticket]").evaluate_all(
        "rows => rows.slice(0, 2).map(row => row.getBoundingClientRect().toJSON())")
    assert second["y"] >= first["y"] + first["height"] and first["width"] <= PHONE_SCREEN["width"]  # stacked cards
    label = cards.nth(0).locator("td").nth(1).evaluate("cell => getComputedStyle(cell, '::before').content")
    assert "Reason" in label
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"queue-390px-{backend}.png", full_page=True)

    cards.nth(0).locator("a").click()
    expect(page.locator("#conversation")).to_contain_text("human")
    page.click("#claim")
    expect(page.locator("#ticket-assigned")).to_have_text("agent@example.org")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_SCREEN["width"]
    page.screenshot(path=SCREENSHOTS / f"ticket-390px-{backend}.png", full_page=True)
    for reach in ("#reply-text", "#send-reply"):  # the reply box and its Send button on the first screen
        box = page.locator(reach).bounding_box()
        assert box["y"] + box["height"] <= PHONE_SCREEN["height"], (reach, box)
    page.fill("#reply-text", "Hello from a phone")
    page.click("#send-reply")
    expect(page.locator("#conversation .message.agent")).to_contain_text("Hello from a phone")
    context.close()


# -- publishing bot texts and rolling them back (issue 21) ----------------------------------
from tests.test_flow_releases import FRENCH_MENU, edit  # noqa: E402

DUTCH_MENU = 'msgstr "Wat kan ik voor je doen?"'


@pytest.fixture
def editor_user(runtime):
    with runtime.session() as session:
        session.add(StaffUser(email="editor@example.org", password_hash=hash_password(PASSWORD), role="editor",
                              active=True))
        session.commit()


def simulated_person(browser, live, choice: str):
    """A test person in the simulator who chose a language (its number in the list)."""
    phone = page_for(browser, live)
    sign_in(phone, "editor@example.org")
    phone.goto("/simulator/")
    write(phone, "hello")
    expect(phone.locator("#conversation")).to_contain_text("15.")
    write(phone, choice)
    return phone


def last_menu(phone, expected: str) -> None:
    write(phone, "menu")
    expect(phone.locator("#conversation .message.bot").last).to_contain_text(expected)


def test_an_editor_publishes_and_rolls_back_and_people_see_it(browser, live, runtime, draft, editor_user):
    french, dutch = simulated_person(browser, live, "4"), simulated_person(browser, live, "6")
    last_menu(french, "Que puis-je faire pour vous ?")
    last_menu(dutch, "Wat kan ik voor je doen?")

    edit(draft / "translations/fr/LC_MESSAGES/messages.po", FRENCH_MENU, 'msgstr "Comment puis-je vous aider ?"')
    edit(draft / "translations/nl/LC_MESSAGES/messages.po", DUTCH_MENU, 'msgstr "Hoe kan ik je helpen?"')
    editor = page_for(browser, live)
    sign_in(editor, "editor@example.org")
    editor.goto("/staff/")
    editor.get_by_role("link", name="Publish texts").first.click()
    expect(editor.locator("#live-release")).to_contain_text("Release 1")
    expect(editor.locator("#draft-state")).to_contain_text("not live yet")
    editor.fill("#note", "friendlier menu question")
    editor.click("#publish")
    expect(editor.locator("main")).to_contain_text("Published release 2")
    expect(editor.locator("#live-release")).to_contain_text("friendlier menu question")
    expect(editor.locator("#publish")).to_be_disabled()  # nothing left to publish
    last_menu(french, "Comment puis-je vous aider ?")
    last_menu(dutch, "Hoe kan ik je helpen?")

    editor.get_by_role("button", name="Make release 1 live again").click()
    expect(editor.locator("main")).to_contain_text("Release 1 is live again, as release 3")
    expect(editor.locator("#release-3")).to_contain_text("rollback to 1")
    expect(editor.locator("#release-3")).to_contain_text("live")
    last_menu(french, "Que puis-je faire pour vous ?")
    last_menu(dutch, "Wat kan ik voor je doen?")
    for page in (french, dutch, editor):
        page.context.close()
