from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from translations.status import all_statuses

group = AppGroup("translations", help="Translation catalogs in translations/.")


@group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def status(as_json):
    """Translated, missing and needs-review texts per language (needs review: the English was
    reworded and the earlier translation is shown until a reviewer accepts it; drafts: written
    without a native speaker); fails if a program language is
    incomplete or a translation's placeholders differ from the English."""
    settings = current_app.extensions["dda"].settings
    languages = settings.languages
    statuses = all_statuses(languages.program, [c for c in languages.served if c not in languages.program],
                            languages.source, settings.content.translations)
    failing = [s for s in statuses if s.program and not s.complete]
    if as_json:
        click.echo(json.dumps([s.as_dict() for s in statuses], indent=2, ensure_ascii=False))
    else:
        click.echo(f"{'language':<10}{'kind':<9}{'translated':>11}{'missing':>9}{'needs review':>14}"
                   f"{'drafts':>8}  placeholders")
        for s in statuses:
            kind = "program" if s.program else "served"
            marks = "ok" if not s.placeholder_errors else f"{len(s.placeholder_errors)} wrong"
            click.echo(f"{s.language:<10}{kind:<9}{s.translated:>11}{len(s.missing):>9}{len(s.needs_review):>14}"
                       f"{s.review:>8}  {marks}")
            for problem in s.placeholder_errors:
                click.echo(f"    placeholder: {problem}")
            for text in s.needs_review[:5]:
                click.echo(f"    needs review (the English changed; the old translation is shown): {text[:60]!r}")
            if s.program:
                for text in s.missing[:5]:
                    click.echo(f"    missing: {text[:70]!r}")
    if failing:
        click.echo(f"incomplete program languages: {', '.join(s.language for s in failing)}", err=True)
        sys.exit(1)
