"""Merging two contacts of one person, from the browser (`flask contacts merge` does the same).

Someone who starts using a WhatsApp username and hides their number is a new contact to the
bot until a message carries both identifiers. Staff who know it is one person see here what
each contact holds (never the user ID, the number masked) and merge them; the merge is
recorded in the audit log, and so is looking at the two.
"""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from privacy.audit import record
from registration.merge import MergeRefused, holdings, merge
from staff.auth import current_user, role_required

blueprint = Blueprint("merge", __name__, url_prefix="/contacts")
MANAGERS = ("admin", "supervisor")


def _ids(source) -> tuple[int | None, int | None]:
    def number(name):
        value = (source.get(name) or "").strip().lstrip("#")
        return int(value) if value.isdigit() else None
    return number("keep"), number("other")


@blueprint.get("/merge")
@role_required(*MANAGERS)
def compare():
    keep, other = _ids(request.args)
    if keep is None and other is None:
        return render_template("staff/merge.html", keep=None, other=None, error=None)
    user = current_user()
    with current_app.extensions["dda"].session() as session:
        found = {name: holdings(session, number) if number else None
                 for name, number in (("keep", keep), ("other", other))}
        missing = [str(n or "?") for n, held in ((keep, found["keep"]), (other, found["other"])) if held is None]
        error = (f"No contact {' or '.join(missing)} (or it was erased)." if missing else
                 "Choose two different contacts." if keep == other else None)
        if error is None:
            record(session, user.actor, "compared contacts", f"contact:{keep}", f"with contact:{other}")
            session.commit()
    return render_template("staff/merge.html", error=error, **found), 400 if error else 200


@blueprint.post("/merge")
@role_required(*MANAGERS)
def merge_now():
    keep, other = _ids(request.form)
    user = current_user()
    runtime = current_app.extensions["dda"]
    if keep is None or other is None:
        return render_template("staff/error.html", title="Nothing was changed",
                               message="Give the two contact numbers.", back=True), 400
    with runtime.session() as session:
        try:
            result = merge(session, keep, other, actor=user.actor)
        except MergeRefused as error:
            return render_template("staff/error.html", title="Nothing was changed", message=f"{error}.",
                                   back=True), 409
        session.commit()
    return render_template("staff/merge.html", keep=result, other=None, merged=other, error=None)
