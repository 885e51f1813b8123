"""The audit log page: who viewed a person's data or changed a status, newest first."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from sqlalchemy import select

from staff.auth import role_required
from store.models import AuditEntry

blueprint = Blueprint("audit", __name__, url_prefix="/audit")
PAGE = 100


@blueprint.get("/")
@role_required("admin", "supervisor")
def index():
    runtime = current_app.extensions["dda"]
    actor = (request.args.get("actor") or "").strip()
    with runtime.session() as session:
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(PAGE)
        if actor:
            query = query.where(AuditEntry.actor == actor)
        entries = list(session.scalars(query))
    return render_template("staff/audit.html", entries=entries, actor=actor)
