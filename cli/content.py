"""`flask content`: check, publish and import the referral information (content/README.md)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from cli.common import show_rows
from referrals.check import ContentError, drafts, missing
from referrals.csv_import import import_region
from referrals.feedback import counts
from referrals.release import NoSuchRelease, check_files, history, latest_release, publish, rollback

group = AppGroup("content", help="Referral information: regions, categories and offers in content/.")


def _runtime():
    return current_app.extensions["dda"]


def _fail(error: ContentError, outcome: str) -> None:
    for problem in error.problems:
        click.echo(problem, err=True)
    click.echo(f"{len(error.problems)} problem(s); {outcome}", err=True)
    sys.exit(1)


@group.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def check(as_json: bool):
    """Check every content file; print `file:line: problem` and exit 1 if any is wrong."""
    runtime = _runtime()
    try:
        content = check_files(runtime.settings)
    except ContentError as error:
        if as_json:
            click.echo(json.dumps({"valid": False, "problems": error.problems}, ensure_ascii=False, indent=2))
            sys.exit(1)
        _fail(error, "nothing was published.")
    try:
        with runtime.session() as session:
            live = latest_release(session)
            published = live is not None and live.fingerprint == content.fingerprint
    except SQLAlchemyError:
        published = None  # no database yet: the files can still be checked
    languages = runtime.settings.languages.all
    untranslated, review = missing(content, languages), drafts(runtime.settings.content.referrals)
    if as_json:
        click.echo(json.dumps({"valid": True, "regions": len(content.regions), "categories": len(content.categories),
                               "offers": len(content.offers), "national": len(content.national_offers()),
                               "published": published,
                               "languages": {code: {"missing": untranslated[code], "review": review.get(code, 0)}
                                             for code in languages}}, indent=2))
        return
    click.echo(f"{len(content.regions)} regions, {len(content.categories)} categories, "
               f"{len(content.offers)} offers: all valid")
    click.echo("language  missing  review (drafted without a native speaker)")
    for code in languages:
        click.echo(f"{code:<8}  {untranslated[code]:>7}  {review.get(code, 0):>6}")
    if published is None:
        click.echo("Whether they are live is unknown: the database is not set up (run `flask db upgrade`).")
    else:
        click.echo("These files are live." if published else "Not live yet: run `flask content reload` to publish.")


@group.command("reload")
@click.option("--by", "actor", default="cli", show_default=True, help="Who publishes, for the audit log.")
def reload(actor: str):
    """Check the files and publish them to every running server and worker (no restart)."""
    try:
        published = publish(_runtime(), f"{actor} (cli)" if actor != "cli" else actor)
    except ContentError as error:
        _fail(error, "nothing was published; people keep seeing the last good version.")
    except SQLAlchemyError as error:
        click.echo(f"Nothing was published: the database is not ready ({type(error).__name__}); "
                   "run `flask db upgrade` first.", err=True)
        sys.exit(1)
    content = published.content
    if published.release_id is None:
        click.echo("Already live: the files are the same as the published content.")
    else:
        click.echo(f"Published release {published.release_id}: {len(content.regions)} regions, "
                   f"{len(content.offers)} offers. Running services switch within "
                   f"{_runtime().settings.content.refresh_seconds:g} seconds.")


@group.command("import")
@click.argument("csv_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--region", required=True, help="The region the offers belong to, like amsterdam.")
@click.option("--name", default=None, help="The region's name, for a new region.")
@click.option("--dry-run", is_flag=True, help="Only check; write nothing.")
def import_csv(csv_file: Path, region: str, name: str | None, dry_run: bool):
    """Write regions/<region>.yml from a spreadsheet's CSV export (replacing its offers)."""
    settings = _runtime().settings
    try:
        imported = import_region(settings.content.referrals, csv_file, region, name,
                                 settings.languages.program, settings.languages.served, dry_run=dry_run)
    except ContentError as error:
        _fail(error, "nothing was written.")
    for change in imported.changes:
        click.echo(f"  {change}")
    if dry_run:
        click.echo(f"{imported.offers} offers are valid; {len(imported.changes)} change(s); nothing was written "
                   f"(--dry-run).")
    else:
        click.echo(f"Wrote {imported.offers} offers to {imported.target}. Publish them with `flask content reload`.")


@group.command("feedback")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def feedback(as_json: bool):
    """"Was this helpful?" answers per offer, the least helpful first."""
    runtime = _runtime()
    content = runtime.referrals.current()
    with runtime.session() as session:
        answers = counts(session)
    rows = [{"offer": offer.id, "region": offer.region, "name": offer.name.get("en"),
             "helpful": answers[offer.id].helpful, "not_helpful": answers[offer.id].not_helpful,
             "needs_a_look": answers[offer.id].needs_a_look}
            for offer in content.offers if offer.id in answers]
    rows.sort(key=lambda r: (-r["not_helpful"] + r["helpful"], r["offer"]))
    show_rows(rows, as_json, lambda row: f"{row['offer']:<32} helpful {row['helpful']:>4}  not helpful "
                                         f"{row['not_helpful']:>4}{'  <- needs a look' if row['needs_a_look'] else ''}",
              "No answers yet.")


@group.command("releases")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def list_releases(as_json: bool):
    """Published releases, the newest (live) first: the numbers `flask content rollback` takes."""
    with _runtime().session() as session:
        rows = history(session)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    if not rows:
        click.echo("Nothing has been published yet.")
    for r in rows:
        note = ("(live) " if r.live else "") + r.note
        click.echo(f"{r.number:>5}  {r.published_at:%Y-%m-%d %H:%M}  {r.published_by:<30}  {note}")


@group.command("rollback")
@click.argument("number", type=int)
@click.option("--by", "actor", default="cli", show_default=True, help="Who rolls back, for the audit log.")
def rollback_to(number: int, actor: str):
    """Make release NUMBER live again (as a new release); the files on disk stay as they are."""
    runtime = _runtime()
    try:
        restored = rollback(runtime, number, f"{actor} (cli)" if actor != "cli" else actor)
    except NoSuchRelease:
        click.echo(f"There is no release {number}; see `flask content releases`.", err=True)
        sys.exit(1)
    if restored.release_id is None:
        click.echo(f"Release {number} is already what people see; nothing changed.")
    else:
        click.echo(f"Release {restored.release_id} restores release {number}: {len(restored.content.offers)} offers "
                   f"in {len(restored.content.regions)} regions. Running services switch within "
                   f"{runtime.settings.content.refresh_seconds:g} seconds. The files still hold the later "
                   f"changes; publishing them again makes those live.")
