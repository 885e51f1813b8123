"""Supermarkets for program staff: the list, adding one (its till key shown exactly once) and
disabling one. The work is vouchers.stores, the same functions `flask vouchers add-store` and
`disable-store` call; every change is in the audit log."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from staff.auth import current_user, role_required
from vouchers.stores import StoreError, add_store, clean_kinds, disable_store, stores

blueprint = Blueprint("stores", __name__, url_prefix="/stores")
MANAGERS = ("admin", "supervisor")


def _page(status: int = 200, **context):
    runtime = current_app.extensions["dda"]
    with runtime.session() as session:
        rows = stores(session)
    context["known_kinds"] = list(runtime.settings.vouchers.kinds)
    context.setdefault("name", "")
    context.setdefault("kinds", "supermarket")
    return render_template("staff/stores.html", stores=rows, **context), status


@blueprint.get("/")
@role_required(*MANAGERS)
def index():
    return _page()


@blueprint.post("/")
@role_required(*MANAGERS)
def add():
    name, kinds = request.form.get("name", ""), request.form.get("kinds", "")
    runtime = current_app.extensions["dda"]
    with runtime.session() as session:
        try:
            chosen = clean_kinds(kinds.replace(";", ",").split(","), runtime.settings.vouchers.kinds)
            store, key = add_store(session, name, chosen, actor=current_user().actor)
        except StoreError as error:
            return _page(400, error=str(error), name=name, kinds=kinds)
        session.commit()
        added = store.name
    # Rendered, not redirected: the key is in this one response only (no-store), never stored in plain.
    return _page(201, added=added, key=key)


@blueprint.post("/<int:store_id>/disable")
@role_required(*MANAGERS)
def disable(store_id: int):
    with current_app.extensions["dda"].session() as session:
        try:
            store = disable_store(session, store_id, actor=current_user().actor)
        except StoreError as error:
            return _page(404, error=str(error))
        session.commit()
        flash(f"{store.name} is disabled: its tills are refused from now on.")
    return redirect(url_for("staff.stores.index"))
