"""Referral content in the browser for editors (issue 21 point 4) and the public information pages
(issue 22 point 5), through the web app: forms write the files only when they check out, previews
show the card, releases roll back; /info serves the published release, without cookies, small,
right to left where needed."""
from __future__ import annotations

import re
import shutil

import pytest
from sqlalchemy import func, select

from settings import ROOT
from store.models import AuditEntry, ContentRelease
from tests.test_referrals import content, edit, write_content  # noqa: F401  (the content fixture)
from tests.test_staff import signed_in


@pytest.fixture
def real_content(tmp_path, runtime):
    """The seeded content (two cities, national help, 15 languages): realistic page sizes."""
    folder = tmp_path / "content"
    shutil.copytree(ROOT / "content", folder)
    runtime.settings.content.referrals = folder
    runtime.referrals.forget()
    return folder


def editor(client, runner):
    return signed_in(client, runner, role="editor")


def offer_form(client, region: str, offer_id: str) -> dict:
    """The form's fields as the browser would send them back unchanged."""
    page = client.get(f"/staff/content/offers/{region}/{offer_id}").text
    fields = dict(re.findall(r'<input id="[^"]*" name="([^"]+)" value="([^"]*)"', page))
    fields.update({name: value for name, value in re.findall(
        r'<textarea id="[^"]*" name="([^"]+)"[^>]*>([^<]*)</textarea>', page)})
    fields["category"] = re.search(r'<option value="([^"]+)" selected', page)[1]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    return {**{k: v.replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&") for k, v in fields.items()},
            "csrf_token": token}


def test_an_editor_previews_saves_publishes_and_rolls_back_an_offer(client, runner, runtime, content):  # noqa: F811
    editor(client, runner)
    assert runner.invoke(args=["content", "reload"]).exit_code == 0  # release 1: the files as they are
    form = offer_form(client, "testtown", "doc_02")
    assert form["phone"] == "+31 20 555 0102"

    wrong = client.post("/staff/content/offers/testtown/doc_02", data={**form, "phone": "020 555 0102",
                                                                        "action": "save"})
    assert wrong.status_code == 400
    assert "is not a phone number in international format: write it with + and the country code" in wrong.text
    assert "020 555 0102" not in (content / "regions" / "testtown.yml").read_text(encoding="utf-8")

    preview = client.post("/staff/content/offers/testtown/doc_02", data={
        **form, "hours": "Mo-Fr 08:00-12:00", "description.ar": "عيادة عامة رقم 2", "preview_language": "ar",
        "action": "preview"})
    assert preview.status_code == 200, preview.text
    assert "<strong>Practice 02</strong>\nعيادة عامة رقم 2" in preview.text  # the chat's card
    assert 'id="offer-doc_02"' in preview.text  # the information page's card
    assert "Mo-Fr 08:00-12:00" not in (content / "regions" / "testtown.yml").read_text(encoding="utf-8")

    saved = client.post("/staff/content/offers/testtown/doc_02", data={
        **form, "hours": "Mo-Fr 08:00-12:00", "action": "save"}, follow_redirects=True)
    assert "Saved offer doc_02" in saved.text
    assert 'hours: "Mo-Fr 08:00-12:00"' in (content / "regions" / "testtown.yml").read_text(encoding="utf-8")
    assert runner.invoke(args=["content", "check"]).exit_code == 0

    token = re.search(r'name="csrf_token" value="([^"]+)"', saved.text)[1]
    client.post("/staff/content/publish", data={"csrf_token": token})
    assert runtime.referrals.current().offer("doc_02").hours == "Mo-Fr 08:00-12:00"

    page = client.post("/staff/content/rollback/1", data={"csrf_token": token}, follow_redirects=True)
    assert "release 3 restores release 1" in page.text
    assert runtime.referrals.current().offer("doc_02").hours == "Mo-Fr 09:00-17:00; Sa 10:00-12:00"
    listed = runner.invoke(args=["content", "releases"]).output
    assert "(live) rollback to 1" in listed.splitlines()[0]
    with runtime.session() as session:
        actions = set(session.scalars(select(AuditEntry.action)))
    assert {"content edited", "content published", "content rolled back"} <= actions


def test_rollback_from_the_command_line(runner, runtime, content):  # noqa: F811
    assert runner.invoke(args=["content", "reload"]).exit_code == 0
    edit(content / "regions" / "testtown.yml", "name: Soup kitchen", "name: Soup kitchen Noord")
    assert runner.invoke(args=["content", "reload"]).exit_code == 0
    assert runtime.referrals.current().offer("soup").name.get("en") == "Soup kitchen Noord"
    result = runner.invoke(args=["content", "rollback", "1"])
    assert result.exit_code == 0 and "restores release 1" in result.output
    assert runtime.referrals.current().offer("soup").name.get("en") == "Soup kitchen"
    assert runner.invoke(args=["content", "rollback", "9"]).exit_code == 1
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(ContentRelease)
                              .where(ContentRelease.kind == "referrals")) == 3


