"""Uploading a partner's list of phone numbers, and sending the invitations that are due.

The upload does what `flask contacts import` does, so a list gives the same report from the
browser as from the terminal. A partner organisation imports only under its own name:
otherwise it could put people under another partner's care.
"""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from sqlalchemy import select

from registration.imports import ImportError_, import_contacts
from registration.invitations import count_due, invite_due
from staff.auth import current_user, role_required
from store.models import Partner

blueprint = Blueprint("imports", __name__)
MANAGERS = ("admin", "supervisor")


def _runtime():
    return current_app.extensions["dda"]


def _form(status: int = 200, **context):
    user = current_user()
    partners = []
    if user.role != "partner":
        with _runtime().session() as session:
            partners = list(session.scalars(select(Partner.name).order_by(Partner.name)))
    context.setdefault("partner", request.form.get("partner", "").strip())
    return render_template("staff/import.html", partners=partners, can_invite=user.role in MANAGERS,
                           **context), status


@blueprint.get("/import")
@role_required(*MANAGERS, "partner")
def import_form():
    return _form()


@blueprint.post("/import")
@role_required(*MANAGERS, "partner")
def import_upload():
    user = current_user()
    runtime = _runtime()
    settings = runtime.settings
    if user.role == "partner":
        if not user.partner_name:
            return _form(403, error="Your account is not linked to a partner organisation; ask an admin.")
        partner = user.partner_name
    else:
        # Optional when the file has a partner column: each row then names its own partner.
        partner = " ".join(request.form.get("partner", "").split())
        if len(partner) > 120:
            return _form(400, error="The partner name is longer than 120 characters.")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _form(400, error="Choose a CSV file to import.")
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        return _form(400, error=f"{upload.filename} is not UTF-8 text. In your spreadsheet, save it as "
                                "\u201cCSV UTF-8\u201d and upload that file.")
    with runtime.session() as session:
        try:
            report = import_contacts(session, text, partner_name=partner, secret=settings.secrets.encryption_key,
                                     region=settings.program.default_region, languages=settings.languages.all,
                                     actor=user.actor, only_partner=user.role == "partner")
        except ImportError_ as error:
            session.rollback()
            return _form(400, error=f"{upload.filename}: {error}.")
        session.commit()
    return _form(report=report, filename=upload.filename, partner=partner)


@blueprint.get("/invite")
@role_required(*MANAGERS)
def invite_preview():
    """How many invitations would go out, before anything is sent: Invite now asks first."""
    runtime = _runtime()
    with runtime.session() as session:
        due = count_due(session, runtime.settings.registration.invitation.again_after_days)
    return render_template("staff/invite_confirm.html", due=due,
                           again_after_days=runtime.settings.registration.invitation.again_after_days)


@blueprint.post("/invite")
@role_required(*MANAGERS)
def invite_now():
    if request.form.get("confirm") != "yes":
        return invite_preview()
    counts = invite_due(_runtime(), actor=current_user().actor)
    return render_template("staff/invite_result.html", counts=sorted(counts.items()))
