from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from staff import accounts
from staff.auth import ROLES, normalise_email
from store.models import StaffUser

group = AppGroup("users", help="Staff accounts for the web pages.")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line, so that scripts can pipe a generated password without it showing in `ps`.
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")


def _actor_errors(work):
    """Run `work(session)` and commit; an AccountError becomes the command's error message."""
    runtime = current_app.extensions["dda"]
    with runtime.session() as session:
        try:
            result = work(session)
        except accounts.AccountError as error:
            raise click.ClickException(str(error)) from None
        session.commit()
    return result


@group.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--partner", help="The partner organisation (required for, and only for, --role partner).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def create(email, role, partner, password_stdin):
    """Create a staff user who signs in at /staff/login."""
    email, partner = normalise_email(email), (partner or "").strip()
    if "@" not in email or len(email) > 254:
        raise click.BadParameter("not an email address", param_hint="EMAIL")
    if role == "partner" and not partner:
        raise click.UsageError("--role partner needs --partner NAME: a partner user sees only its own people")
    if role != "partner" and partner:
        raise click.UsageError(f"--partner is only for --role partner (a {role} sees every partner)")
    with current_app.extensions["dda"].session() as session:
        if session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
            raise click.ClickException(f"{email} already exists")
    password = _read_password(password_stdin)
    _actor_errors(lambda session: accounts.create_account(session, email, role, password, partner=partner,
                                                          actor="cli"))
    click.echo(f"created {email} ({role}{', ' + partner if partner else ''})")


@group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per user.")
def list_users(as_json):
    """Every staff account with its role, whether it may sign in and when it last did."""
    with current_app.extensions["dda"].session() as session:
        rows = accounts.accounts(session)
    users = [{"email": u.email, "role": u.role, "partner": u.partner, "active": u.active,
              "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None}
             for u in sorted(rows, key=lambda u: u.email)]
    if as_json:
        click.echo(json.dumps(users, indent=2))
        return
    if not users:
        click.echo("no staff users yet: flask users create EMAIL --role admin")
    for u in users:
        state = "active" if u["active"] else "deactivated"
        partner = f" ({u['partner']})" if u["partner"] else ""
        last = u["last_login_at"] or "never"
        click.echo(f"{u['email']:<40} {u['role']}{partner:<20} {state:<12} last sign-in {last}")


@group.command("deactivate")
@click.argument("email")
def deactivate(email):
    """Someone who leaves: they cannot sign in any more and their open sessions end now."""
    ended = _actor_errors(lambda session: accounts.deactivate(session, email, actor="cli"))
    click.echo(f"deactivated {normalise_email(email)}; {accounts.sessions_ended(ended)}")


@group.command("activate")
@click.argument("email")
def activate(email):
    """Let a deactivated user sign in again."""
    _actor_errors(lambda session: accounts.activate(session, email, actor="cli"))
    click.echo(f"activated {normalise_email(email)}")


@group.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def set_password(email, password_stdin):
    """A new password (forgotten, or suspected known); the user's open sessions end."""
    with current_app.extensions["dda"].session() as session:
        try:
            accounts.user_by_email(session, email)
        except accounts.AccountError as error:
            raise click.ClickException(str(error)) from None
    password = _read_password(password_stdin)
    ended = _actor_errors(lambda session: accounts.reset_password(session, email, password, actor="cli"))
    click.echo(f"new password set for {normalise_email(email)}; {accounts.sessions_ended(ended)}")


@group.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(ROLES))
@click.option("--partner", help="The partner organisation (for, and only for, role partner).")
def set_role(email, role, partner):
    """Change what a user may do; their open sessions end so the new role applies at once."""
    partner = (partner or "").strip()
    if role == "partner" and not partner:
        raise click.UsageError("role partner needs --partner NAME")
    if role != "partner" and partner:
        raise click.UsageError(f"--partner is only for role partner (a {role} sees every partner)")
    ended = _actor_errors(lambda session: accounts.set_role(session, email, role, partner=partner, actor="cli"))
    click.echo(f"{normalise_email(email)} is now {role}; {accounts.sessions_ended(ended)}")
