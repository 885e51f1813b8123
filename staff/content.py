"""Referral content for editors: is what is in the files live, what is wrong with it, which
translations are missing or wait for a speaker's review, and which offers people found helpful.
Publishing here is the same as `flask content reload`, rolling back the same as
`flask content rollback N`, importing the same as `flask content import`; regions, categories and
offers are edited in forms that write the same files, checked like `flask content check`."""
from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from bot.flows import NAME
from bot.formats import is_right_to_left
from bot.yaml_source import plain, read_yaml_mapping
from info_web.cards import card
from privacy.audit import record
from referrals import editing
from referrals.card import offer_card
from referrals.check import ContentError, drafts, missing
from referrals.csv_import import MAX_BYTES, import_region
from referrals.editing import NotFound, category_data, offer_data, region_data
from referrals.feedback import Counts, counts
from referrals.release import NoSuchRelease, check_files, history, latest_release, publish, rollback
from staff.auth import current_user, role_required
from staff.display import whatsapp

EDITORS = ("admin", "editor")

blueprint = Blueprint("content", __name__, url_prefix="/content")
blueprint.add_app_template_filter(whatsapp, "whatsapp")


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
    with runtime.session() as session:
        published = history(session)
    files = _files(runtime.settings.content.referrals)
    return render_template("staff/content.html", release=release, problems=problems, draft=draft,
                           unpublished=unpublished, regions=regions, languages=languages, history=published,
                           files=files, needs_a_look=sum(1 for c in answers.values() if c.needs_a_look))


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


@blueprint.post("/rollback/<int:number>")
@role_required(*EDITORS)
def rollback_now(number: int):
    try:
        restored = rollback(_runtime(), number, current_user().actor)
    except NoSuchRelease:
        flash(f"There is no release {number}.")
        return redirect(url_for("staff.content.index"))
    if restored.release_id is None:
        flash(f"Release {number} is already live; nothing changed.")
    else:
        flash(f"Rolled back: release {restored.release_id} restores release {number} "
              f"({len(restored.content.offers)} offers). Every server and worker switches within seconds. "
              "The files still hold the later changes: publishing them again makes those live.")
    return redirect(url_for("staff.content.index"))


# -- the forms ----------------------------------------------------------------------------------
def _files(folder: Path) -> dict:
    """What the files hold, for the lists of things to edit, even while they have a mistake."""
    regions, categories = [], []
    for path in [*sorted((folder / "regions").glob("*.yml")), folder / "national.yml"]:
        try:
            data = region_data(folder, path.stem)
        except (NotFound, ContentError):
            continue
        offers = [o for o in data.get("offers") or [] if isinstance(o, dict)]
        regions.append({"id": path.stem, "name": _english(data.get("name")) or path.stem,
                        "offers": [{"id": o.get("id"), "name": _english(o.get("name")) or o.get("id")}
                                   for o in offers]})
    try:
        for category in _categories(folder):
            categories.append({"id": category.get("id"), "name": _english(category.get("name")) or category.get("id"),
                               "subcategories": [s.get("id") for s in category.get("subcategories") or []
                                                 if isinstance(s, dict)]})
    except (NotFound, ContentError):
        pass
    return {"regions": regions, "categories": categories}


def _categories(folder: Path) -> list[dict]:
    data, problems = read_yaml_mapping(folder / "categories.yml", "categories.yml must be a mapping")
    if data is None:
        raise ContentError(problems)
    return [c for c in plain(data).get("categories") or [] if isinstance(c, dict)]


def _english(value) -> str | None:
    if isinstance(value, dict):
        return value.get("en")
    return None if value is None else str(value)


def _codes() -> tuple[list[str], list[str]]:
    """The program languages and the other served ones, as the checks take them."""
    languages = _runtime().settings.languages
    return languages.program, languages.served


def _languages() -> list[str]:
    return _runtime().settings.languages.all


def _text(prefix: str, translated: bool) -> str | dict | None:
    """A text from the form: one field, or one per language (`description.nl`)."""
    if not translated:
        return request.form.get(prefix, "").strip() or None
    return {code: request.form.get(f"{prefix}.{code}", "").strip() for code in _languages()
            if request.form.get(f"{prefix}.{code}", "").strip()} or None


