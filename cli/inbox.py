"""Inbound messages that could not be processed: see them, try one again."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from cli.common import deliver_now, show_rows
from inbox.poison import retry as retry_message
from inbox.poison import set_aside

group = AppGroup("inbox", help="Inbound messages set aside after failing (no message text is shown).")


@group.command("failed")
@click.option("--json", "as_json", is_flag=True)
def failed(as_json):
    """Messages set aside after failing: id, person (contact id), kind, failures and the error's class."""
    runtime = current_app.extensions["dda"]
    with runtime.session() as session:
        rows = [{"id": m.id, "contact_id": m.contact_id, "kind": m.kind, "failures": m.failures, "error": m.failure,
                 "received_at": m.created_at.isoformat(), "set_aside_at": m.set_aside_at.isoformat()}
                for m in set_aside(session)]
    show_rows(rows, as_json, lambda row: f"{row['id']}: contact {row['contact_id']}, {row['kind']}, {row['failures']} "
                                         f"failures ({row['error']}), set aside {row['set_aside_at'][:19]}",
              "no messages set aside")


@group.command("retry")
@click.argument("message_id", type=int)
def retry(message_id):
    """Put message MESSAGE_ID back in its person's queue (after a fix)."""
    runtime = current_app.extensions["dda"]
    if not retry_message(runtime, message_id):
        raise click.ClickException(f"no message {message_id} is set aside")
    deliver_now(runtime)
    click.echo(f"message {message_id} queued again")
