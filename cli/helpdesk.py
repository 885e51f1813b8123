from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from handoff.tickets import queue

group = AppGroup("helpdesk", help="The queue of conversations waiting for a person.")


@group.command("queue")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def show_queue(as_json):
    """Open tickets, most urgent and longest waiting first."""
    runtime = current_app.extensions["dda"]
    with runtime.session() as session:
        rows = [{"ticket": t.id, "reason": t.reason, "priority": t.priority, "language": t.language,
                 "waiting_since": t.created_at.isoformat()} for t in queue(session)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("nobody is waiting")
    for row in rows:
        click.echo(f"#{row['ticket']}  priority {row['priority']}  {row['language'] or '--'}  "
                   f"{row['reason']}  since {row['waiting_since']}")
