"""The staff web pages: who gets in, what each role sees, and what their clicks change."""
from __future__ import annotations

import io
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from registration.imports import import_contacts
from registration.lifecycle import change_status
from staff.auth import WRONG
from store.models import Registration, RegistrationEvent, StaffUser

PASSWORD = "a long enough password"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
SECURITY = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


# --- helpers --------------------------------------------------------------------------------

def create_user(runner, email, role, partner=None, password=PASSWORD):
    args = ["users", "create", email, "--role", role, "--password-stdin"] + (["--partner", partner] if partner else [])
    result = runner.invoke(args=args, input=password + "\n")
    assert result.exit_code == 0, result.output
    return result


def csrf(client, path="/staff/login") -> str:
    return TOKEN.search(client.get(path).text).group(1)


def login(client, email, password=PASSWORD, **extra):
    return client.post("/staff/login", data={"email": email, "password": password, "csrf_token": csrf(client)},
                       **extra)


def signed_in(client, runner, role="admin", partner=None, email=None) -> str:
    email = email or f"{role}@example.org"
    create_user(runner, email, role, partner)
    response = login(client, email)
    assert response.status_code == 302, response.text
    return email


def import_csv(runtime, text, partner="Partner A"):
    settings = runtime.settings
    with runtime.session() as session:
        report = import_contacts(session, text, partner_name=partner, secret=settings.secrets.encryption_key,
                                 region=settings.program.default_region, languages=settings.languages.all,
                                 actor="test")
        session.commit()
    return report


def registration_ids(runtime) -> dict[str, int]:
    """Registration id by phone number."""
    with runtime.session() as session:
        return {registration.contact.phone: registration.id for registration in session.scalars(select(Registration))}


def move(runtime, rid, *statuses, name=None):
    with runtime.session() as session:
        registration = session.get(Registration, rid)
        for status in statuses:
            change_status(session, registration, status, actor="test", reason="test set-up")
        if name is not None:
            registration.name = name
        session.commit()


def status_of(runtime, rid) -> str:
    with runtime.session() as session:
        return session.get(Registration, rid).status


def listed(page: str) -> set[int]:
    return {int(i) for i in re.findall(r'href="/staff/registrations/(\d+)">#\d+</a></th>', page)}


def bulk(client, ids, action, reason):
    return client.post("/staff/registrations/bulk", data={"ids": [str(i) for i in ids], "action": action,
                                                          "reason": reason,
                                                          "csrf_token": csrf(client, "/staff/registrations/")})


PEOPLE_A = "phone,language,reference\n+31612000001,en,A-1\n+31612000002,ar,A-2\n+31612000003,nl,A-3\n"
PEOPLE_B = "phone,language\n+31612000678,en\n"


# --- accounts and signing in ----------------------------------------------------------------

def test_users_create_stores_an_argon2_hash_and_a_lowercase_email(runner, runtime):
    create_user(runner, "Ana@Example.org", "partner", partner="Partner A")
    with runtime.session() as session:
        user = session.scalar(select(StaffUser))
        assert (user.email, user.role, user.partner_id is not None) == ("ana@example.org", "partner", True)
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash


