from __future__ import annotations

import json
from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from cli.common import contact_id_for, deliver_now
from privacy.audit import record
from registration.desk import DeskError, register_at_desk
from registration.lifecycle import STATUSES, TransitionError, change_status, registration_for
from registration.reminders import remind_and_expire
from store.models import Contact, Partner, Registration
from vouchers.kinds import known_flags, set_flag

group = AppGroup("registrations", help="Registrations and their status.")


def as_row(registration: Registration) -> dict:
    return {"id": registration.id, "status": registration.status, "phone": registration.contact.phone,
            "name": registration.name, "language": registration.contact.language,
            "partner": registration.partner.name if registration.partner else registration.partner_named,
            "partner_ref": registration.partner_ref, "no_whatsapp": registration.no_whatsapp,
            "consent_by": registration.consent_by, "created_at": registration.created_at.isoformat(),
            "updated_at": registration.updated_at.isoformat()}


@group.command("list")
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--partner")
@click.option("--language")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Created on or after this day.")
@click.option("--json", "as_json", is_flag=True)
def list_command(status, partner, language, since: datetime | None, as_json):
    """Registrations, filtered."""
    runtime = current_app.extensions["dda"]
    with runtime.session() as session:
        query = select(Registration).join(Contact).outerjoin(Partner).order_by(Registration.id)
        if status:
            query = query.where(Registration.status == status)
        if partner:
            query = query.where(Partner.name == partner)
        if language:
            query = query.where(Contact.language == language)
        if since:
            query = query.where(Registration.created_at >= since)
        rows = [as_row(r) for r in session.scalars(query)]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        click.echo(f"#{row['id']:<6} {row['status']:<12} {row['language'] or '--':<4} {row['partner'] or '--':<24} "
                   f"{row['name'] or ''}")
    click.echo(f"{len(rows)} registration(s)")


@group.command("set-status")
@click.option("--phone", required=True)
@click.option("--status", required=True, type=click.Choice(STATUSES))
@click.option("--reason", required=True)
@click.option("--notify/--no-notify", default=True, help="Tell the person (default: yes).")
def set_status(phone, status, reason, notify):
    """Move one registration to STATUS, recording the reason."""
    runtime = current_app.extensions["dda"]
    with runtime.session() as session:
        contact_id = contact_id_for(runtime, session, phone)
        registration = registration_for(session, contact_id) if contact_id else None
        if registration is None:
            raise click.ClickException("no registration with that number")
        before = registration.status
        try:
            change_status(session, registration, status, actor="cli", reason=reason, runtime=runtime, notify=notify)
            record(session, "cli", "changed status", f"registration:{registration.id}",
                    f"{before} -> {status}: {reason}")
        except TransitionError as error:
            raise click.ClickException(str(error)) from None
        session.commit()
    runtime.tasks.send_bulk([contact_id])
    deliver_now(runtime)
    click.echo(f"{before} -> {status}")


@group.command("remind")
def remind():
    """Remind unfinished registrations once, and expire the ones left too long (run daily)."""
    runtime = current_app.extensions["dda"]
    counts = remind_and_expire(runtime, actor="cli")
    deliver_now(runtime)
    click.echo(", ".join(f"{key}: {value}" for key, value in counts.items()))


@group.command("add")
@click.option("--phone", required=True, help="The person's number, best with the country code.")
@click.option("--name", required=True, help="The name they want to be called by.")
@click.option("--language", required=True, help="The language they read (e.g. ti, ar, en).")
@click.option("--partner", help="The organisation that sent them, if any.")
@click.option("--consent-by", "consent_by", required=True, metavar="STAFF_EMAIL",
              help="The staff account that read the privacy text with them and took their consent.")
@click.option("--whatsapp/--no-whatsapp", default=True,
              help="Send the welcome on WhatsApp (default), or mark them as served on paper.")
def add(phone, name, language, partner, consent_by, whatsapp):
    """Register a person at the desk, on their behalf, after reading the privacy text with them."""
    runtime = current_app.extensions["dda"]
    with runtime.session() as session:
        try:
            outcome = register_at_desk(session, runtime, phone=phone, name=name, language=language.strip().lower(),
                                       staff_email=consent_by, partner=partner, whatsapp=whatsapp, actor="cli")
        except DeskError as error:
            raise click.ClickException(str(error)) from None
        session.commit()
    if outcome.welcome.startswith("sent"):
        runtime.tasks.send_bulk([outcome.contact_id])
        deliver_now(runtime)
    continued = f" (continued from {outcome.continued_from})" if outcome.continued_from else ""
    click.echo(f"registration #{outcome.registration_id} registered{continued}; welcome {outcome.welcome}")


@group.command("flag")
@click.option("--phone", required=True)
@click.option("--flag", required=True, help="A flag a kind of voucher asks for (vouchers.kinds.*.eligibility.flags).")
@click.option("--off", is_flag=True, help="Clear the flag instead of setting it.")
def flag(phone, flag, off):
    """Set (or clear) a flag that makes a person eligible for a kind of voucher, e.g. pharmacy."""
    runtime = current_app.extensions["dda"]
    flag = flag.strip().lower()
    if flag not in known_flags(runtime.settings):
        raise click.BadParameter(f"no kind of voucher asks for {flag!r}; flags in use: "
                                 f"{', '.join(known_flags(runtime.settings)) or 'none'}", param_hint="--flag")
    with runtime.session() as session:
        contact_id = contact_id_for(runtime, session, phone)
        registration = registration_for(session, contact_id) if contact_id else None
        if registration is None:
            raise click.ClickException("no registration with that number")
        set_flag(session, runtime.settings, registration, flag, not off, actor="cli")
        session.commit()
        click.echo(f"flags: {registration.flags or 'none'}")
