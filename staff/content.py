"""Referral content for editors: is what is in the files live, what is wrong with it, which
translations are missing or wait for a speaker's review, and which offers people found helpful.
Publishing here is the same as `flask content reload`."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for

from referrals.check import ContentError, drafts, missing
from referrals.feedback import Counts, counts
from referrals.release import check_files, latest_release, publish
from staff.auth import current_user, role_required

EDITORS = ("admin", "editor")

blueprint = Blueprint("content", __name__, url_prefix="/content")


def _runtime():
    return current_app.extensions["dda"]


@blueprint.get("/")
@role_required(*EDITORS)
def index():
    runtime = _runtime()
    problems: list[str] = []
    try:
        draft = check_files(runtime.settings)
    except ContentError as error:
        draft, problems = None, error.problems
    live_content = runtime.referrals.current()
    with runtime.session() as session:
        release = latest_release(session)
        answers = counts(session)
        release = None if release is None else {"id": release.number, "at": release.published_at,
                                                "by": release.published_by, "fingerprint": release.fingerprint}
    categories = {c.id: c for c in live_content.categories}
    regions = []
    for region in [*live_content.regions, *([live_content.national] if live_content.national else [])]:
        rows = []
        for offer in sorted((o for o in live_content.offers if o.region == region.id),
                            key=lambda o: (o.category, o.subcategory, o.menu_title("en"))):
            category = categories.get(offer.category)
            subcategory = category.subcategory(offer.subcategory) if category else None
            rows.append({"offer": offer, "category": category.name.get("en") if category else offer.category,
                         "subcategory": subcategory.name.get("en") if subcategory else offer.subcategory,
                         "answers": answers.get(offer.id, Counts())})
        regions.append({"region": region, "rows": rows})
    unpublished = draft is not None and (release is None or release["fingerprint"] != draft.fingerprint)
    codes = runtime.settings.languages.all
    untranslated = missing(draft, codes) if draft is not None else {}
    review = drafts(runtime.settings.content.referrals)
    languages = [{"code": code, "missing": untranslated.get(code), "review": review.get(code, 0)} for code in codes]
    return render_template("staff/content.html", release=release, problems=problems, draft=draft,
                           unpublished=unpublished, regions=regions, languages=languages,
                           needs_a_look=sum(1 for c in answers.values() if c.needs_a_look))


@blueprint.post("/publish")
@role_required(*EDITORS)
def publish_now():
    try:
        published = publish(_runtime(), current_user().actor)
    except ContentError as error:
        flash(f"Not published: the files have {len(error.problems)} problem(s), listed below. "
              "People keep seeing the last good version.")
        return redirect(url_for("staff.content.index"))
    if published.release_id is None:
        flash("Nothing to publish: the files are the same as the live content.")
    else:
        flash(f"Published release {published.release_id}: {len(published.content.offers)} offers in "
              f"{len(published.content.regions)} regions. Every server and worker switches within seconds.")
    return redirect(url_for("staff.content.index"))
