"""Routine staff work in the browser, server side: finding a person, pausing and resuming,
supermarkets, staff accounts, invitations, imports and the weekly issue. Each page calls the
same functions as its `flask` command, so both are checked against the same outcome."""
from __future__ import annotations

import io
import re
import time

from sqlalchemy import select

from store.models import AuditEntry, Registration, RegistrationEvent, Store
from tests.test_staff import bulk, csrf, import_csv, listed, login, move, registration_ids, signed_in, status_of
from tests.test_vouchers import PERIOD, include, redeem, run, vouchers

PEOPLE = ("phone,language,reference\n+31612000001,en,REF-001\n+31612000002,ar,REF-002\n"
          "+31612000003,nl,ZZ-77\n")


def found(client, **query) -> set[int]:
    response = client.get("/staff/registrations/", query_string=query)
    assert response.status_code == 200, response.text
    return listed(response.text)


# --- finding a person -----------------------------------------------------------------------

def test_find_a_person_by_phone_written_any_way(client, runner, runtime):
    signed_in(client, runner)
    import_csv(runtime, PEOPLE)
    ids = registration_ids(runtime)
    wanted = {ids["+31612000002"]}
    for typed in ("+31612000002", "+31 6 1200 0002", "06-12000002", "0031 6 12 00 00 02"):
        assert found(client, q=typed) == wanted, typed
    assert found(client, q="+31612000009") == set()
    page = client.get("/staff/registrations/", query_string={"q": "06 1200 0002"}).text
    assert "1 registration found by phone number" in page
    response = client.get("/staff/registrations/", query_string={"q": "12ab", "by": "phone"})
    assert response.status_code == 200 and "not a phone number we can read" in response.text
    import_csv(runtime, "phone,reference\n+31612000077,123456\n")
    assert found(client, q="123456") == {registration_ids(runtime)["+31612000077"]}  # a reference of digits


def test_the_search_term_is_never_in_the_audit_log(client, runner, runtime):
    signed_in(client, runner)
    import_csv(runtime, PEOPLE)
    client.get("/staff/registrations/", query_string={"q": "+31612000002", "status": "imported"})
    with runtime.session() as session:
        details = [entry.detail for entry in session.scalars(select(AuditEntry))]
    assert any("searched by phone number" in detail and "status=imported" in detail for detail in details)
    assert not any("612000002" in detail for detail in details)


def test_find_a_person_by_part_of_a_name_or_reference(client, runner, runtime):
    signed_in(client, runner)
    import_csv(runtime, PEOPLE)
    ids = registration_ids(runtime)
    move(runtime, ids["+31612000001"], name="José Núñez")
    move(runtime, ids["+31612000002"], name="أمل حداد")
    assert found(client, q="jose nunez") == {ids["+31612000001"]}
    assert found(client, q="NÚÑ") == {ids["+31612000001"]}
    assert found(client, q="حداد") == {ids["+31612000002"]}
    assert found(client, q="ref-00") == {ids["+31612000001"], ids["+31612000002"]}
    assert found(client, q="zz-77", by="reference") == {ids["+31612000003"]}
    assert found(client, q="zz-77", by="name") == set()
    assert found(client, q="jose", status="verified") == set()  # the filters still apply
    assert "at least 2 letters" in client.get("/staff/registrations/?q=j").text
    assert client.get("/staff/registrations/?q=x&by=shoe-size").status_code == 200


def test_search_results_page_by_fifty_and_keep_the_search(client, runner, runtime):
    signed_in(client, runner)
    import_csv(runtime, "phone,reference\n" + "".join(f"+316120001{n:02d},KEEP-{n}\n" for n in range(55))
               + "+31612000299,OTHER\n")
    first = client.get("/staff/registrations/?q=keep").text
    assert "55 registrations found by name or partner reference, page 1 of 2" in first
    assert len(listed(first)) == 50 and "q=keep" in first
    assert len(listed(client.get("/staff/registrations/?q=keep&page=2").text)) == 5


def test_a_partner_finds_only_its_own_people(client, runner, runtime):
    import_csv(runtime, PEOPLE, partner="Partner A")
    import_csv(runtime, "phone,reference\n+31612000678,REF-678\n", partner="Partner B")
    signed_in(client, runner, "partner", partner="Partner B")
    assert found(client, q="+31612000001") == set()
    assert found(client, q="ref") == {registration_ids(runtime)["+31612000678"]}