def test_users_create_prompts_twice_with_hidden_input(runner, runtime):
    result = runner.invoke(args=["users", "create", "sam@example.org", "--role", "supervisor"],
                           input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert "Repeat the password" in result.output


@pytest.mark.parametrize("args, message", [
    (["--role", "partner"], "needs --partner"),
    (["--role", "agent", "--partner", "Partner A"], "only for --role partner"),
    (["--role", "boss"], "Invalid value for '--role'"),
])
def test_users_create_refuses_bad_combinations(runner, args, message):
    result = runner.invoke(args=["users", "create", "x@example.org", "--password-stdin"] + args,
                           input=PASSWORD + "\n")
    assert result.exit_code != 0
    assert message in result.output


def test_users_create_refuses_a_short_password_and_a_second_account(runner):
    short = runner.invoke(args=["users", "create", "x@example.org", "--role", "agent", "--password-stdin"],
                          input="short\n")
    assert short.exit_code != 0 and "at least 12 characters" in short.output
    create_user(runner, "x@example.org", "agent")
    again = runner.invoke(args=["users", "create", "X@example.org", "--role", "agent", "--password-stdin"],
                          input=PASSWORD + "\n")
    assert again.exit_code != 0 and "already exists" in again.output


def test_login_lands_on_the_staff_home(client, runner, runtime):
    create_user(runner, "ana@example.org", "admin")
    response = login(client, "ANA@example.org ")
    assert response.status_code == 302 and response.headers["Location"] == "/staff/"
    assert "ana@example.org" in client.get("/staff/").text
    with runtime.session() as session:
        assert session.scalar(select(StaffUser.last_login_at)) is not None


def test_wrong_password_and_unknown_email_get_the_same_answer(client, runner):
    create_user(runner, "ana@example.org", "admin")
    wrong = login(client, "ana@example.org", "not the password at all")
    unknown = login(client, "nobody@example.org", PASSWORD)
    assert wrong.status_code == unknown.status_code == 200
    for response in (wrong, unknown):
        assert WRONG in response.text
    assert client.get("/staff/").status_code == 302  # still not signed in


def test_five_failures_make_that_account_wait_and_the_wait_doubles(app, client, runner, monkeypatch):
    create_user(runner, "ana@example.org", "admin")
    create_user(runner, "bo@example.org", "admin")
    for _ in range(5):
        assert WRONG in login(client, "ana@example.org", "guess guess guess").text
    waiting = login(client, "ana@example.org")  # even the right password now waits, but not for long
    assert waiting.status_code == 429
    assert "Too many failed sign-ins" in waiting.text and "30 seconds" in waiting.text
    assert 25 <= int(waiting.headers["Retry-After"]) <= 30
    assert login(app.test_client(), "bo@example.org").status_code == 302  # another account is not held up
    later = time.time() + 31
    monkeypatch.setattr("staff.auth.time.time", lambda: later)
    assert WRONG in login(client, "ana@example.org", "guess again guess").text  # the sixth failure…
    doubled = login(client, "ana@example.org")
    assert doubled.status_code == 429 and 55 <= int(doubled.headers["Retry-After"]) <= 60  # …doubles the wait
    monkeypatch.setattr("staff.auth.time.time", lambda: later + 61)
    assert login(client, "ana@example.org").status_code == 302  # the real user gets in after a minute


def test_a_successful_login_clears_the_accounts_failures_but_not_the_connections(client, runner, runtime):
    """One valid account must not let a guesser reset the count of its connection."""
    create_user(runner, "ana@example.org", "admin")
    for _ in range(4):
        login(client, "ana@example.org", "guess guess guess")
    assert login(client, "ana@example.org").status_code == 302
    assert runtime.redis.keys("staff:login-failures:account:*") == []
    assert len(runtime.redis.keys("staff:login-failures:ip:*")) == 1


def test_pages_need_a_login_and_come_back_after_it(client, runner):
    response = client.get("/staff/registrations/?status=registered")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/login?next=")
    create_user(runner, "ana@example.org", "admin")
    token = csrf(client)
    back = client.post("/staff/login", data={"email": "ana@example.org", "password": PASSWORD, "csrf_token": token,
                                             "next": "/staff/registrations/?status=registered"})
    assert back.headers["Location"] == "/staff/registrations/?status=registered"


def test_login_never_redirects_to_another_site(client, runner):
    create_user(runner, "ana@example.org", "admin")
    token = csrf(client)
    response = client.post("/staff/login", data={"email": "ana@example.org", "password": PASSWORD,
                                                 "csrf_token": token, "next": "//evil.example/staff/"})
    assert response.headers["Location"] == "/staff/"


def test_logout_ends_the_session(client, runner):
    signed_in(client, runner)
    token = csrf(client, "/staff/")
    assert client.post("/staff/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/staff/registrations/").status_code == 302


def test_a_deactivated_user_is_signed_out_at_the_next_request(client, runner, runtime):
    signed_in(client, runner)
    with runtime.session() as session:
        session.scalar(select(StaffUser)).active = False
        session.commit()
    assert client.get("/staff/registrations/").status_code == 302


@pytest.mark.parametrize("role", ["agent", "editor"])
def test_roles_without_registration_work_get_a_clear_403(client, runner, role):
    signed_in(client, runner, role)
    response = client.get("/staff/registrations/")
    assert response.status_code == 403
    assert "Not for your role" in response.text and f"the role <strong>{role}</strong>" in response.text
    assert client.post("/staff/invite", data={"csrf_token": csrf(client, "/staff/")}).status_code == 403


def test_a_post_without_csrf_token_is_refused(app, client, runner, runtime):
    app.config["WTF_CSRF_ENABLED"] = True
    create_user(runner, "ana@example.org", "admin")
    refused = client.post("/staff/login", data={"email": "ana@example.org", "password": PASSWORD})
    assert refused.status_code == 400
    assert "security token" in refused.text
    signed_in_email = "ana@example.org"
    assert login(client, signed_in_email).status_code == 302
    import_csv(runtime, PEOPLE_B)
    rid = registration_ids(runtime)["+31612000678"]
    move(runtime, rid, "registering", "registered")
    forged = client.post("/staff/registrations/bulk", data={"ids": [str(rid)], "action": "verify", "reason": "x"})
    assert forged.status_code == 400
    assert status_of(runtime, rid) == "registered"


def test_forms_work_over_https_although_no_referer_is_sent(client, runner):
    create_user(runner, "ana@example.org", "admin")
    token = TOKEN.search(client.get("/staff/login", base_url="https://localhost").text).group(1)
    response = client.post("/staff/login", base_url="https://localhost",
                           data={"email": "ana@example.org", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302


def test_session_cookie_is_httponly_lax_and_secure_for_an_https_service(client, runner):
    create_user(runner, "ana@example.org", "admin")
    cookie = login(client, "ana@example.org").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_security_headers_on_staff_pages_only(client):
    for path in ("/staff/login", "/staff/static/staff.css", "/staff/registrations/"):
        response = client.get(path)
        for name, value in SECURITY.items():
            assert response.headers[name] == value, (path, name)
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert client.get("/staff/login").headers["Cache-Control"] == "no-store"
    assert "X-Frame-Options" not in client.get("/healthz").headers


# --- registrations --------------------------------------------------------------------------

def test_list_shows_masked_phones_and_the_detail_the_full_number(client, runner, runtime):
    signed_in(client, runner)
    import_csv(runtime, PEOPLE_B)
    rid = registration_ids(runtime)["+31612000678"]
    page = client.get("/staff/registrations/").text
    assert "+31\u2022\u2022\u2022\u2022\u2022\u2022\u2022678" in page
    assert "+31612000678" not in page
    assert "+31612000678" in client.get(f"/staff/registrations/{rid}").text


def test_list_filters(client, runner, runtime):
    signed_in(client, runner)
    import_csv(runtime, PEOPLE_A, partner="Partner A")
    import_csv(runtime, PEOPLE_B, partner="Partner B")
    ids = registration_ids(runtime)
    move(runtime, ids["+31612000002"], "registering", "registered")
    everyone = set(ids.values())

    def shown(**query):
        response = client.get("/staff/registrations/", query_string=query)
        assert response.status_code == 200
        return listed(response.text)

    assert shown() == everyone
    assert shown(status="registered") == {ids["+31612000002"]}
    assert shown(partner="Partner B") == {ids["+31612000678"]}
    assert shown(language="en") == {ids["+31612000001"], ids["+31612000678"]}
    assert shown(language="en", partner="Partner A") == {ids["+31612000001"]}
    today = datetime.now(UTC).date()
    assert shown(since=today.isoformat()) == everyone
    assert shown(since=(today + timedelta(days=1)).isoformat()) == set()
    assert "not a date" in client.get("/staff/registrations/?since=yesterday").text


def test_list_pages_by_fifty(client, runner, runtime):
    signed_in(client, runner)
    import_csv(runtime, "phone\n" + "".join(f"+316120001{n:02d}\n" for n in range(55)))
    first = client.get("/staff/registrations/").text
    second = client.get("/staff/registrations/?page=2").text
    assert len(listed(first)) == 50 and len(listed(second)) == 5
    assert "55 registrations, page 1 of 2" in first and 'rel="next"' in first


def test_detail_shows_the_person_and_the_history(client, runner, runtime):
    email = signed_in(client, runner)
    import_csv(runtime, PEOPLE_A)
    rid = registration_ids(runtime)["+31612000002"]
    move(runtime, rid, "registering", "registered", name="Amal Haddad")
    bulk(client, [rid], "verify", "documents seen")
    page = client.get(f"/staff/registrations/{rid}").text
    for text in ("Amal Haddad", "ar", "verified", "Partner A", "A-2", "imported from Partner A",
                 "registered → verified", "documents seen", f"staff:{email}"):
        assert text in page, text
    assert client.get("/staff/registrations/999999").status_code == 404


def test_bulk_verify_records_who_and_why(client, runner, runtime):
    email = signed_in(client, runner)
    import_csv(runtime, PEOPLE_A)
    ids = registration_ids(runtime)
    chosen = [ids["+31612000001"], ids["+31612000002"]]
    for rid in chosen:
        move(runtime, rid, "registering", "registered")
    response = bulk(client, chosen, "verify", "ID checked at the partner")
    assert response.status_code == 200
    assert "2 of 2 done" in response.text and "registered → verified" in response.text
    with runtime.session() as session:
        events = session.scalars(select(RegistrationEvent).where(RegistrationEvent.to_status == "verified")).all()
        assert sorted(e.registration_id for e in events) == sorted(chosen)
        assert {(e.actor, e.reason, e.from_status) for e in events} == \
            {(f"staff:{email}", "ID checked at the partner", "registered")}
    assert status_of(runtime, ids["+31612000003"]) == "imported"


def test_bulk_change_tells_the_people_it_can_after_the_commit(client, runner, runtime, twilio):
    signed_in(client, runner)
    runtime.settings.templates["status_verified"] = {"en": "HX" + "1" * 32}  # English only
    import_csv(runtime, PEOPLE_A)
    ids = registration_ids(runtime)
    english, arabic = ids["+31612000001"], ids["+31612000002"]
    for rid in (english, arabic):
        move(runtime, rid, "registering", "registered")
    page = bulk(client, [english, arabic], "verify", "checked").text
    assert page.count("the person will be told") == 1 and page.count("the person was not told") == 1
    runtime.tasks.drain()
    assert [m["ContentSid"] for m in twilio.sent("+31612000001")] == ["HX" + "1" * 32]
    assert twilio.sent("+31612000002") == []


def test_decline_without_a_reason_is_refused(client, runner, runtime):
    signed_in(client, runner)
    import_csv(runtime, PEOPLE_B)
    rid = registration_ids(runtime)["+31612000678"]
    move(runtime, rid, "registering", "registered")
    response = bulk(client, [rid], "decline", "   ")
    assert response.status_code == 400
    assert "A reason is required" in response.text
    assert status_of(runtime, rid) == "registered"


def test_an_invalid_transition_is_reported_and_the_others_still_happen(client, runner, runtime):
    signed_in(client, runner)
    import_csv(runtime, PEOPLE_A)
    ids = registration_ids(runtime)
    move(runtime, ids["+31612000001"], "registering", "registered")
    move(runtime, ids["+31612000003"], "registering", "registered")
    response = bulk(client, [ids["+31612000001"], ids["+31612000002"], ids["+31612000003"]], "verify", "checked")
    assert "2 of 3 done" in response.text
    assert "cannot go from imported to verified" in response.text
    assert [status_of(runtime, ids[p]) for p in ("+31612000001", "+31612000002", "+31612000003")] == \
        ["verified", "imported", "verified"]


def test_possible_duplicates_same_name_same_partner(client, runner, runtime):
    signed_in(client, runner)
    import_csv(runtime, PEOPLE_A, partner="Partner A")
    import_csv(runtime, PEOPLE_B, partner="Partner B")
    ids = registration_ids(runtime)
    move(runtime, ids["+31612000001"], name="Amal Haddad")
    move(runtime, ids["+31612000002"], name="amal  HADDAD")
    move(runtime, ids["+31612000678"], name="Amal Haddad")  # same name, another partner: not flagged
    page = client.get("/staff/registrations/").text
    assert f"possible duplicate: #{ids['+31612000002']}" in page
    assert f"possible duplicate: #{ids['+31612000001']}" in page
    assert f"possible duplicate: #{ids['+31612000678']}" not in page
    detail = client.get(f"/staff/registrations/{ids['+31612000001']}").text
    assert f"possible duplicate: #{ids['+31612000002']}" in detail
    assert "possible duplicate" not in client.get(f"/staff/registrations/{ids['+31612000678']}").text


def test_a_partner_sees_and_verifies_only_its_own(client, runner, runtime):
    import_csv(runtime, PEOPLE_A, partner="Partner A")
    import_csv(runtime, PEOPLE_B, partner="Partner B")
    signed_in(client, runner, "partner", partner="Partner B")
    ids = registration_ids(runtime)
    own, other = ids["+31612000678"], ids["+31612000001"]
    for rid in (own, other):
        move(runtime, rid, "registering", "registered")
    assert listed(client.get("/staff/registrations/").text) == {own}
    assert listed(client.get("/staff/registrations/?partner=Partner A").text) == {own}
    assert client.get(f"/staff/registrations/{other}").status_code == 404
    detail = client.get(f"/staff/registrations/{own}").text
    assert "+31612000678" not in detail and "678" in detail  # partners see masked numbers only
    response = bulk(client, [own, other], "verify", "known to us")
    assert "1 of 2 done" in response.text and "not found" in response.text
    assert (status_of(runtime, own), status_of(runtime, other)) == ("verified", "registered")
    assert bulk(client, [own], "include", "ok").status_code == 403


# --- imports and invitations ----------------------------------------------------------------

def upload(client, content: bytes, partner="Partner A", filename="list.csv"):
    return client.post("/staff/import", content_type="multipart/form-data",
                       data={"partner": partner, "csrf_token": csrf(client, "/staff/import"),
                             "file": (io.BytesIO(content), filename)})


def test_import_upload_reports_rejected_lines_with_reasons(client, runner, runtime):
    signed_in(client, runner)
    csv_text = ("\ufeffphone,language\n"
                "+31612000001,en\n"
                "12345,en\n"
                "+31612000002,xx\n"
                "0612000001,nl\n")
    response = upload(client, csv_text.encode("utf-8"))
    assert response.status_code == 200
    page = response.text
    assert "Accepted: 1" in page and "Already on your list: 0" in page and "Rejected: 3" in page
    assert '<td>3</td><td class="value"><bdi>12345</bdi></td><td>not a valid phone number</td>' in page
    assert '<td>4</td><td class="value"><bdi>xx</bdi></td><td>unknown language &#39;xx&#39;' in page
    assert '<td>5</td><td class="value"><bdi>0612000001</bdi></td><td>the same number as line 2</td>' in page
    assert set(registration_ids(runtime)) == {"+31612000001"}
    again = upload(client, csv_text.encode("utf-8"))
    assert "Accepted: 0" in again.text and "Already on your list: 1" in again.text


@pytest.mark.parametrize("content, message", [
    ("phone\n+31612000001\n".encode("utf-16"), "is not UTF-8 text"),
    (b"name,language\nAmal,en\n", "no phone column"),
])
def test_import_upload_explains_an_unreadable_file(client, runner, runtime, content, message):
    signed_in(client, runner)
    response = upload(client, content)
    assert response.status_code == 400
    assert message in response.text
    assert registration_ids(runtime) == {}


def test_a_partner_imports_only_under_its_own_name(client, runner, runtime):
    signed_in(client, runner, "partner", partner="Partner B")
    response = upload(client, b"phone\n+31612000001\n", partner="Partner A")
    assert "Accepted: 1" in response.text
    with runtime.session() as session:
        registration = session.scalar(select(Registration))
        assert registration.partner.name == "Partner B"
        assert registration.events[0].actor == "staff:partner@example.org"


def test_invite_now_invites_the_imported_and_shows_counts(client, runner, runtime):
    email = signed_in(client, runner)
    import_csv(runtime, PEOPLE_B)
    response = client.post("/staff/invite", data={"csrf_token": csrf(client, "/staff/import"), "confirm": "yes"})
    assert response.status_code == 200
    # The test service uses Twilio without approved templates: the invitation is skipped, and said so.
    assert "skipped: no approved invitation template for en" in response.text
    assert "<td>1</td>" in response.text
    runtime.settings.templates["invitation"] = {"en": "HX" + "0" * 32}  # this app's settings only
    response = client.post("/staff/invite", data={"csrf_token": csrf(client, "/staff/import"), "confirm": "yes"})
    assert "<td>invited</td><td>1</td>" in response.text
    with runtime.session() as session:
        event = session.scalar(select(RegistrationEvent).where(RegistrationEvent.to_status == "invited"))
        assert event.actor == f"staff:{email}"


def test_a_partner_cannot_send_invitations(client, runner):
    signed_in(client, runner, "partner", partner="Partner B")
    assert "Invite now" not in client.get("/staff/import").text
    assert client.post("/staff/invite", data={"csrf_token": csrf(client, "/staff/import")}).status_code == 403


def test_every_view_and_status_change_is_in_the_audit_log_which_nobody_edits(client, runtime, runner):
    """Views of a person's data and status changes are audited, readable by staff, never edited."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from store.models import AuditEntry

    email = signed_in(client, runner, "supervisor")
    import_csv(runtime, "phone,language\n+31612000011,nl\n")
    registration_id = registration_ids(runtime)["+31612000011"]
    assert client.get(f"/staff/registrations/{registration_id}").status_code == 200
    page = client.get("/staff/audit/")
    assert page.status_code == 200
    assert "viewed registration" in page.text and f"staff:{email}" in page.text
    assert "612000011" not in page.text
    with runtime.session() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "viewed registration"))
        assert (entry.actor, entry.subject) == (f"staff:{email}", f"registration:{registration_id}")
        if session.get_bind().dialect.name == "postgresql":
            with pytest.raises(DBAPIError, match="cannot be changed"):
                session.execute(text("UPDATE audit_log SET actor = 'someone else'"))


def test_agents_cannot_read_the_audit_log(client, runner):
    signed_in(client, runner, "agent")
    assert client.get("/staff/audit/").status_code == 403


def test_a_request_that_changes_nothing_leaves_the_session_cookie_alone(client, runner):
    """A request that left before a change to the session (the simulator's poll before "Start
    again as a new person") must not answer after it with the old session: only a change to
    the session sends the cookie."""
    create_user(runner, "agent@example.org", "agent")
    assert "Set-Cookie" in login(client, "agent@example.org").headers  # a sign-in changes it
    client.get("/staff/")  # the first page may add its form token to the session
    again = client.get("/staff/")
    assert again.status_code == 200 and "Set-Cookie" not in again.headers