def test_a_category_and_a_region_are_edited_in_forms(client, runner, content):  # noqa: F811
    editor(client, runner)
    page = client.get("/staff/content/categories/food").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    names = dict(re.findall(r'name="(name\.\w+)" value="([^"]*)"', page))
    subs = dict(re.findall(r'name="(sub\.meals\.\w+)" value="([^"]*)"', page))
    result = client.post("/staff/content/categories/food", data={
        **names, **subs, "name.nl": "Eten en drinken", "csrf_token": token, "action": "save"})
    assert result.status_code == 302, result.text
    page = client.get("/staff/content/categories/health").text
    fields = dict(re.findall(r'name="([\w.]+)" value="([^"]*)"', page))
    fields.update(re.findall(r'name="(q\.0\.answer\.\w+)"[^>]*>([^<]*)</textarea>', page))
    fields.update(re.findall(r'name="(rights\.\w+)"[^>]*>([^<]*)</textarea>', page))
    fields.pop("csrf_token", None)
    answered = client.post("/staff/content/categories/health", data={
        **fields, "q.0.answer.nl": "Nee, niet als je het niet kunt betalen.", "csrf_token": token, "action": "save"})
    assert answered.status_code == 302, answered.text
    assert "Nee, niet als je het niet kunt betalen." in (content / "categories.yml").read_text(encoding="utf-8")
    assert runner.invoke(args=["content", "check"]).exit_code == 0
    assert 'nl: "Eten en drinken"' in (content / "categories.yml").read_text(encoding="utf-8")
    too_long = client.post("/staff/content/regions/testtown", data={
        **{f"name.{code}": "Testtown" for code in ("en", "nl")}, "name.ar": "مدينة الاختبار الكبيرة جدا في الشمال",
        "csrf_token": token, "action": "save"})
    assert too_long.status_code == 400 and "is too long in ar" in too_long.text


def test_a_spreadsheet_dry_run_lists_the_changes_and_writes_nothing(client, runner, content, tmp_path):  # noqa: F811
    editor(client, runner)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/staff/content/").text)[1]
    every = ",".join(f"description:{code}" for code in ("ar", "es", "fr", "id", "nl", "pt", "tl", "uk", "fa", "ti",
                                                         "so", "tr", "ru", "am"))
    cells = ",".join(f"Soep ({code})" for code in ("ar", "es", "fr", "id", "nl", "pt", "tl", "uk", "fa", "ti", "so",
                                                    "tr", "ru", "am"))
    csv = (f"id,category,subcategory,name,description,{every},website\n"
           f"soup,food,meals,Soup kitchen,A hot meal every night.,{cells},https://soup.example.org\n"
           f"bread,food,meals,Bread point,Free bread.,{cells},https://bread.example.org\n").encode()
    before = (content / "regions" / "testtown.yml").read_text(encoding="utf-8")
    from io import BytesIO
    page = client.post("/staff/content/import", data={"csrf_token": token, "region": "testtown", "action": "dry_run",
                                                      "file": (BytesIO(csv), "offers.csv")},
                       content_type="multipart/form-data")
    assert page.status_code == 200, page.text
    assert "new offer bread" in page.text and "offer doc_01 is removed" in page.text
    assert "offer soup: description change" in page.text
    assert (content / "regions" / "testtown.yml").read_text(encoding="utf-8") == before


