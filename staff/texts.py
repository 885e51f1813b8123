"""Bot texts for editors: every text the bot says, by flow and step, in every language.

Editors who know neither Python nor Git find a text, see which languages miss it or need a
review, change a translation or the English, and see the message as WhatsApp shows it before
saving. Saves go to the same flow files and catalogs developers use (translations/editing.py),
each one in the audit log with the editor's name; a save the bot could not send (placeholders
that differ, a button title too long) is refused with the reason, in the browser while typing
and again here.
"""
from __future__ import annotations

from babel import Locale, UnknownLocaleError
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from bot.formats import is_right_to_left
from bot.i18n import Translator
from bot.menus import LIST_BUTTON
from privacy.audit import record
from releases import flows as flow_releases
from staff.auth import current_user, role_required
from store.releases import fingerprint_of
from translations import editing
from translations.editing import STATES, EditRefused, Text

EDITORS = ("admin", "editor")
MAX_SEARCH = 200
SHOWN_RELEASES = 20

blueprint = Blueprint("texts", __name__, url_prefix="/texts")


def _runtime():
    return current_app.extensions["dda"]


def _paths():
    content = _runtime().settings.content
    return content.flows, content.translations


def _languages() -> list[dict]:
    languages = _runtime().settings.languages
    found = []
    for code in languages.all:
        try:
            name = Locale.parse(code).get_display_name("en") or code
        except (UnknownLocaleError, ValueError):
            name = code
        found.append({"code": code, "name": name, "rtl": is_right_to_left(code), "program": code in languages.program,
                      "source": code == languages.source})
    return found


def _texts() -> list[Text]:
    flows, catalogs = _paths()
    languages = _runtime().settings.languages
    return editing.all_texts(flows, catalogs, languages.all, languages.source)


def _text_or_404(key: str) -> Text:
    if not editing.valid_key(key):
        abort(404)
    found = editing.find_text(_texts(), key, request.values.get("at"))
    if found is None:
        abort(404)
    return found


def _allowed_placeholders() -> set[str]:
    flows, _catalogs = _paths()
    saved = {step.get("save") for flow in editing.read_flows(flows).values() for step in flow.steps.values()
             if isinstance(step.get("save"), str)}
    return set(_runtime().settings.placeholders()) | saved


def _preview(text: Text, language: str, value: str | None = None) -> editing.Preview:
    """The message where `text` is shown, in `language`, with `value` in place of its saved translation."""
    runtime = _runtime()
    flows, catalogs = _paths()
    translator = Translator(catalogs)
    values = runtime.settings.placeholders()

    def translate(source: str) -> str:
        if value is not None and source == text.source:
            return translator.format(value, language, **values)
        return translator.text(source, language, **values)

    return editing.preview(flows, text, translate, translator.text(LIST_BUTTON, language))


def _publishing() -> dict:
    """What is live, and whether the files hold edits that are not (for the Publish button)."""
    runtime = _runtime()
    history = flow_releases.releases(runtime)
    draft = fingerprint_of(flow_releases.collect(runtime.settings))
    live = history[0] if history else None
    return {"live": live, "history": history[:SHOWN_RELEASES], "unpublished": live is None or live.fingerprint != draft}


@blueprint.get("/")
@role_required(*EDITORS)
def index():
    languages = _languages()
    codes = {language["code"] for language in languages}
    language = request.args.get("language", "")
    language = language if language in codes else ""
    state = request.args.get("state", "")
    state = state if state in STATES else ""
    flow = request.args.get("flow", "")
    search = (request.args.get("q") or "").strip()[:MAX_SEARCH]
    texts = _texts()
    flows = sorted({text.place.flow for text in texts if text.place.flow})
    flow = flow if flow in flows or flow == editing.PROGRAM_GROUP else ""
    shown = [text for text in texts if editing.matches(text, language=language, state=state, flow=flow, search=search)]
    totals = {code: {s: sum(1 for t in texts if t.translations[code].state == s) for s in STATES}
              for code in codes if not any(lang["source"] and lang["code"] == code for lang in languages)}
    groups: dict[str, list[Text]] = {}
    for text in shown:
        groups.setdefault(text.place.flow or editing.PROGRAM_GROUP, []).append(text)
    return render_template("staff/texts.html", groups=groups, languages=languages, language=language, state=state,
                           flow=flow, flows=flows, search=search, states=STATES, totals=totals, count=len(shown),
                           total=len(texts), program_group=editing.PROGRAM_GROUP, publishing=_publishing())


def _edit_page(text: Text, problems: dict[str, str] | None = None, drafts: dict[str, str] | None = None,
               status: int = 200):
    languages = _languages()
    drafts = drafts or {}
    previews = {language["code"]: _preview(text, language["code"], drafts.get(language["code"]))
                for language in languages}
    return render_template("staff/text.html", text=text, languages=languages, previews=previews,
                           problems=problems or {}, drafts=drafts, publishing=_publishing(),
                           placeholders=editing.placeholders(text.source)), status


@blueprint.get("/<key>")
@role_required(*EDITORS)
def edit(key: str):
    return _edit_page(_text_or_404(key))


def _back(text: Text, anchor: str):
    return redirect(url_for(".edit", key=text.key, at=text.place.id, _anchor=anchor))


@blueprint.post("/<key>/translation")
@role_required(*EDITORS)
def save_translation(key: str):
    text = _text_or_404(key)
    languages = _runtime().settings.languages
    language = request.form.get("language", "")
    if language not in languages.all or language == languages.source:
        return _edit_page(text, {"": "Choose one of the languages on this page."}, status=400)
    value = request.form.get("text", "").replace("\r\n", "\n")
    _flows, catalogs = _paths()
    try:
        editing.save_translation(catalogs, text, language, value)
    except EditRefused as refused:
        return _edit_page(text, {language: str(refused)}, {language: value}, status=400)
    with _runtime().session() as session:
        record(session, current_user().actor, "text.translation", f"text:{text.key}",
               f"{language} at {text.place.id}: {value}")
        session.commit()
    flash(f"Saved the {language} text. It reaches people when the texts are published.")
    return _back(text, f"language-{language}")


@blueprint.post("/<key>/source")
@role_required(*EDITORS)
def save_source(key: str):
    text = _text_or_404(key)
    runtime = _runtime()
    languages = runtime.settings.languages
    value = request.form.get("text", "").replace("\r\n", "\n").strip()
    flows, catalogs = _paths()
    try:
        editing.change_source(flows, catalogs, text, value, _allowed_placeholders(), languages.all, languages.source)
    except EditRefused as refused:
        return _edit_page(text, {languages.source: str(refused)}, {languages.source: value}, status=400)
    if value == text.source:
        flash("Nothing changed: the English text is the same.")
        return _back(text, f"language-{languages.source}")
    with runtime.session() as session:
        record(session, current_user().actor, "text.source", f"text:{editing.text_key(value)}",
               f"{text.place.id}: {text.source!r} -> {value!r}")
        session.commit()
    flash("Saved the English text. Its translations are kept as 'needs review' until someone who speaks the "
          "language checks them.")
    return redirect(url_for(".edit", key=editing.text_key(value), at=text.place.id))


@blueprint.post("/<key>/preview")
@role_required(*EDITORS)
def preview(key: str):
    """The preview of an unsaved text, for the page's script (an HTML fragment)."""
    text = _text_or_404(key)
    language = request.form.get("language", "")
    if language not in _runtime().settings.languages.all:
        abort(404)
    value = request.form.get("text", "")[:4096]
    return render_template("staff/_whatsapp.html", preview=_preview(text, language, value),
                           rtl=is_right_to_left(language))