def test_a_name_search_over_five_thousand_people_stays_quick(client, runner, runtime):
    """Decrypt-and-filter (staff/search.py): reading 5,000 names must stay well under a second."""
    signed_in(client, runner)
    import_csv(runtime, "phone,reference\n" + "".join(f"+3161{n:07d},R{n}\n" for n in range(5000)))
    client.get("/staff/registrations/?q=R4999")  # warm: data keys unwrapped once per process
    started = time.perf_counter()
    page = client.get("/staff/registrations/?q=R4999").text
    took = time.perf_counter() - started
    print(f"name/reference search over 5,000 registrations: {took * 1000:.0f} ms")
    assert "1 registration found" in page
    assert took < 3.0


# --- pause, end, resume ---------------------------------------------------------------------

def test_pause_and_resume_go_back_to_where_the_person_was(client, runner, runtime):
    email = signed_in(client, runner)
    import_csv(runtime, PEOPLE)
    ids = registration_ids(runtime)
    included, verified = ids["+31612000001"], ids["+31612000002"]
    move(runtime, included, "registering", "registered", "verified", "included")
    move(runtime, verified, "registering", "registered", "verified")
    assert "<option value=\"pause\">" in client.get(f"/staff/registrations/{included}").text
    page = bulk(client, [included, verified], "pause", "moved abroad for a month").text
    assert "2 of 2 done" in page
    detail = client.get(f"/staff/registrations/{included}").text
    assert '<option value="resume">' in detail and '<option value="pause">' not in detail
    assert "moved abroad for a month" in detail
    assert "2 of 2 done" in bulk(client, [included, verified], "resume", "back").text
    assert (status_of(runtime, included), status_of(runtime, verified)) == ("included", "verified")
    page = bulk(client, [included], "resume", "again").text
    assert "not paused (it is included)" in page
    assert "1 of 1 done" in bulk(client, [included], "end", "found work").text
    assert status_of(runtime, included) == "ended"
    with runtime.session() as session:
        events = session.scalars(select(RegistrationEvent).where(RegistrationEvent.registration_id == included)
                                 .order_by(RegistrationEvent.id)).all()
        assert [(e.to_status, e.actor, e.reason) for e in events][-3:] == [
            ("paused", f"staff:{email}", "moved abroad for a month"), ("included", f"staff:{email}", "back"),
            ("ended", f"staff:{email}", "found work")]
        audited = session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "changed status",
                                                                  AuditEntry.subject == f"registration:{included}"))
        assert list(audited) == ["included -> paused: moved abroad for a month", "paused -> included: back",
                                 "included -> ended: found work"]


def test_a_partner_may_not_pause_or_end(client, runner, runtime):
    import_csv(runtime, PEOPLE, partner="Partner A")
    signed_in(client, runner, "partner", partner="Partner A")
    rid = registration_ids(runtime)["+31612000001"]
    move(runtime, rid, "registering", "registered", "verified", "included")
    assert bulk(client, [rid], "pause", "no").status_code == 403
    assert "No status change is possible" in client.get(f"/staff/registrations/{rid}").text
    with runtime.session() as session:
        assert session.get(Registration, rid).status == "included"


def test_the_detail_page_offers_only_possible_moves(client, runner, runtime):
    signed_in(client, runner)
    import_csv(runtime, PEOPLE)
    rid = registration_ids(runtime)["+31612000003"]
    page = client.get(f"/staff/registrations/{rid}").text  # imported: nothing to verify yet
    assert "status-form" not in page and "No status change is possible from imported" in page
    _ = csrf


# --- supermarkets ---------------------------------------------------------------------------

KEY = re.compile(r'<code id="till-key" class="till-key">([^<]+)</code>')


def add_store(client, name, kinds="supermarket"):
    return client.post("/staff/stores/", data={"name": name, "kinds": kinds,
                                               "csrf_token": csrf(client, "/staff/stores/")})