# -- the public information pages -----------------------------------------------------------
def test_info_pages_serve_only_the_published_release(client, runner, real_content):
    assert client.get("/info/en/").status_code == 200
    assert "Nothing has been published here yet." in client.get("/info/en/").text
    assert runner.invoke(args=["content", "reload"]).exit_code == 0
    edit(real_content / "regions" / "amsterdam.yml", "Praktijk De Baarsjes", "Praktijk Draft")
    assert "Praktijk De Baarsjes" in client.get("/info/nl/amsterdam/health/").text
    page = client.get("/info/nl/amsterdam/health/").text
    assert "Praktijk Draft" not in page


@pytest.mark.parametrize("language, direction", [("ar", "rtl"), ("fa", "rtl"), ("ti", "ltr"), ("nl", "ltr")])
def test_info_pages_in_each_direction_without_cookies_and_small(client, runner, real_content, language, direction):
    editor(client, runner)  # a signed-in staff member's cookie is not renewed or sent back by these pages either
    assert runner.invoke(args=["content", "reload"]).exit_code == 0
    for path in (f"/info/{language}/", f"/info/{language}/amsterdam/", f"/info/{language}/amsterdam/health/",
                 f"/info/{language}/national/legal/", f"/info/{language}/offer/nat_legal_desk"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Set-Cookie" not in response.headers, path
        assert len(response.data) < 50_000, (path, len(response.data))
        assert f'<html lang="{language}" dir="{direction}">' in response.text
        assert "http" not in re.sub(r'href="https?://[^"]+"', "", re.sub(r">[^<]*<", "><", response.text)), \
            "nothing loaded from elsewhere"
        assert "<script" not in response.text
        assert "'self'" in response.headers["Content-Security-Policy"]
    assert client.get(f"/info/{language}/nowhere/").status_code == 404
    assert client.get("/info/xx/").status_code == 404


def test_every_word_around_the_content_is_translated(client, runner, real_content, runtime):
    from info_web import TEXTS
    assert runner.invoke(args=["content", "reload"]).exit_code == 0
    for code in runtime.settings.languages.all:
        if code == "en":
            continue
        for key, source in TEXTS.items():
            assert runtime.translator.text(source, code) != source, (code, key)


# -- the link from the chat ------------------------------------------------------------------
def test_a_long_card_keeps_its_info_link_under_it_within_the_message_limit(whatsapp, runtime, twilio,
                                                                          content):  # noqa: F811
    from tests.test_referrals import start_in
    long = {code: ("Ask at the desk for a doctor who speaks your language; " * 8)[:400] for code in
            runtime.settings.languages.all}
    path = content / "regions" / "testtown.yml"
    edit(path, "  name: Practice 01\n", "  name: Practice 01\n  need_to_know:\n" + "".join(
        f"    {code}: \"{text}\"\n" for code, text in long.items()))
    text = path.read_text(encoding="utf-8")
    story = ("General practice number 1, a long story. " * 10)[:394]  # 400 at most in every language
    path.write_text(text.replace("General practice number 1.", story), encoding="utf-8")
    runtime.referrals.forget()
    start_in(whatsapp)
    whatsapp.send("cmd.referral", MessageType="button", ButtonPayload="cmd.referral")
    for number in ("1", "1"):  # health care, doctor (the only region is chosen by itself)
        whatsapp.send(number)
    before = len(twilio.sent())
    whatsapp.send("1")  # Practice 01
    bodies = [message.get("Body") or "" for message in twilio.sent()[before:]]
    said = "\n\n".join(bodies)
    link = "\n\n🔗 All places and your rights, on the web:\nhttps://dda.example.org/info/en/testtown/health/"
    assert said.index("*Practice 01*") < said.index(link)
    assert all(len(body) <= runtime.settings.delivery.max_body_chars for body in bodies)


def test_an_offer_is_removed_from_its_file(client, runner, content):  # noqa: F811
    editor(client, runner)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/staff/content/").text)[1]
    unticked = client.post("/staff/content/offers/testtown/doc_05/delete", data={"csrf_token": token},
                           follow_redirects=True)
    assert "doc_05" in (content / "regions" / "testtown.yml").read_text(encoding="utf-8")  # the box was not ticked
    assert unticked.status_code == 200
    page = client.post("/staff/content/offers/testtown/doc_05/delete", data={"csrf_token": token, "action": "save"},
                       follow_redirects=True)
    assert "Saved removal of offer doc_05" in page.text
    assert "doc_05" not in (content / "regions" / "testtown.yml").read_text(encoding="utf-8")
    assert runner.invoke(args=["content", "check"]).exit_code == 0
