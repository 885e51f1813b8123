from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from inbox.receive import contact_for

group = AppGroup("seed", help="Example data for trying the service.")

DEMO_CONTACTS = [("+31612345678", "en"), ("+31687654321", "ar"), ("+31611122233", "nl")]


@group.command("demo")
def demo():
    """Demo contacts in three languages; running it again changes nothing."""
    runtime = current_app.extensions["dda"]
    with runtime.session() as session:
        for phone, language in DEMO_CONTACTS:
            contact = contact_for(session, runtime.settings.secrets.encryption_key, phone)
            contact.language = contact.language or language
        session.commit()
    click.echo(f"demo program ready: {len(DEMO_CONTACTS)} demo contacts")