def test_a_store_added_in_the_browser_shows_its_key_once_and_the_till_works(client, runner, runtime, whatsapp):
    email = signed_in(client, runner, "supervisor")
    include(whatsapp, runner, runtime)
    run(runner, runtime, "vouchers", "issue", "--period", PERIOD, "--no-notify")
    code = vouchers(runtime)[0].code
    response = add_store(client, "  Jumbo   Noord ")
    assert response.status_code == 201
    key = KEY.search(response.text).group(1)
    assert "will not be shown again" in response.text
    listing = client.get("/staff/stores/").text
    assert "Jumbo Noord" in listing and key not in listing
    with runtime.session() as session:
        store = session.scalar(select(Store))
        assert key not in store.key_hash
    assert redeem(client, key, code, 100, "till-1").status_code == 200
    again = add_store(client, "jumbo noord")
    assert again.status_code == 400 and "exists already" in again.text and not KEY.search(again.text)
    assert "Kinds are those of vouchers.kinds" in add_store(client, "Odd", "no such; kind!").text

    disabled = client.post(f"/staff/stores/{store.id}/disable",
                           data={"confirm": "yes", "csrf_token": csrf(client, "/staff/stores/")},
                           follow_redirects=True)
    assert "Jumbo Noord is disabled" in disabled.text and f"by staff:{email}" in disabled.text
    refused = redeem(client, key, code, 100, "till-2")
    assert refused.status_code == 403 and refused.json["error"] == "store_disabled"
    with runtime.session() as session:
        actions = list(session.scalars(select(AuditEntry.action).where(AuditEntry.subject == f"store:{store.id}")))
    assert actions == ["added store", "disabled store"]
    missing = client.post("/staff/stores/999/disable", data={"csrf_token": csrf(client, "/staff/stores/")})
    assert missing.status_code == 404


def test_the_cli_and_the_page_manage_the_same_stores(client, runner, runtime):
    signed_in(client, runner)
    assert runner.invoke(args=["vouchers", "add-store", "Lidl Oost"]).exit_code == 0
    assert "Lidl Oost" in client.get("/staff/stores/").text
    result = runner.invoke(args=["vouchers", "disable-store", "lidl oost"])
    assert result.exit_code == 0, result.output
    listed_json = runner.invoke(args=["vouchers", "stores", "--json"]).output
    assert '"disabled_at": null' not in listed_json and "Lidl Oost" in listed_json
    assert "disabled" in client.get("/staff/stores/").text
    assert runner.invoke(args=["vouchers", "disable-store", "Nowhere"]).exit_code != 0


def test_agents_and_partners_cannot_manage_stores(client, runner):
    signed_in(client, runner, "agent")
    assert client.get("/staff/stores/").status_code == 403
    assert add_store(client, "Sneaky").status_code in (400, 403)


# --- staff accounts -------------------------------------------------------------------------

ONE_TIME = re.compile(r'<code id="one-time-password" class="till-key">([^<]+)</code>')


def post_users(client, path, **data):
    return client.post(f"/staff/users/{path}", data={**data, "csrf_token": csrf(client, "/staff/users/")})


def test_an_admin_invites_changes_resets_and_deactivates_a_volunteer(app, client, runner, runtime):
    admin = signed_in(client, runner)
    created = post_users(client, "", email="Vol@Example.org", role="agent")
    assert created.status_code == 201, created.text
    password = ONE_TIME.search(created.text).group(1)
    assert "will not be shown again" in created.text
    assert password not in client.get("/staff/users/").text

    volunteer = app.test_client()
    assert login(volunteer, "vol@example.org", password).status_code == 302
    assert volunteer.get("/helpdesk/").status_code == 200

    changed = post_users(client, "role", email="vol@example.org", role="supervisor")
    assert changed.status_code == 302
    assert volunteer.get("/helpdesk/").status_code == 302  # signed out: the new role applies at once
    assert login(volunteer, "vol@example.org", password).status_code == 302
    assert volunteer.get("/staff/registrations/").status_code == 200  # a supervisor now

    reset = post_users(client, "password", email="vol@example.org")
    new_password = ONE_TIME.search(reset.text).group(1)
    assert volunteer.get("/staff/registrations/").status_code == 302
    assert login(volunteer, "vol@example.org", password).status_code == 200  # the old one is refused
    assert login(volunteer, "vol@example.org", new_password).status_code == 302

    refused = post_users(client, "deactivate", email="vol@example.org")
    assert refused.status_code == 400 and "Tick the box" in refused.text
    assert post_users(client, "deactivate", email="vol@example.org", confirm="yes").status_code == 302
    assert volunteer.get("/staff/registrations/").status_code == 302  # the open session ended
    assert login(volunteer, "vol@example.org", new_password).status_code == 200  # and cannot sign in
    assert "deactivated" in client.get("/staff/users/").text
    with runtime.session() as session:
        audit = [(e.actor, e.action) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.subject == "staff:vol@example.org").order_by(AuditEntry.id))]
    assert audit == [(f"staff:{admin}", action) for action in (
        "created staff user", "changed staff role", "reset staff password", "deactivated staff user")]