def _location(problems: list[str]) -> list[float] | None:
    latitude, longitude = (request.form.get(k, "").strip().replace(",", ".") for k in ("latitude", "longitude"))
    if not latitude and not longitude:
        return None
    try:
        return [float(latitude), float(longitude)]
    except ValueError:
        problems.append("location: latitude and longitude must both be numbers, like 52.3676 and 4.9041")
        return None


def _save(saving, what: str, subject: str):
    """Check (preview) or check and write (save); the problems as a list, or the saved content."""
    write = request.form.get("action") == "save"
    runtime = _runtime()
    try:
        saved = saving(write)
    except ContentError as error:
        return None, error.problems
    if write:
        with runtime.session() as session:
            record(session, current_user().actor, "content edited", subject, what)
            session.commit()
        flash(f"Saved {what} in {saved.path.name}. It is not live until you publish.")
    return saved, []


def _written(saved) -> bool:
    return saved is not None and request.form.get("action") == "save"


def _item(read):
    """What the form edits, from the files; or the page saying the file cannot be read (and why)."""
    try:
        return read(), None
    except NotFound:
        abort(404)
    except ContentError as error:
        return {}, (render_template("staff/content_broken.html", problems=error.problems), 400)


@blueprint.route("/offers/<region>/<offer_id>", methods=["GET", "POST"])
@blueprint.route("/offers/<region>/", methods=["GET", "POST"], defaults={"offer_id": None})
@role_required(*EDITORS)
def offer_form(region: str, offer_id: str | None):
    folder = _runtime().settings.content.referrals
    where, broken = _item(lambda: region_data(folder, region))
    if broken:
        return broken
    original, broken = _item(lambda: offer_data(folder, region, offer_id) if offer_id else {})
    if broken:
        return broken
    region_name = _english(where.get("name")) or region
    problems: list[str] = []
    offer = original
    previews: list[dict] = []
    preview_language = request.values.get("preview_language", "en")
    if preview_language not in _languages():
        preview_language = "en"
    if request.method == "POST":
        offer = {"id": request.form.get("id", "").strip(), "category": request.form.get("category", "").strip(),
                 "subcategory": request.form.get("subcategory", "").strip(),
                 "name": _text("name", isinstance(original.get("name"), dict)),
                 "title": _text("title", isinstance(original.get("title"), dict)),
                 "description": _text("description", True),
                 **{key: request.form.get(key, "").strip() for key in ("address", "hours", "phone", "website")},
                 "need_to_know": _text("need_to_know", True), "location": _location(problems)}
        if not problems:
            saved, problems = _save(lambda write: editing.save_offer(folder, region, offer_id, offer, *_codes(),
                                                                     write=write),
                                    f"offer {offer['id']} in {region}", f"content:offer:{offer['id']}")
            if _written(saved):
                return redirect(url_for("staff.content.offer_form", region=region, offer_id=offer["id"]))
            checked = saved.content.offer(offer["id"]) if saved is not None else None
            if checked is not None:
                previews = [{"language": code, "card": offer_card(checked, code), "view": card(checked, code),
                             "dir": "rtl" if is_right_to_left(code) else "ltr"}
                            for code in dict.fromkeys([preview_language, "en"])]
    files = _files(folder)
    return render_template("staff/content_offer.html", region=region, region_name=region_name, offer=offer,
                           offer_id=offer_id, problems=problems, previews=previews, languages=_languages(),
                           categories=files["categories"], preview_language=preview_language), \
        400 if problems else 200


@blueprint.post("/offers/<region>/<offer_id>/delete")
@role_required(*EDITORS)
def offer_delete(region: str, offer_id: str):
    """Remove an offer from its region's file, if the rest still checks out (a region keeps at
    least one offer); like every edit, people see it only after publishing."""
    folder = _runtime().settings.content.referrals
    _, broken = _item(lambda: offer_data(folder, region, offer_id))
    if broken:
        return broken
    if request.form.get("action") != "save":
        flash(f"Offer {offer_id} was not removed: tick the box that says yes, remove it.")
        return redirect(url_for("staff.content.offer_form", region=region, offer_id=offer_id))
    saved, problems = _save(lambda write: editing.delete_offer(folder, region, offer_id, *_codes()),
                            f"removal of offer {offer_id} from {region}", f"content:offer:{offer_id}")
    if saved is None:
        flash(f"Offer {offer_id} was not removed: " + "; ".join(problems))
        return redirect(url_for("staff.content.offer_form", region=region, offer_id=offer_id))
    return redirect(url_for("staff.content.index"))


