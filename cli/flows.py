from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup

import releases.flows as flows_release
from bot.flows import FlowError
from store.releases import fingerprint_of

group = AppGroup("flows", help="Conversation flows in flows/*.yml and their texts: check, publish, roll back.")


def _runtime():
    return current_app.extensions["dda"]


def _refused(error: FlowError, what: str) -> None:
    for problem in error.problems:
        click.echo(problem, err=True)
    click.echo(f"{len(error.problems)} problem(s); {what}", err=True)
    sys.exit(1)


@group.command("check")
def check():
    """Check the flow files and texts as a release; print `file:line: problem; the fix` and exit 1
    if any is wrong."""
    runtime = _runtime()
    try:
        draft = flows_release.collect(runtime.settings)
        flows = flows_release.check(runtime, draft)
    except FlowError as error:
        _refused(error, "nothing was published: people keep getting the live release.")
    steps = sum(len(flow.steps) for flow in flows.flows.values())
    click.echo(f"{len(flows.flows)} flows, {steps} steps: all valid")
    live = next(iter(flows_release.releases(runtime)), None) if runtime.flows.number is not None else None
    if live is not None and live.fingerprint != fingerprint_of(draft):
        click.echo(f"Not live yet: people get release {live.number}; `flask flows publish` makes these files live.")


def _who(actor: str) -> str:
    return f"{actor} (cli)" if actor != "cli" else actor


@group.command("publish")
@click.option("--by", "actor", default="cli", show_default=True, help="Who publishes, for the audit log.")
@click.option("--note", default="", help="What changed, shown in the list of releases.")
def publish(actor: str, note: str):
    """Check the flow files and texts and make them live on every server and worker (no restart)."""
    runtime = _runtime()
    try:
        published = flows_release.publish(runtime, _who(actor), note)
    except FlowError as error:
        _refused(error, f"nothing was published: people keep getting release {runtime.flows.number}.")
    if published.number is None:
        click.echo(f"Already live: the files are the same as release {runtime.flows.number}.")
    else:
        click.echo(f"Published release {published.number} ({published.summary}). Running services switch "
                   f"within {runtime.settings.content.refresh_seconds:g} seconds.")


@group.command("releases")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def list_releases(as_json: bool):
    """Every flows release, newest first; the first is live."""
    found = flows_release.releases(_runtime())
    if as_json:
        click.echo(json.dumps([release.as_dict() for release in found], indent=2, ensure_ascii=False))
        return
    for release in found:
        click.echo(f"{release.number:>4}  {release.published_at:%Y-%m-%d %H:%M}  {release.published_by:<30}  "
                   f"{'LIVE  ' if release.live else ''}{release.note}")


@group.command("rollback")
@click.argument("number", type=int)
@click.option("--by", "actor", default="cli", show_default=True, help="Who rolls back, for the audit log.")
def rollback(number: int, actor: str):
    """Make release NUMBER live again (as a new release, a copy of it)."""
    runtime = _runtime()
    try:
        published = flows_release.rollback(runtime, number, _who(actor))
    except LookupError as error:
        click.echo(f"{error}; `flask flows releases` lists them.", err=True)
        sys.exit(1)
    except FlowError as error:
        _refused(error, f"release {number} does not fit this version of the service; "
                        f"release {runtime.flows.number} stays live.")
    if published.number is None:
        click.echo(f"Release {number} is what is live already.")
    else:
        click.echo(f"Release {number} is live again, as release {published.number}. Running services switch "
                   f"within {runtime.settings.content.refresh_seconds:g} seconds.")