def test_account_mistakes_are_explained_not_500s(client, runner, runtime):
    signed_in(client, runner)
    assert "not an email address" in post_users(client, "", email="nobody", role="agent").text
    assert "needs its partner organisation" in post_users(client, "", email="p@example.org", role="partner").text
    assert "Choose a role" in post_users(client, "", email="x@example.org", role="boss").text
    assert "already has an account" in post_users(client, "", email="admin@example.org", role="agent").text
    assert "no staff account" in post_users(client, "password", email="ghost@example.org").text
    mine = post_users(client, "deactivate", email="admin@example.org", confirm="yes")
    assert mine.status_code == 400 and "your own account" in mine.text


def test_a_partner_account_links_to_the_known_partner_whatever_the_case(client, runner, runtime):
    signed_in(client, runner)
    import_csv(runtime, PEOPLE, partner="Stichting Hulp")
    assert post_users(client, "", email="p@example.org", role="partner", partner=" stichting  HULP ").status_code == 201
    assert "p@example.org" in client.get("/staff/users/").text
    with runtime.session() as session:
        from store.models import Partner, StaffUser
        assert [p.name for p in session.scalars(select(Partner))] == ["Stichting Hulp"]
        assert session.scalar(select(StaffUser).where(StaffUser.email == "p@example.org")).partner_id is not None


def test_only_admins_manage_accounts(client, runner):
    signed_in(client, runner, "supervisor")
    assert client.get("/staff/users/").status_code == 403
    assert post_users(client, "", email="x@example.org", role="admin").status_code in (400, 403)


# --- invitations ----------------------------------------------------------------------------

def test_invite_now_says_how_many_and_asks_first(client, runner, runtime):
    signed_in(client, runner)
    runtime.settings.templates["invitation"] = {lang: "HX" + "0" * 32 for lang in runtime.settings.languages.all}
    import_csv(runtime, PEOPLE)
    preview = client.get("/staff/invite")
    assert preview.status_code == 200
    shown = " ".join(preview.text.split())
    assert "3 people</strong> will be sent an invitation: 3 for the first time, 0 again" in shown
    unconfirmed = client.post("/staff/invite", data={"csrf_token": csrf(client, "/staff/import")})
    assert "will be sent an invitation" in unconfirmed.text  # nothing sent without the confirmation
    with runtime.session() as session:
        assert {r.status for r in session.scalars(select(Registration))} == {"imported"}
    sent = client.post("/staff/invite", data={"csrf_token": csrf(client, "/staff/import"), "confirm": "yes"})
    assert "<td>invited</td><td>3</td>" in sent.text
    assert "Nobody to invite" in client.get("/staff/invite").text


# --- imports --------------------------------------------------------------------------------

def upload(client, content: str, partner="", filename="lijst.csv"):
    return client.post("/staff/import", content_type="multipart/form-data",
                       data={"partner": partner, "csrf_token": csrf(client, "/staff/import"),
                             "file": (io.BytesIO(content.encode("utf-8")), filename)})


def test_a_dutch_csv_with_names_and_partners_is_imported_and_linked(client, runner, runtime, caplog):
    signed_in(client, runner)
    import_csv(runtime, "phone\n+31612009999\n", partner="Stichting Hulp")
    dutch = ("Telefoonnummer;Naam;Taal;Organisatie;Referentie\n"
             "06 1200 0001;Amal Haddad;ar;stichting  HULP;SH-1\n"
             "06 1200 00;Jan;nl;Stichting Hulp;SH-2\n"
             "+31612000003;Marie;xx;Stichting Hulp;SH-3\n")
    page = upload(client, dutch).text
    assert "Accepted: 1" in page and "Rejected: 2" in page
    assert '<td>3</td><td class="value"><bdi>06 1200 00</bdi></td><td>not a valid phone number</td>' in page
    assert '<bdi>xx</bdi></td><td>unknown language' in page
    assert "was linked to the known partner <strong dir=\"auto\">Stichting Hulp</strong>" in page
    assert "06 1200 00" not in caplog.text  # shown to the uploader, never logged
    with runtime.session() as session:
        from store.models import Partner
        assert [p.name for p in session.scalars(select(Partner))] == ["Stichting Hulp"]
        amal = session.get(Registration, registration_ids(runtime)["+31612000001"])
        assert (amal.name, amal.partner.name, amal.partner_ref, amal.contact.language) == \
            ("Amal Haddad", "Stichting Hulp", "SH-1", "ar")


def test_french_and_english_headers_and_a_typed_partner_on_the_form(client, runner, runtime):
    signed_in(client, runner)
    import_csv(runtime, "phone\n+31612009999\n", partner="Croix-Rouge")
    french = "Numéro de téléphone,Nom,Langue,Référence\n+33 6 12 34 56 78,Élodie,fr,CR-9\n"
    page = upload(client, french, partner="  croix-rouge ").text
    assert "Accepted: 1" in page
    english = "Phone Number,Full Name,Language\n+31612000004,Sam,en\n"
    assert "Accepted: 1" in upload(client, english, partner="Croix-Rouge").text
    with runtime.session() as session:
        from store.models import Partner
        assert [p.name for p in session.scalars(select(Partner))] == ["Croix-Rouge"]
    assert "no phone column" in upload(client, "Naam,Taal\nAmal,ar\n", partner="X").text