@blueprint.route("/regions/<region>", methods=["GET", "POST"])
@role_required(*EDITORS)
def region_form(region: str):
    folder = _runtime().settings.content.referrals
    data, broken = _item(lambda: region_data(folder, region))
    name, location, problems = data.get("name"), data.get("location"), []
    if not broken and request.method == "POST":
        name, location = _text("name", True), _location(problems)
        if not problems:
            saved, problems = _save(lambda write: editing.save_region(folder, region, name, location, *_codes(),
                                                                      write=write),
                                    f"region {region}", f"content:region:{region}")
            if _written(saved):
                return redirect(url_for("staff.content.index"))
    if broken:
        return broken
    return render_template("staff/content_region.html", region=region, name=name, location=location,
                           problems=problems, languages=_languages()), 400 if problems else 200


@blueprint.route("/categories/<category_id>", methods=["GET", "POST"])
@role_required(*EDITORS)
def category_form(category_id: str):
    category, broken = _item(lambda: category_data(_runtime().settings.content.referrals, category_id))
    problems: list[str] = []
    if not broken and request.method == "POST":
        changed = {**category, "name": _text("name", True), "rights": _text("rights", True)}
        if changed["rights"] is None:
            changed.pop("rights")
        for sub in changed.get("subcategories") or []:
            if isinstance(sub, dict) and sub.get("id"):
                sub["name"] = _text(f"sub.{sub['id']}", True)
        for number, entry in enumerate(changed.get("questions") or []):
            if isinstance(entry, dict):
                entry.update(question=_text(f"q.{number}.question", True), answer=_text(f"q.{number}.answer", True))
        category = changed
        folder = _runtime().settings.content.referrals
        saved, problems = _save(lambda write: editing.save_category(folder, category_id, lambda _old: changed,
                                                                    *_codes(), write=write),
                                f"category {category_id}", f"content:category:{category_id}")
        if _written(saved):
            return redirect(url_for("staff.content.index"))
    if broken:
        return broken
    return render_template("staff/content_category.html", category=category, problems=problems,
                           languages=_languages()), 400 if problems else 200


@blueprint.post("/import")
@role_required(*EDITORS)
def import_csv():
    """A spreadsheet's offers for one region: the dry run lists what would change; the import writes."""
    runtime = _runtime()
    region = request.form.get("region", "").strip()
    name = request.form.get("name", "").strip() or None
    dry_run = request.form.get("action") != "import"
    upload = request.files.get("file")
    error = None
    if not NAME.match(region):
        error = "Enter the region the offers belong to: lowercase letters, digits and _, like amsterdam."
    elif upload is None or not upload.filename:
        error = "Choose the CSV file to import (exported from the spreadsheet as CSV UTF-8)."
    if error:
        return render_template("staff/content_import.html", error=error, region=region, name=name), 400
    raw = upload.read(MAX_BYTES + 1)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / Path(upload.filename).name
        path.write_bytes(raw)
        try:
            imported = import_region(runtime.settings.content.referrals, path, region, name,
                                     runtime.settings.languages.program, runtime.settings.languages.served,
                                     dry_run=dry_run)
        except ContentError as failed:
            return render_template("staff/content_import.html", problems=failed.problems, region=region, name=name,
                                   filename=upload.filename, dry_run=dry_run), 400
    if not dry_run:
        with runtime.session() as session:
            record(session, current_user().actor, "content imported", f"content:region:{region}",
                   f"{imported.offers} offers from {upload.filename}")
            session.commit()
    return render_template("staff/content_import.html", imported=imported, region=region, name=name,
                           filename=upload.filename, dry_run=dry_run)
