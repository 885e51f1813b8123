from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from cli.common import deliver_now
from registration.imports import ImportError_, import_contacts
from registration.invitations import invite_due
from registration.merge import Holdings, MergeRefused, holdings, merge

group = AppGroup("contacts", help="Partner imports, invitations, and merging two contacts of one person.")


@group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--partner", required=True, help="The organisation the list comes from.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def import_command(file, partner, as_json):
    """Import a CSV of phone numbers (columns: phone, language, partner reference)."""
    runtime = current_app.extensions["dda"]
    settings = runtime.settings
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise click.ClickException(f"{file}: not UTF-8 text; export the sheet as CSV UTF-8") from None
    lines = max(text.count("\n"), 1)
    with runtime.session() as session, click.progressbar(length=lines, label="importing", file=None,
                                                          show_pos=True) as bar:
        try:
            report = import_contacts(session, text, partner_name=partner.strip(),
                                     secret=settings.secrets.encryption_key, region=settings.program.default_region,
                                     languages=settings.languages.all, actor=f"import:{file.name}",
                                     progress=bar.update)
        except ImportError_ as error:
            raise click.ClickException(f"{file}: {error}") from None
        session.commit()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    click.echo(f"accepted {report.accepted}, already on this partner's list {report.already_yours}, "
               f"rejected {len(report.rejected)}")
    for line, reason in report.rejected:
        click.echo(f"  {file.name}:{line}: {reason}")


@group.command("invite")
@click.option("--json", "as_json", is_flag=True)
def invite_command(as_json):
    """Invite imported people not invited in the last N days (config: registration.invitation)."""
    runtime = current_app.extensions["dda"]
    counts = invite_due(runtime, actor="cli")
    deliver_now(runtime)
    if as_json:
        click.echo(json.dumps(counts))
        return
    for outcome, count in sorted(counts.items()) or [("nobody to invite", 0)]:
        click.echo(f"{outcome}: {count}")


def _describe(found: Holdings) -> str:
    registration = (f"registration #{found.registration_id} ({found.registration_status})"
                    if found.registration_id else "no registration")
    return (f"contact {found.contact_id}: {', '.join(found.identifiers) or 'no identifier'}; {registration}; "
            f"{found.vouchers} voucher(s), {found.messages} message(s), {found.tickets} ticket(s)"
            f"{' (one open)' if found.open_ticket else ''}; language {found.language or 'not chosen'}"
            f"{'; opted out' if found.opted_out else ''}")


@group.command("merge")
@click.argument("keep", type=int)
@click.argument("other", type=int)
@click.option("--yes", is_flag=True, help="Merge without asking.")
@click.option("--json", "as_json", is_flag=True, help="Print what the kept contact holds as JSON.")
def merge_command(keep, other, yes, as_json):
    """Merge contact OTHER into contact KEEP: one person known twice (a number and a WhatsApp username)."""
    runtime = current_app.extensions["dda"]
    with runtime.session() as session:
        found = {number: holdings(session, number) for number in (keep, other)}
        for number, held in found.items():
            if held is None:
                raise click.ClickException(f"no contact {number} (or it was erased)")
        if not as_json:
            click.echo(f"keep   {_describe(found[keep])}")
            click.echo(f"merge  {_describe(found[other])}")
        if as_json and not yes:
            raise click.UsageError("--json prints no question: add --yes")
        if not yes:
            click.confirm(f"Move everything of contact {other} to contact {keep} and remove contact {other}?",
                          abort=True)
        try:
            result = merge(session, keep, other, actor="cli")
        except MergeRefused as error:
            raise click.ClickException(str(error)) from None
        session.commit()
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        click.echo(f"merged: {_describe(result)}")
