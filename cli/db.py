from __future__ import annotations

import click
from alembic import command
from flask import current_app
from flask.cli import AppGroup

from store.migrate import alembic_config

group = AppGroup("db", help="Database schema (Alembic migrations).")


def _config():
    runtime = current_app.extensions["dda"]
    return alembic_config(runtime.settings.connections.database_url, runtime.db)


@group.command("upgrade")
@click.argument("revision", default="head")
def upgrade(revision):
    """Apply migrations up to REVISION (default: the newest)."""
    command.upgrade(_config(), revision)
    click.echo(f"database at {revision}")


@group.command("downgrade")
@click.argument("revision")
def downgrade(revision):
    """Undo migrations down to REVISION."""
    command.downgrade(_config(), revision)


@group.command("current")
def current():
    """Show the revision the database is at."""
    command.current(_config())
