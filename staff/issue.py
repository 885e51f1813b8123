"""Issuing the vouchers due now from the browser: a preview, a confirmation, then progress.

The work runs on the worker queue (jobs/staff.py), the same functions as `flask vouchers issue`;
this page only shows what would happen, starts it once confirmed, and polls its status.
"""
from __future__ import annotations

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for

from bot.formats import money
from jobs import staff as staff_jobs
from staff.auth import current_user, role_required

blueprint = Blueprint("issue", __name__, url_prefix="/vouchers/issue")
MANAGERS = ("admin", "supervisor")


def _runtime():
    return current_app.extensions["dda"]


@blueprint.get("/")
@role_required(*MANAGERS)
def page():
    runtime = _runtime()
    rows = staff_jobs.preview(runtime)
    for row in rows:
        row["amount"] = money(row["amount_cents"], row["currency"], "en")
        row["total"] = money(row["total_cents"], row["currency"], "en")
    return render_template("staff/issue.html", rows=rows, to_issue=sum(r["to_issue"] for r in rows),
                           job=staff_jobs.status(runtime))


@blueprint.post("/")
@role_required(*MANAGERS)
def start():
    if request.form.get("confirm") != "yes":
        flash("Nothing was issued: tick the box to confirm first.")
        return redirect(url_for("staff.issue.page"))
    try:
        if not staff_jobs.start(_runtime(), current_user().actor):
            flash("Vouchers are being issued already: its progress is below.")
    except staff_jobs.CannotStart as error:
        flash(f"Not started: {error}.")
    return redirect(url_for("staff.issue.page"))


@blueprint.get("/status")
@role_required(*MANAGERS)
def status():
    """What the page polls: the state, how many people of how many, and the outcome when done."""
    return jsonify(staff_jobs.status(_runtime()))