def test_a_row_without_any_partner_is_refused_and_a_partner_imports_only_its_own(client, runner, runtime):
    signed_in(client, runner)
    page = upload(client, "telefoon,partner\n+31612000001,\n+31612000002,Nieuw Huis\n").text
    assert "Accepted: 1" in page and "no partner: fill in the partner column" in page
    client.post("/staff/logout", data={"csrf_token": csrf(client, "/staff/")})
    signed_in(client, runner, "partner", partner="Nieuw Huis")
    page = upload(client, "telefoon,partenaire\n+31612000005,nieuw huis\n+31612000006,Other Org\n").text
    assert "Accepted: 1" in page and "you import only for your own organisation" in page
    assert "<bdi>Other Org</bdi>" in page


def test_a_partner_typed_in_the_chat_is_linked_to_the_known_partner(client, runner, runtime, whatsapp):
    import_csv(runtime, "phone\n+31612009999\n", partner="STICHTING  hulp")
    include(whatsapp, runner, runtime)  # types "Stichting Hulp" when asked for the partner
    with runtime.session() as session:
        registration = session.scalar(select(Registration).where(Registration.partner_named.is_not(None)))
        assert registration.partner is not None and registration.partner.name == "STICHTING hulp"


# --- issuing the vouchers due now -----------------------------------------------------------

def test_issue_shows_a_preview_asks_first_then_runs_on_the_worker_once(client, runner, runtime, whatsapp):
    email = signed_in(client, runner)
    include(whatsapp, runner, runtime)
    page = client.get("/staff/vouchers/issue/").text
    assert '<td class="num to-issue">1</td>' in page and "Issue 1 voucher" in page
    token = csrf(client, "/staff/vouchers/issue/")
    refused = client.post("/staff/vouchers/issue/", data={"csrf_token": token}, follow_redirects=True)
    assert "Nothing was issued" in refused.text and vouchers(runtime) == []
    started = client.post("/staff/vouchers/issue/", data={"csrf_token": token, "confirm": "yes"})
    assert started.status_code == 302
    runtime.tasks.drain()
    status = client.get("/staff/vouchers/issue/status").json
    assert (status["state"], status["issued"], status["already"], status["failed"], status["by"]) == \
        ("done", 1, 0, 0, f"staff:{email}")
    assert len(vouchers(runtime)) == 1
    again = client.get("/staff/vouchers/issue/").text
    assert '<td class="num to-issue">0</td>' in again and "Nobody is due a voucher now" in again
    client.post("/staff/vouchers/issue/", data={"csrf_token": token, "confirm": "yes"})
    runtime.tasks.drain()
    assert client.get("/staff/vouchers/issue/status").json["already"] == 1 and len(vouchers(runtime)) == 1
    with runtime.session() as session:
        assert session.scalar(select(AuditEntry.actor).where(AuditEntry.action == "issued vouchers")) == \
            f"staff:{email}"


def test_issuing_is_for_program_staff_only(client, runner):
    signed_in(client, runner, "agent")
    assert client.get("/staff/vouchers/issue/").status_code == 403
    assert client.get("/staff/vouchers/issue/status").status_code == 403


def test_issuing_while_redis_is_down_says_so_and_starts_nothing(client, runner, runtime, whatsapp, monkeypatch):
    import redis

    signed_in(client, runner)
    include(whatsapp, runner, runtime)

    def down(*args, **kwargs):
        raise redis.exceptions.ConnectionError("Redis is down")

    monkeypatch.setattr(runtime.redis, "get", down)
    monkeypatch.setattr(runtime.redis, "set", down)
    status = client.get("/staff/vouchers/issue/status")
    assert status.status_code == 200 and status.json["state"] == "unknown"
    assert "Progress unknown: the progress cannot be read right now" in client.get("/staff/vouchers/issue/").text
    token = csrf(client, "/staff/vouchers/issue/")
    page = client.post("/staff/vouchers/issue/", data={"csrf_token": token, "confirm": "yes"}, follow_redirects=True)
    assert page.status_code == 200 and "Not started: the worker queue (Redis) is not answering" in page.text
    runtime.tasks.drain()
    assert vouchers(runtime) == []
