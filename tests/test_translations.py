"""Catalogs: complete for the program languages, placeholders intact, flows extractable."""
import shutil
import subprocess
import sys

import pytest
from babel.messages.pofile import read_po

from settings import ROOT
from translations.catalogs import DIRECTORY, catalog_path, read_catalog
from translations.extract import extract_flows
from translations.status import all_statuses

PROGRAM = ["ar", "en", "es", "fr", "id", "nl", "pt", "tl", "uk"]
SERVED = ["fa", "ti", "so", "tr", "ru", "am"]


def test_status_command_passes_and_lists_every_language(runner):
    result = runner.invoke(args=["translations", "status"])
    assert result.exit_code == 0, result.output
    for language in PROGRAM + SERVED:
        assert f"\n{language} " in "\n" + result.output


def test_every_language_is_complete_with_matching_placeholders():
    for status in all_statuses(PROGRAM, SERVED):
        assert status.missing == [], (status.language, status.missing)
        assert status.placeholder_errors == [], (status.language, status.placeholder_errors)


def test_drafts_without_a_native_speaker_are_marked_for_review():
    statuses = {s.language: s for s in all_statuses(PROGRAM, SERVED)}
    assert all(statuses[code].review == statuses[code].translated for code in PROGRAM + SERVED if code != "en")


@pytest.fixture
def catalogs(tmp_path):
    folder = tmp_path / "translations"
    shutil.copytree(DIRECTORY, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__", "*.mo"))
    return folder


def _edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_broken_placeholder_fails_the_language(catalogs):
    from babel.messages.pofile import write_po

    path = catalog_path("nl", catalogs)
    catalog = read_catalog(path)
    message = catalog["Thank you, {reg_name}. You are registered. Our team will check your registration within five "
                      "working days and tell you here."]
    message.string = message.string.replace("{reg_name}", "{naam}")
    with path.open("wb") as handle:
        write_po(handle, catalog)
    nl = next(s for s in all_statuses(PROGRAM, SERVED, directory=catalogs) if s.language == "nl")
    assert not nl.complete
    assert nl.placeholder_errors == [f"{message.id[:50]!r}: expects ['reg_name'], has ['naam']"]


def test_a_missing_text_fails_the_status_command(catalogs, runner, runtime, monkeypatch):
    path = catalog_path("ar", catalogs)
    catalog = read_catalog(path)
    message = next(m for m in catalog if m.id == "Change language")
    _edit(path, f'msgstr "{message.string}"', 'msgstr ""')
    monkeypatch.setattr(runtime.settings.content, "translations", catalogs)
    result = runner.invoke(args=["translations", "status"])
    assert result.exit_code == 1
    assert "incomplete program languages: ar" in result.output


def test_flow_texts_are_extracted_with_their_place():
    with open(ROOT / "flows" / "delete_data.yml", "rb") as handle:
        found = list(extract_flows(handle, [], [], {}))
    texts = {text: comments for _line, _func, text, comments in found}
    assert "Yes, delete everything" in texts
    assert texts["Nothing was deleted."] == ["flow delete_data, step kept"]


def test_pybabel_extract_finds_flow_texts_through_the_registered_extractor(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "N_",
                    "-o", str(pot), "."], cwd=ROOT, check=True, capture_output=True)
    with pot.open("rb") as handle:
        ids = {m.id for m in read_po(handle)}
    assert "Choose your language: reply with the number." in ids  # from flows/language.yml
    assert "Sorry, I did not understand that." in ids             # from bot/engine.py
    with (DIRECTORY / "messages.pot").open("rb") as handle:
        committed = {m.id for m in read_po(handle)}
    assert ids == committed, "run `make translations` after changing texts"
