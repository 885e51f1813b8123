"""Flows and their texts go live as numbered releases: published, listed, rolled back, served by
every process without a restart, and at start-up the last release, not the files on disk."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from sqlalchemy import select

from settings import ROOT

FRENCH_MENU = 'msgstr "Que puis-je faire pour vous ?"'


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def makefile_recipe(target: str) -> list[str]:
    """The commands of a Makefile target, continuation lines joined."""
    lines = (ROOT / "Makefile").read_text().replace("\\\n", " ").splitlines()
    start = lines.index(next(line for line in lines if line.startswith(f"{target}:"))) + 1
    recipe = []
    for line in lines[start:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def french_menu(whatsapp, phone: str) -> str:
    """The main menu after choosing French, from its question on: the welcome is above it in
    the same message."""
    whatsapp.send("bonjour", phone=phone)
    shown = whatsapp.conversation("4", phone=phone)[-1]  # 4. Français
    return "\n\n".join(shown.split("\n\n")[-2:])  # the question, then the list under it


def test_publish_list_and_roll_back(runner, runtime, draft, whatsapp):
    assert french_menu(whatsapp, "+31600000001").startswith("Que puis-je faire pour vous ?")
    edit(draft / "translations/fr/LC_MESSAGES/messages.po", FRENCH_MENU, 'msgstr "Comment puis-je vous aider ?"')
    checked = runner.invoke(args=["flows", "check"])
    assert checked.exit_code == 0 and "Not live yet: people get release 1; `flask flows publish`" in checked.output
    published = runner.invoke(args=["flows", "publish", "--by", "maria", "--note", "plus chaleureux"])
    assert published.exit_code == 0, published.output
    assert "Published release 2" in published.output
    assert french_menu(whatsapp, "+31600000002").startswith("Comment puis-je vous aider ?")

    rolled = runner.invoke(args=["flows", "rollback", "1"])
    assert rolled.exit_code == 0, rolled.output
    assert "Release 1 is live again, as release 3" in rolled.output
    assert french_menu(whatsapp, "+31600000003").startswith("Que puis-je faire pour vous ?")

    listed = json.loads(runner.invoke(args=["flows", "releases", "--json"]).output)
    assert [(r["number"], r["live"], r["note"]) for r in listed] == [
        (3, True, "rollback to 1"), (2, False, "plus chaleureux"), (1, False, "first start: the files on disk")]
    assert listed[1]["published_by"] == "maria (cli)"
    assert "LIVE" in runner.invoke(args=["flows", "releases"]).output.splitlines()[0]


def test_publishing_the_live_content_again_is_not_a_new_release(runner, draft):
    result = runner.invoke(args=["flows", "publish"])
    assert result.exit_code == 0 and "Already live" in result.output


def test_rolling_back_to_a_release_that_does_not_exist_says_so(runner):
    result = runner.invoke(args=["flows", "rollback", "7"])
    assert result.exit_code == 1
    assert "there is no flows release 7; `flask flows releases` lists them" in result.output


def test_a_missing_translation_in_a_program_language_is_not_published(runner, draft, whatsapp):
    edit(draft / "translations/fr/LC_MESSAGES/messages.po", FRENCH_MENU, 'msgstr ""')
    result = runner.invoke(args=["flows", "publish"])
    assert result.exit_code == 1
    assert "'What can I do for you?' has no translation in fr; translate it" in result.output
    assert "people keep getting release 1" in result.output
    assert french_menu(whatsapp, "+31600000004").startswith("Que puis-je faire pour vous ?")


def test_another_process_serves_a_new_release_without_a_restart(app, runtime, draft, whatsapp, monkeypatch):
    """A second service (another server or worker) on the same database publishes; this one
    switches at its next look, without a restart."""
    from releases.flows import publish
    from webhook import create_app

    other = create_app(embedded_worker=False).extensions["dda"]
    try:
        other.settings.content.flows = runtime.settings.content.flows
        other.settings.content.translations = runtime.settings.content.translations
        edit(draft / "translations/fr/LC_MESSAGES/messages.po", FRENCH_MENU, 'msgstr "Que faire pour vous ?"')
        assert publish(other, "maria").number == 2
    finally:
        other.close()
    monkeypatch.setattr(runtime.settings.content, "refresh_seconds", 0)
    assert french_menu(whatsapp, "+31600000005").startswith("Que faire pour vous ?")


def test_start_up_serves_the_last_release_not_the_files(app, runtime, draft, monkeypatch):
    from webhook import create_app

    edit(draft / "translations/fr/LC_MESSAGES/messages.po", FRENCH_MENU, 'msgstr "Pas encore publié"')
    config = draft / "config.yml"
    config.write_text((ROOT / "config.yml").read_text().replace("flows: flows", f"flows: {draft / 'flows'}")
                      .replace("translations: translations", f"translations: {draft / 'translations'}"))
    monkeypatch.setenv("DDA_CONFIG", str(config))
    restarted = create_app(embedded_worker=False).extensions["dda"]
    try:
        assert restarted.flows.number == 1
        assert restarted.translator.text("What can I do for you?", "fr") == "Que puis-je faire pour vous ?"
    finally:
        restarted.close()


def test_rewording_an_english_text_keeps_the_french_served_until_reviewed(runner, runtime, draft, whatsapp):
    """An editor adds a word to an English text and runs `make translations` (the real Makefile,
    on a copy of the project): French people keep the reviewed French, English people get the new
    wording, `translations status` lists it as needs review, and once a reviewer accepts a
    translation of the new wording, that one is served."""
    for name in ("Makefile", "babel.cfg", "pyproject.toml"):
        shutil.copy2(ROOT / name, draft / name)
    for folder in ("bot", "handoff", "inbox", "registration", "vouchers", "privacy", "delivery", "channels",
                   "referrals"):
        shutil.copytree(ROOT / folder, draft / folder, ignore=shutil.ignore_patterns("__pycache__"))
    edit(draft / "flows/main.yml", 'menu: "What can I do for you?"', 'menu: "What can I do for you today?"')
    for command in makefile_recipe("translations"):
        if "pybabel" in command:  # the catalogs' refresh; compiling .mo files is not needed to serve
            subprocess.run(command.replace("$(BIN)", str(ROOT / ".venv" / "bin")), shell=True, cwd=draft, check=True,
                           capture_output=True)
    french = (draft / "translations/fr/LC_MESSAGES/messages.po").read_text(encoding="utf-8")
    assert '#, fuzzy\n#| msgid "What can I do for you?"\nmsgid "What can I do for you today?"\n' \
           'msgstr "Que puis-je faire pour vous ?"' in french

    published = runner.invoke(args=["flows", "publish"])
    assert published.exit_code == 0, published.output
    assert french_menu(whatsapp, "+31600000006").startswith("Que puis-je faire pour vous ?")
    whatsapp.send("hello", phone="+31600000007")
    assert "\n\nWhat can I do for you today?\n\n☰" in whatsapp.conversation("2", phone="+31600000007")[-1]

    status = runner.invoke(args=["translations", "status", "--json"])
    assert status.exit_code == 0, status.output
    by_language = {row["language"]: row for row in json.loads(status.output)}
    assert by_language["fr"]["needs_review_texts"] == ["What can I do for you today?"]
    assert by_language["fr"]["missing"] == 0

    edit(draft / "translations/fr/LC_MESSAGES/messages.po",
         '#, fuzzy\n#| msgid "What can I do for you?"\nmsgid "What can I do for you today?"\n'
         'msgstr "Que puis-je faire pour vous ?"',
         'msgid "What can I do for you today?"\nmsgstr "Que puis-je faire pour vous aujourd\'hui ?"')
    assert runner.invoke(args=["flows", "publish"]).exit_code == 0
    assert french_menu(whatsapp, "+31600000008").startswith("Que puis-je faire pour vous aujourd'hui ?")


# -- the editors' page -----------------------------------------------------------------------
def test_the_publish_page_is_for_editors_and_says_why_a_draft_is_refused(app, client, runner, draft, whatsapp):
    from tests.test_staff import csrf, signed_in

    agent = app.test_client()
    signed_in(agent, runner, role="agent", email="agent@example.org")
    assert agent.get("/staff/releases/").status_code == 403
    signed_in(client, runner, role="editor", email="editor@example.org")
    page = client.get("/staff/releases/").text
    assert "Release 1, published" in page and "the same as the live release" in page
    edit(draft / "translations/fr/LC_MESSAGES/messages.po", FRENCH_MENU, 'msgstr ""')
    page = client.get("/staff/releases/").text
    assert "cannot be published until these are fixed" in page
    assert "&#39;What can I do for you?&#39; has no translation in fr" in page
    refused = client.post("/staff/releases/publish", data={"csrf_token": csrf(client, "/staff/releases/")})
    assert refused.status_code == 400
    assert "Not published: the saved files have mistakes, listed below (1 problem(s))" in refused.text
    assert "has no translation in fr" in refused.text
    assert "People keep getting release 1" in refused.text
    assert client.post("/staff/releases/9/rollback", data={"csrf_token": csrf(client, "/staff/releases/")},
                       follow_redirects=True).text.count("There is no flows release 9.") == 1
    assert french_menu(whatsapp, "+31600000009").startswith("Que puis-je faire pour vous ?")


def test_which_fuzzy_translations_are_served():
    """A reworded text keeps its translation (with or without the `#|` previous wording); a new text
    that gettext matched to a *different* text still in use does not borrow that one's translation,
    nor is a translation served with a placeholder the new English lacks; the source language's own
    catalog never serves the old English."""
    from bot.i18n import parse_catalog, served

    catalog = parse_catalog('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                            '#, fuzzy\n#| msgid "Nothing was "\n#| "deleted."\nmsgid "Nothing at all was deleted."\n'
                            'msgstr "Rien n\'a été effacé."\n\n'
                            '#, fuzzy\nmsgid "Reworded on the texts page."\nmsgstr "Reformulé."\n\n'
                            '#, fuzzy\n#| msgid "Yes"\nmsgid "Yes!"\nmsgstr "Oui"\n\n'
                            '#, fuzzy\nmsgid "Thank you."\nmsgstr "Merci, {name}."\n\n'
                            'msgid "Yes"\nmsgstr "Oui"\n')
    shown = served(catalog)
    assert shown.texts == {"Nothing at all was deleted.": "Rien n'a été effacé.",
                           "Reworded on the texts page.": "Reformulé.", "Yes": "Oui"}
    assert shown.needs_review == {"Nothing at all was deleted.", "Reworded on the texts page."}
    assert served(catalog, source_language=True).texts == {"Yes": "Oui"}


def test_old_releases_go_once_a_day_and_the_live_one_still_serves(runner, runtime, draft, whatsapp, monkeypatch):
    """A flows release holds every text in every language: kept for ever, they would fill the
    database. The newest `content.keep_releases` of each kind stay to roll back to."""
    from handoff.ready_answers import ReadyAnswer
    from jobs.scheduled import prune_releases_once_a_day
    from store.models import AuditEntry

    monkeypatch.setattr(runtime.settings.content, "keep_releases", 2)
    edit(draft / "translations/fr/LC_MESSAGES/messages.po", FRENCH_MENU, 'msgstr "Comment puis-je vous aider ?"')
    assert runner.invoke(args=["flows", "publish"]).exit_code == 0  # release 2
    edit(draft / "translations/fr/LC_MESSAGES/messages.po", 'msgstr "Comment puis-je vous aider ?"',
         'msgstr "En quoi puis-je vous aider ?"')
    assert runner.invoke(args=["flows", "publish"]).exit_code == 0  # release 3, live
    for number in range(3):  # three saves of the helpdesk's ready answers
        with runtime.session() as session:
            runtime.ready_answers.put(session, ReadyAnswer(f"answer_{number}", {"en": f"Answer {number}."}),
                                      "staff:supervisor@example.org", new=True)
            session.commit()

    assert prune_releases_once_a_day(runtime) == {"flows": 1, "ready_answers": 1}
    assert prune_releases_once_a_day(runtime) is None  # once a day, across all workers

    listed = json.loads(runner.invoke(args=["flows", "releases", "--json"]).output)
    assert [(r["number"], r["live"]) for r in listed] == [(3, True), (2, False)]
    assert "there is no flows release 1" in runner.invoke(args=["flows", "rollback", "1"]).output
    assert french_menu(whatsapp, "+31600000004").startswith("En quoi puis-je vous aider ?")
    runtime.ready_answers.forget()
    assert [a.id for a in runtime.ready_answers.all()][-3:] == ["answer_0", "answer_1", "answer_2"]
    with runtime.session() as session:
        audited = session.execute(select(AuditEntry.action, AuditEntry.detail)
                                  .where(AuditEntry.action == "pruned releases")).all()
    assert [tuple(row) for row in audited] == [("pruned releases", "flows 1, ready_answers 1")]
