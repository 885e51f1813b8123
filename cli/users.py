from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from staff.auth import MIN_PASSWORD_LENGTH, ROLES, hash_password, normalise_email
from store.models import Partner, StaffUser

group = AppGroup("users", help="Staff accounts for the web pages.")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line, so that scripts can pipe a generated password without it showing in `ps`.
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")


@group.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--partner", help="The partner organisation (required for, and only for, --role partner).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def create(email, role, partner, password_stdin):
    """Create a staff user who signs in at /staff/login."""
    runtime = current_app.extensions["dda"]
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise click.BadParameter("not an email address", param_hint="EMAIL")
    partner = (partner or "").strip()
    if role == "partner" and not partner:
        raise click.UsageError("--role partner needs --partner NAME: a partner user sees only its own people")
    if role != "partner" and partner:
        raise click.UsageError(f"--partner is only for --role partner (a {role} sees every partner)")
    with runtime.session() as session:
        if session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
            raise click.ClickException(f"{email} already exists")
        password = _read_password(password_stdin)
        if len(password) < MIN_PASSWORD_LENGTH:
            raise click.ClickException(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
        partner_id = None
        if partner:
            found = session.scalar(select(Partner).where(Partner.name == partner))
            if found is None:
                found = Partner(name=partner)
                session.add(found)
                session.flush()
                click.echo(f"partner {partner!r} was new and has been added")
            partner_id = found.id
        session.add(StaffUser(email=email, password_hash=hash_password(password), role=role, partner_id=partner_id,
                              active=True))
        session.commit()
    click.echo(f"created {email} ({role}{', ' + partner if partner else ''})")
