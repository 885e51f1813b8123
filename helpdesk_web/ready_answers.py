"""/helpdesk/ready-answers: supervisors change and add the console's ready answers per language.

The page shows every answer with the languages it is missing, so a supervisor sees at a glance
what helpers would get in English; saving writes handoff/ready_answers.yml (validated whole, a
refusal is shown with what was typed) and is recorded in the audit log.
"""
from __future__ import annotations

from babel import Locale
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from handoff.ready_answers import ReadyAnswer, ReadyAnswerError, answers
from helpdesk_web.console import MANAGERS, helper_locale
from privacy.audit import record
from staff.auth import current_user, role_required

blueprint = Blueprint("ready_answers", __name__, url_prefix="/helpdesk/ready-answers")


def _languages() -> tuple[list[str], str]:
    settings = current_app.extensions["dda"].settings
    return settings.languages.all, settings.languages.source


def _render(*, error: str | None = None, typed: ReadyAnswer | None = None, status: int = 200):
    languages, source = _languages()
    locale = helper_locale()
    names = {code: Locale.parse(code).get_display_name(locale) for code in languages}
    found = answers.all(languages, source)
    missing = answers.missing(languages, source)
    return render_template("helpdesk/ready_answers.html", answers=found, missing=missing, languages=languages,
                           source=source, names=names, error=error, typed=typed,
                           total_missing=sum(len(gaps) for gaps in missing.values())), status


@blueprint.get("/")
@role_required(*MANAGERS)
def page():
    return _render()[0]


def _from_form() -> ReadyAnswer:
    languages, _source = _languages()
    texts = {code: request.form.get(f"text_{code}", "").strip() for code in languages}
    return ReadyAnswer(id=request.form.get("id", "").strip(),
                       texts={code: text for code, text in texts.items() if text})


@blueprint.post("/")
@role_required(*MANAGERS)
def save():
    answer = _from_form()
    new = request.form.get("new") == "yes"
    languages, source = _languages()
    try:
        answers.put(answer, languages, source, new=new)
    except ReadyAnswerError as refused:
        return _render(error=f"Not saved: {refused}.", typed=answer, status=400)
    with current_app.extensions["dda"].session() as session:
        record(session, current_user().actor, "added ready answer" if new else "changed ready answer",
               f"ready_answer:{answer.id}", ", ".join(sorted(answer.texts)))
        session.commit()
    flash(f"Ready answer {answer.id} saved ({len(answer.texts)} of {len(languages)} languages).")
    return redirect(url_for(".page") + f"#answer-{answer.id}")
