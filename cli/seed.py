from __future__ import annotations

import secrets

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from inbox.receive import contact_for
from privacy.audit import record
from staff.auth import hash_password
from store.models import StaffUser

group = AppGroup("seed", help="Example data for trying the service.")

DEMO_CONTACTS = [("+31612345678", "en"), ("+31687654321", "ar"), ("+31611122233", "nl")]
DEMO_ADMIN = "demo-admin@example.org"


def on_embedded_defaults(settings) -> bool:
    """A machine someone is trying the service on: SQLite, no Redis, no Twilio. Anywhere else
    staff accounts are made on purpose (`flask users create`), never handed out by a seed."""
    return (settings.connections.database_url.startswith("sqlite") and not settings.uses_redis
            and not settings.uses_twilio)


def _demo_admin(session, settings) -> str | None:
    """A password for a new demo admin, when the machine runs on the embedded defaults and has
    no staff account at all yet; None otherwise. Shown once: the next run finds an account."""
    if not on_embedded_defaults(settings) or session.scalar(select(func.count()).select_from(StaffUser)):
        return None
    password = secrets.token_urlsafe(12)
    session.add(StaffUser(email=DEMO_ADMIN, password_hash=hash_password(password), role="admin", active=True))
    record(session, "cli", "created staff user", f"staff:{DEMO_ADMIN}", "admin (demo, embedded defaults)")
    return password


@group.command("demo")
def demo():
    """Demo contacts in three languages, and a demo admin on a bare machine; running it again
    changes nothing."""
    runtime = current_app.extensions["dda"]
    with runtime.session() as session:
        for phone, language in DEMO_CONTACTS:
            contact = contact_for(session, phone)
            contact.language = contact.language or language
        password = _demo_admin(session, runtime.settings)
        session.commit()
    click.echo(f"demo program ready: {len(DEMO_CONTACTS)} demo contacts")
    if password:
        click.echo(f"demo admin for this machine (shown once, write it down): {DEMO_ADMIN}  password: {password}\n"
                   "  sign in at http://127.0.0.1:5000/staff/login; change it with "
                   f"`flask users set-password {DEMO_ADMIN}`")
