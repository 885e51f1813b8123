"""Publishing flows and bot texts from the browser, for editors: what is live, whether the saved
files differ from it and what is wrong with them (in the words `flask flows check` uses), a
Publish button, and every earlier release with a button to make it live again. The same
functions as `flask flows publish|releases|rollback` (releases/flows.py); both are audited."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

import releases.flows as flows_release
from bot.flows import FlowError
from staff.auth import current_user, role_required
from store import releases as stored

EDITORS = ("admin", "editor")

blueprint = Blueprint("releases", __name__, url_prefix="/releases")


def _runtime():
    return current_app.extensions["dda"]


@blueprint.get("/")
@role_required(*EDITORS)
def index():
    runtime = _runtime()
    problems: list[str] = []
    draft: dict | None = None
    try:
        draft = flows_release.collect(runtime.settings)
        flows_release.check(runtime, draft)
    except FlowError as error:
        problems = error.problems
    history = flows_release.releases(runtime)
    live = history[0] if history else None
    unpublished = draft is not None and (live is None or live.fingerprint != stored.fingerprint_of(draft))
    return render_template("staff/releases.html", history=history, live=live, problems=problems,
                           unpublished=unpublished, refresh=runtime.settings.content.refresh_seconds)


def _back() -> str:
    """Where the editor was: the texts pages post here too, and their editor goes back to them."""
    back = request.form.get("back") or ""
    return back if back.startswith(("/staff/texts/", "/staff/releases/")) else url_for(".index")


def _change(make, refused: str, done: str):
    """Run a publication (`make()` -> Published) and tell the editor what became of it: every
    problem of a refused draft on a page of its own, anything else as a notice where they were."""
    runtime = _runtime()
    live = runtime.flows.number
    back = _back()
    try:
        published = make(runtime, current_user().actor)
    except LookupError as error:
        flash(f"{str(error)[0].upper()}{str(error)[1:]}.")
    except FlowError as error:
        return render_template("staff/publish_refused.html", problems=error.problems, back=back,
                               refused=f"{refused} ({len(error.problems)} problem(s)). "
                                       f"People keep getting release {live}."), 400
    except stored.ReleaseConflict as error:
        flash(f"Nothing changed: {error}.")
    else:
        flash("Nothing changed: that is what is live already." if published.number is None else
              f"{done.format(number=published.number, summary=published.summary)} Every server and worker "
              f"switches within {runtime.settings.content.refresh_seconds:g} seconds.")
    return redirect(back)


@blueprint.post("/publish")
@role_required(*EDITORS)
def publish():
    note = (request.form.get("note") or "").strip()[:200]
    return _change(lambda runtime, actor: flows_release.publish(runtime, actor, note),
                   "Not published: the saved files have mistakes, listed below",
                   "Published release {number} ({summary}).")


@blueprint.post("/<int:number>/rollback")
@role_required(*EDITORS)
def rollback(number: int):
    return _change(lambda runtime, actor: flows_release.rollback(runtime, number, actor),
                   f"Release {number} cannot go live again: it does not fit this version of the service",
                   f"Release {number} is live again, as release {{number}}. The files still hold the later "
                   "edits: publishing them makes those live again.")
