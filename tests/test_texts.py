"""Bot texts in the browser (issue 21, point 3): editors list every text by flow and step with its
state in each language, save translations and English texts into the flow files and catalogs,
and the bot says the new text; a save that would break a message is refused with the reason."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select, update

from releases.flows import publish
from store.models import AuditEntry, Contact
from tests.test_staff import csrf, signed_in
from translations.catalogs import catalog_path, read_catalog
from translations.editing import text_key

ROOT = Path(__file__).resolve().parent.parent
PHONE = "+31612340021"
CONFIRM = "This deletes your messages and everything we know about you. We cannot undo it. Are you sure?"
KEPT = "Nothing was deleted."


@pytest.fixture
def files(runtime, tmp_path, monkeypatch):
    """A copy of the flow files and catalogs for the service to run on and the editor to change."""
    shutil.copytree(ROOT / "flows", tmp_path / "flows")
    shutil.copytree(ROOT / "translations", tmp_path / "translations",
                    ignore=shutil.ignore_patterns("*.py", "__pycache__", ".editing.lock"))
    monkeypatch.setattr(runtime.settings.content, "flows", tmp_path / "flows")
    monkeypatch.setattr(runtime.settings.content, "translations", tmp_path / "translations")
    publish(runtime, "test")  # what people get: these files
    return tmp_path


@pytest.fixture
def editor(client, runner, files):
    return signed_in(client, runner, role="editor")


def french_person(whatsapp, runtime, phone=PHONE):
    whatsapp.send("hello", phone=phone)
    with runtime.session() as session:
        session.execute(update(Contact).values(language="fr"))
        session.commit()


def page_url(source: str, at: str) -> str:
    return f"/staff/texts/{text_key(source)}?at={at}"


def test_only_editors_and_admins_see_the_texts(client, runner, files):
    assert client.get("/staff/texts/").status_code == 302
    signed_in(client, runner, role="agent")
    assert client.get("/staff/texts/").status_code == 403


def test_the_list_shows_every_flow_text_with_its_state_per_language(client, editor, files):
    page = client.get("/staff/texts/").text
    assert 'id="flow-delete_data"' in page and "delete_data › kept: say" in page
    assert KEPT in page and "Written in the program" in page
    french = client.get("/staff/texts/?language=fr&flow=delete_data").text
    assert "Rien n&#39;a été effacé." in french and 'id="flow-main"' not in french
    found = client.get("/staff/texts/?q=nothing+was").text
    assert KEPT in found and CONFIRM not in found


def test_a_saved_translation_is_what_a_french_person_gets_and_is_audited(client, editor, files, whatsapp, runtime):
    url = page_url(CONFIRM, "delete_data.confirm.menu")
    page = client.get(url).text
    assert 'dir="auto"' in page and 'class="wa-buttons"' in page  # two options: reply buttons
    response = client.post(f"/staff/texts/{text_key(CONFIRM)}/translation?at=delete_data.confirm.menu",
                           data={"language": "fr", "text": "Tout sera effacé pour toujours. Vous êtes sûr ?",
                                 "csrf_token": csrf(client, url)})
    assert response.status_code == 302
    message = read_catalog(catalog_path("fr", files / "translations")).get(CONFIRM)
    assert message.string == "Tout sera effacé pour toujours. Vous êtes sûr ?" and not message.fuzzy
    assert (catalog_path("fr", files / "translations").with_suffix(".mo")).exists()
    assert publish(runtime, "test").number == 2  # a save is a draft until published
    french_person(whatsapp, runtime)
    replies = whatsapp.conversation("supprimer mes données", phone=PHONE)
    assert "Tout sera effacé pour toujours. Vous êtes sûr ?" in replies[0]
    with runtime.session() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "text.translation")).one()
    assert entry.actor == f"staff:{editor}" and entry.detail.startswith("fr at delete_data.confirm.menu")


def test_placeholders_and_whatsapp_limits_are_checked_on_the_server(client, editor, files):
    source = "Yes, delete all"
    url = page_url(source, "delete_data.confirm.short.0")
    before = (files / "translations" / "fr" / "LC_MESSAGES" / "messages.po").read_bytes()
    too_long = client.post(f"/staff/texts/{text_key(source)}/translation?at=delete_data.confirm.short.0",
                           data={"language": "fr", "text": "Oui, effacez absolument tout",
                                 "csrf_token": csrf(client, url)})
    assert too_long.status_code == 400
    assert "28 characters: WhatsApp shows at most 20 in a button title" in too_long.text
    placeholder = client.post(f"/staff/texts/{text_key(KEPT)}/translation?at=delete_data.kept.say",
                              data={"language": "fr", "text": "Rien, {name}.", "csrf_token": csrf(client, url)})
    assert placeholder.status_code == 400 and "it may not contain {name}" in placeholder.text
    assert (files / "translations" / "fr" / "LC_MESSAGES" / "messages.po").read_bytes() == before


def test_rewording_the_english_keeps_translations_for_review(client, editor, files, runtime):
    url = page_url(KEPT, "delete_data.kept.say")
    response = client.post(f"/staff/texts/{text_key(KEPT)}/source?at=delete_data.kept.say",
                           data={"text": "Nothing was deleted, your data is safe.", "csrf_token": csrf(client, url)})
    assert response.status_code == 302
    assert 'say: "Nothing was deleted, your data is safe."' in (files / "flows" / "delete_data.yml").read_text()
    french = read_catalog(catalog_path("fr", files / "translations")).get("Nothing was deleted, your data is safe.")
    assert french.fuzzy and french.string == "Rien n'a été effacé."
    assert publish(runtime, "test").number == 2  # the set still checks out: reworded, still translated
    listed = client.get("/staff/texts/?language=fr&state=needs+review").text
    assert "Nothing was deleted, your data is safe." in listed
    with runtime.session() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "text.source")).one()
    assert entry.actor == f"staff:{editor}" and "Nothing was deleted." in entry.detail


def test_an_unknown_placeholder_in_english_is_refused(client, editor, files):
    url = page_url(KEPT, "delete_data.kept.say")
    response = client.post(f"/staff/texts/{text_key(KEPT)}/source?at=delete_data.kept.say",
                           data={"text": "Nothing was deleted, {nmae}.", "csrf_token": csrf(client, url)})
    assert response.status_code == 400 and "Unknown placeholder(s) {nmae}" in response.text
    assert 'say: "Nothing was deleted."' in (files / "flows" / "delete_data.yml").read_text()


def test_the_preview_shows_an_unsaved_text_as_whatsapp_would(client, editor, files):
    url = page_url("Yes, delete all", "delete_data.confirm.short.0")
    token = csrf(client, url)
    shown = client.post(f"/staff/texts/{text_key('Yes, delete all')}/preview?at=delete_data.confirm.short.0",
                        data={"language": "ar", "text": "نعم، احذف", "csrf_token": token}).text
    assert 'class="wa-buttons"' in shown and "نعم، احذف" in shown and 'dir="rtl"' in shown
    assert re.search(r"<li dir=\"auto\">[^<]+</li>", shown)


def test_bad_addresses_get_a_clear_404(client, editor, files):
    assert client.get("/staff/texts/not-a-key").status_code == 404
    assert client.get("/staff/texts/0123456789abcdef").status_code == 404


def test_a_text_written_over_several_lines_is_reworded_in_place(client, editor, files, runtime):
    at = "delete_data.confirm.menu"
    response = client.post(f"/staff/texts/{text_key(CONFIRM)}/source?at={at}",
                           data={"text": "This deletes everything we know about you. Are you sure?",
                                 "csrf_token": csrf(client, page_url(CONFIRM, at))})
    assert response.status_code == 302
    written = (files / "flows" / "delete_data.yml").read_text()
    assert '    menu: "This deletes everything we know about you. Are you sure?"\n    options:\n' in written
    assert publish(runtime, "test").number == 2  # the whole set still checks out
    step = runtime.bot.flows.flows["delete_data"].steps["confirm"]
    assert step.get("menu") == "This deletes everything we know about you. Are you sure?"
    assert [option.label for option in step.options] == ["Yes, delete everything", "No, keep my data"]


def test_the_english_of_a_text_in_the_program_code_is_not_changed_here(client, editor, files):
    source = "Sorry, I did not understand that."
    url = f"/staff/texts/{text_key(source)}"
    assert "written in the program: a developer changes it" in client.get(url).text
    response = client.post(f"{url}/source", data={"text": "Sorry?", "csrf_token": csrf(client, url)})
    assert response.status_code == 400 and "written in the program&#39;s code" in response.text


def test_publish_and_roll_back_from_the_page(client, editor, files, whatsapp, runtime):
    at = "delete_data.confirm.menu"
    url = page_url(CONFIRM, at)
    assert 'id="publish" disabled' in client.get("/staff/texts/").text  # nothing to publish yet
    client.post(f"/staff/texts/{text_key(CONFIRM)}/translation?at={at}",
                data={"language": "fr", "text": "Vraiment tout effacer ?", "csrf_token": csrf(client, url)})
    listing = client.get("/staff/texts/").text
    assert 'id="unpublished" class="notice"' in listing or "saved changes that people do not get yet" in listing
    published = client.post("/staff/releases/publish", data={"back": url, "note": "clearer question",
                                                          "csrf_token": csrf(client, url)})
    assert published.status_code == 302 and published.location.endswith(url)
    assert "Published release 2" in client.get(url).text
    french_person(whatsapp, runtime)
    assert "Vraiment tout effacer ?" in whatsapp.conversation("supprimer mes données", phone=PHONE)[0]

    listing = client.get("/staff/texts/").text
    assert "Roll back to release 1" in listing and "clearer question" in listing
    back = client.post("/staff/releases/1/rollback", data={"back": "/staff/texts/",
                                                            "csrf_token": csrf(client, "/staff/texts/")})
    assert back.status_code == 302 and back.location.endswith("/staff/texts/")
    assert "Release 1 is live again, as release 3" in client.get("/staff/texts/").text
    assert "Vraiment tout effacer ?" not in whatsapp.conversation("menu", "supprimer mes données", phone=PHONE)[-1]
    with runtime.session() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.actor == f"staff:{editor}"))]
    assert actions.count("flows published") == 2 and "text.translation" in actions
    unknown = client.post("/staff/releases/99/rollback", data={"back": "/staff/texts/",
                                                                "csrf_token": csrf(client, "/staff/texts/")},
                          follow_redirects=True)
    assert "There is no flows release 99." in unknown.text and runtime.flows.number == 3


def test_a_broken_draft_is_not_published_and_the_page_says_why(client, editor, files, runtime):
    (files / "flows" / "stop.yml").write_text("flow: stop\nsteps:\n\tbroken: [\n", encoding="utf-8")
    response = client.post("/staff/releases/publish", data={"back": "/staff/texts/",
                                                             "csrf_token": csrf(client, "/staff/texts/")})
    assert response.status_code == 400 and "Not published" in response.text and "stop.yml" in response.text
    assert 'href="/staff/texts/"' in response.text  # and the way back to the texts
    assert runtime.flows.number == 1


def test_a_translation_must_fit_every_place_its_english_is_shown(client, editor, files):
    source, at = "Talk to a person", "main.menu.label.1"  # a list row here (24), a reply button elsewhere (20)
    page = client.get(page_url(source, at)).text
    assert "at most <strong>20</strong> characters in a button title" in page and "places" in page
    response = client.post(f"/staff/texts/{text_key(source)}/translation?at={at}",
                           data={"language": "fr", "text": "Parler à une personne !",
                                 "csrf_token": csrf(client, page_url(source, at))})
    assert response.status_code == 400 and "23 characters: WhatsApp shows at most 20 in a button title" in response.text
