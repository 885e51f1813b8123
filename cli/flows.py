from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from bot.flows import FlowError
from runtime import load_checked_flows

group = AppGroup("flows", help="Conversation flows in flows/*.yml.")


@group.command("check")
def check():
    """Validate every flow; print `file:line: problem` and exit 1 if any is wrong."""
    runtime = current_app.extensions["dda"]
    try:
        flows = load_checked_flows(runtime.settings, runtime.actions, runtime.choices)
    except FlowError as error:
        for problem in error.problems:
            click.echo(problem, err=True)
        click.echo(f"{len(error.problems)} problem(s); the flows were not changed in the running service.", err=True)
        sys.exit(1)
    steps = sum(len(flow.steps) for flow in flows.flows.values())
    click.echo(f"{len(flows.flows)} flows, {steps} steps: all valid")
