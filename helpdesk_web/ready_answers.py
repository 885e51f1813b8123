"""/helpdesk/ready-answers: supervisors change and add the console's ready answers per language.

The page shows every answer with the languages it is missing, so a supervisor sees at a glance
what helpers would get in English; saving publishes them to every server (handoff/ready_answers.py:
validated whole, a refusal is shown with what was typed) and is recorded in the audit log.
"""
from __future__ import annotations

from babel import Locale
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from handoff.ready_answers import ReadyAnswer, ReadyAnswerError
from helpdesk_web.console import MANAGERS, helper_locale
from privacy.audit import record
from staff.auth import current_user, role_required
from store.releases import ReleaseConflict

blueprint = Blueprint("ready_answers", __name__, url_prefix="/helpdesk/ready-answers")


def _languages() -> tuple[list[str], str]:
    settings = current_app.extensions["dda"].settings
    return settings.languages.all, settings.languages.source


def _render(*, error: str | None = None, typed: ReadyAnswer | None = None, status: int = 200):
    languages, source = _languages()
    locale = helper_locale()
    names = {code: Locale.parse(code).get_display_name(locale) for code in languages}
    answers = current_app.extensions["dda"].ready_answers
    found, missing = answers.all(), answers.missing()
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
    runtime = current_app.extensions["dda"]
    actor = current_user().actor
    with runtime.session() as session:
        try:
            runtime.ready_answers.put(session, answer, actor, new=new)
        except (ReadyAnswerError, ReleaseConflict) as refused:
            return _render(error=f"Not saved: {refused}.", typed=answer, status=400)
        record(session, actor, "added ready answer" if new else "changed ready answer", f"ready_answer:{answer.id}",
               ", ".join(sorted(answer.texts)))
        session.commit()
    runtime.ready_answers.forget()
    flash(f"Ready answer {answer.id} saved ({len(answer.texts)} of {len(runtime.settings.languages.all)} languages).")
    return redirect(url_for(".page") + f"#answer-{answer.id}")
