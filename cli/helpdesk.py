from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from cli.common import show_rows
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
    show_rows(rows, as_json, lambda row: f"#{row['ticket']}  priority {row['priority']}  {row['language'] or '--'}  "
                                         f"{row['reason']}  since {row['waiting_since']}", "nobody is waiting")
