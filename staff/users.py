"""Staff accounts for admins: the list, a new account, a role change, deactivation and a new
password. The work is staff.accounts, the same functions as `flask users …`; each change is
audited and ends the account's open sessions where it changes what the account may do.

A new account and a reset password get a generated password, shown once on the answer page
(never stored in plain, never sent anywhere) for the admin to hand on.
"""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from privacy.audit import record_reading
from staff import accounts
from staff.auth import ROLES, current_user, role_required
from store.models import Partner

blueprint = Blueprint("users", __name__, url_prefix="/users")
ADMINS = ("admin",)


def _runtime():
    return current_app.extensions["dda"]


def _page(status: int = 200, **context):
    user = current_user()
    with _runtime().session() as session:
        rows = accounts.accounts(session)
        partners = list(session.scalars(select(Partner.name).order_by(Partner.name)))
        record_reading(session, user.actor, "viewed staff accounts", "staff-accounts")
        session.commit()
    context.setdefault("form", {})
    return render_template("staff/users.html", accounts=rows, roles=ROLES, partners=partners, **context), status


@blueprint.get("/")
@role_required(*ADMINS)
def index():
    return _page()


def _change(work, done: str, *, show_password: str | None = None, email: str = ""):
    """Run one change; its refusal is shown on the page (400), never a 500."""
    with _runtime().session() as session:
        try:
            result = work(session, current_user().actor)
        except accounts.AccountError as error:
            return _page(400, error=str(error), form=request.form)
        session.commit()
    ended = accounts.sessions_ended(result) if isinstance(result, int) else ""
    message = done.replace("{ended}", ended)
    if show_password:
        # Rendered, not redirected: the password is in this one response only (no-store).
        return _page(201, notice=message, password=show_password, password_for=email)
    flash(message)
    return redirect(url_for("staff.users.index"))


@blueprint.post("/")
@role_required(*ADMINS)
def create():
    email, role = request.form.get("email", ""), request.form.get("role", "")
    partner = request.form.get("partner", "") if role == "partner" else ""
    password = accounts.generated_password()
    return _change(lambda session, actor: accounts.create_account(session, email, role, password, partner=partner,
                                                                  actor=actor) and 0,
                   f"Account {email.strip().lower()} created as {role}.", show_password=password,
                   email=email.strip().lower())


@blueprint.post("/role")
@role_required(*ADMINS)
def change_role():
    email, role = request.form.get("email", ""), request.form.get("role", "")
    partner = request.form.get("partner", "") if role == "partner" else ""
    return _change(lambda session, actor: accounts.set_role(session, email, role, partner=partner, actor=actor),
                   f"{email} is now {role}; {{ended}}.")


@blueprint.post("/deactivate")
@role_required(*ADMINS)
def deactivate():
    email = request.form.get("email", "")
    if request.form.get("confirm") != "yes":
        return _page(400, error=f"Tick the box to confirm that {email} may no longer sign in.")
    return _change(lambda session, actor: accounts.deactivate(session, email, actor=actor),
                   f"{email} is deactivated and can no longer sign in; {{ended}}.")


@blueprint.post("/activate")
@role_required(*ADMINS)
def activate():
    email = request.form.get("email", "")
    return _change(lambda session, actor: accounts.activate(session, email, actor=actor),
                   f"{email} may sign in again.")


@blueprint.post("/password")
@role_required(*ADMINS)
def reset_password():
    email = request.form.get("email", "")
    password = accounts.generated_password()
    return _change(lambda session, actor: accounts.reset_password(session, email, password, actor=actor),
                   f"New password for {email}; {{ended}}.", show_password=password, email=email)
