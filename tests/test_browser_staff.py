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


def test_a_supermarket_is_added_with_its_key_shown_once_and_disabled(browser, live, runtime):  # noqa: F811
    page = admin_page(browser, live, runtime, "supervisor")
    page.click("text=Supermarkets")
    page.fill("#store-name", "Jumbo Noord")
    page.click("#add-store button[type=submit]")
    key = page.locator("#till-key")
    expect(key).to_be_visible()
    assert len(key.inner_text().strip()) >= 40
    expect(page.locator("#new-key")).to_contain_text("will not be shown again")
    page.goto("/staff/stores/")
    expect(page.locator("#till-key")).to_have_count(0)
    row = page.locator("#stores tr[data-store='Jumbo Noord']")
    expect(row).to_contain_text("enabled")
    row.locator("input[name=confirm]").check()
    row.get_by_role("button", name="Disable").click()
    expect(page.locator("main .notice")).to_contain_text("Jumbo Noord is disabled")
    expect(page.locator("#stores tr[data-store='Jumbo Noord']")).to_contain_text("disabled")
    page.context.close()


def test_an_admin_invites_and_deactivates_a_volunteer_whose_session_ends(browser, live, runtime):  # noqa: F811
    admin = admin_page(browser, live, runtime)
    admin.click("text=Staff accounts")
    admin.fill("#new-email", "volunteer@example.org")
    admin.select_option("#new-role", "agent")
    admin.click("#create-user button[type=submit]")
    password = admin.locator("#one-time-password").inner_text().strip()
    expect(admin.locator("#new-password")).to_contain_text("will not be shown again")

    volunteer = page_for(browser, live)
    sign_in(volunteer, "volunteer@example.org", password)
    expect(volunteer).to_have_url(re.compile(r"/staff/$"))

    admin.goto("/staff/users/")
    row = admin.locator("#accounts tr[data-email='volunteer@example.org']")
    row.locator("input[name=confirm]").check()
    row.get_by_role("button", name="Deactivate").click()
    expect(admin.locator("main .notice")).to_contain_text("can no longer sign in; 1 open session ended")
    expect(admin.locator("#accounts tr[data-email='volunteer@example.org'] .state")).to_have_text("deactivated")

    volunteer.goto("/helpdesk/")
    expect(volunteer).to_have_url(re.compile(r"/staff/login"))  # the open session ended
    sign_in(volunteer, "volunteer@example.org", password)
    expect(volunteer.locator("main .error")).to_be_visible()  # and no new one starts
    admin.context.close()
    volunteer.context.close()


def test_invite_now_shows_the_count_and_asks_to_confirm(browser, live, runtime):  # noqa: F811
    runtime.settings.templates["invitation"] = {lang: "HX" + "0" * 32 for lang in runtime.settings.languages.all}
    import_csv(runtime, "phone,language\n+31612000001,en\n+31612000002,nl\n")
    page = admin_page(browser, live, runtime, "supervisor")
    page.goto("/staff/import")
    page.click("#invite-now")
    expect(page.locator("#invite-count")).to_contain_text("2 people will be sent an invitation")
    page.click("#confirm-invite")
    expect(page.locator("main table")).to_contain_text("invited")
    expect(page.locator("main table")).to_contain_text("2")
    page.goto("/staff/import")
    page.click("#invite-now")
    expect(page.locator("#invite-count")).to_contain_text("Nobody to invite")
    page.context.close()


def test_a_dutch_csv_is_imported_with_the_rejected_values_shown(browser, live, runtime, tmp_path):  # noqa: F811
    import_csv(runtime, "phone\n+31612009999\n", partner="Stichting Hulp")
    sheet = tmp_path / "lijst.csv"
    sheet.write_text("Telefoonnummer;Naam;Taal;Organisatie\n06 1200 0001;Amal;ar;stichting hulp\n"
                     "06 12;Jan;nl;Stichting Hulp\n", encoding="utf-8")
    page = admin_page(browser, live, runtime, "supervisor")
    page.goto("/staff/import")
    page.set_input_files("#file", str(sheet))
    page.click("form[enctype] button[type=submit]")
    report = page.locator("main .report")
    expect(report).to_contain_text("Accepted: 1")
    expect(report).to_contain_text("Rejected: 1")
    expect(page.locator("#rejected tbody tr")).to_contain_text("06 12")
    expect(page.locator("#rejected tbody tr")).to_contain_text("not a valid phone number")
    expect(report).to_contain_text("linked to the known partner Stichting Hulp")
    page.context.close()


def test_vouchers_are_issued_with_a_preview_a_confirmation_and_progress(browser, live, runtime):  # noqa: F811
    import_csv(runtime, "phone,language\n" + "".join(f"+3161200{n:04d},en\n" for n in range(12)))
    for rid in registration_ids(runtime).values():
        move(runtime, rid, "registering", "registered", "verified", "included")
    page = admin_page(browser, live, runtime, "supervisor")
    page.click("text=Issue vouchers")
    expect(page.locator("#issue-preview tbody .to-issue").first).to_have_text("12")
    expect(page.locator("#issue-start")).to_have_text("Issue 12 vouchers")
    page.check("#issue-confirm")
    page.click("#issue-start")
    expect(page.locator("#issue-progress")).to_have_attribute("data-state", "done", timeout=30_000)
    expect(page.locator("#issue-state")).to_contain_text("Done: 12 issued, 0 already had theirs, 0 failed")
    assert page.locator("#issue-progress progress").evaluate("bar => bar.value === bar.max")
    page.goto("/staff/vouchers/issue/")
    expect(page.locator("#nothing-to-issue")).to_be_visible()
    page.context.close()
