"""Staff work in a real browser (Debian's Chromium through Playwright, with tests/test_browser.py's
fixtures): finding a person, pausing and resuming, issuing a week's vouchers with a preview and
progress, supermarkets and their till keys, staff accounts, invitations and a Dutch CSV."""
from __future__ import annotations

import re

from staff.auth import hash_password
from store.models import StaffUser
from tests.test_browser import PASSWORD, SCREENSHOTS, browser, expect, live, page_for, sign_in  # noqa: F401  (browser and live are fixtures)
from tests.test_staff import import_csv, move, registration_ids


def add_staff(runtime, *roles):
    with runtime.session() as session:
        session.add_all([StaffUser(email=f"{role}@example.org", password_hash=hash_password(PASSWORD), role=role,
                                   active=True) for role in roles])
        session.commit()


def admin_page(browser, live, runtime, role="admin"):  # noqa: F811
    add_staff(runtime, role)
    page = page_for(browser, live)
    sign_in(page, f"{role}@example.org")
    expect(page).to_have_url(re.compile(r"/staff/$"))
    return page


def test_find_a_person_by_phone_name_or_reference(browser, live, runtime, backend):  # noqa: F811
    import_csv(runtime, "phone,language,reference\n" + "".join(f"+3161200{n:04d},en,REF-{n}\n" for n in range(60)))
    ids = registration_ids(runtime)
    move(runtime, ids["+31612000007"], name="Amal Haddad")
    move(runtime, ids["+31612000008"], name="أمل حداد")
    page = admin_page(browser, live, runtime, "supervisor")
    page.goto("/staff/registrations/")
    expect(page.locator("#count")).to_contain_text("60 registrations, page 1 of 2")
    page.fill("#q", "06 1200 0007")
    page.click("#search")
    expect(page.locator("#count")).to_have_text("1 registration found by phone number.")
    expect(page.locator("main table tbody tr")).to_have_count(1)
    expect(page.locator("main table tbody")).to_contain_text("Amal Haddad")
    expect(page.locator("main table tbody")).not_to_contain_text("612000007")  # masked on the list

    page.fill("#q", "amal")
    page.click("#search")
    expect(page.locator("#count")).to_have_text("1 registration found by name or partner reference.")
    page.fill("#q", "حداد")
    page.click("#search")
    name = page.locator("main table tbody td[dir=auto]").first
    expect(name).to_have_text("أمل حداد")
    assert name.evaluate("cell => getComputedStyle(cell).direction") == "rtl"

    page.fill("#q", "ref-1")
    page.select_option("#by", "reference")
    page.click("#search")
    expect(page.locator("#count")).to_have_text("11 registrations found by partner reference.")  # 1, 10-19
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"registrations-search-{backend}.png", full_page=True)

    page.fill("#q", "12ab")
    page.select_option("#by", "phone")
    page.click("#search")
    expect(page.locator("main .error")).to_contain_text("not a phone number we can read")
    page.context.close()


def test_pause_and_resume_from_the_persons_page(browser, live, runtime):  # noqa: F811
    import_csv(runtime, "phone,language\n+31612000001,en\n")
    rid = registration_ids(runtime)["+31612000001"]
    move(runtime, rid, "registering", "registered", "verified", "included")
    page = admin_page(browser, live, runtime)
    for action, reason, now, change in (("pause", "in hospital for two weeks", "paused", "included → paused"),
                                        ("resume", "back home", "included", "paused → included"),
                                        ("end", "moved away", "ended", "included → ended")):
        page.goto(f"/staff/registrations/{rid}")
        page.select_option("#action", action)
        page.fill("#reason", reason)
        page.click("#status-form button[type=submit]")
        expect(page.locator("h1")).to_have_text(f"{action.capitalize()}: 1 of 1 done")
        page.goto(f"/staff/registrations/{rid}")
        expect(page.locator("#status")).to_have_text(now)
        expect(page.locator("main table")).to_contain_text(change)
        expect(page.locator("main table")).to_contain_text(reason)
    page.context.close()
