from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from privacy.audit import record
from staff.auth import ROLES, end_sessions, hash_password, normalise_email, password_problem
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
        password = _checked_password(password_stdin, email)
        partner_id = _partner_id(session, partner)
        session.add(StaffUser(email=email, password_hash=hash_password(password), role=role, partner_id=partner_id,
                              active=True))
        record(session, "cli", "created staff user", f"staff:{email}", role)
        session.commit()
    click.echo(f"created {email} ({role}{', ' + partner if partner else ''})")


def _checked_password(from_stdin: bool, email: str) -> str:
    password = _read_password(from_stdin)
    problem = password_problem(password, email)
    if problem:
        raise click.ClickException(problem)
    return password


def _partner_id(session, partner: str) -> int | None:
    if not partner:
        return None
    found = session.scalar(select(Partner).where(Partner.name == partner))
    if found is None:
        found = Partner(name=partner)
        session.add(found)
        session.flush()
        click.echo(f"partner {partner!r} was new and has been added")
    return found.id


def _user(session, email: str) -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.email == normalise_email(email)))
    if user is None:
        raise click.ClickException(f"no staff user {normalise_email(email)}")
    return user


@group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per user.")
def list_users(as_json):
    """Every staff account with its role, whether it may sign in and when it last did."""
    runtime = current_app.extensions["dda"]
    with runtime.session() as session:
        rows = session.execute(select(StaffUser, Partner.name).outerjoin(Partner, StaffUser.partner_id == Partner.id)
                               .order_by(StaffUser.email)).all()
    users = [{"email": u.email, "role": u.role, "partner": partner, "active": u.active,
              "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None} for u, partner in rows]
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
    runtime = current_app.extensions["dda"]
    with runtime.session() as session:
        user = _user(session, email)
        user.active = False
        ended = end_sessions(session, user.id)
        record(session, "cli", "deactivated staff user", f"staff:{user.email}")
        session.commit()
    click.echo(f"deactivated {user.email}; {ended} open session{'s' if ended != 1 else ''} ended")


@group.command("activate")
@click.argument("email")
def activate(email):
    """Let a deactivated user sign in again."""
    runtime = current_app.extensions["dda"]
    with runtime.session() as session:
        user = _user(session, email)
        user.active = True
        record(session, "cli", "activated staff user", f"staff:{user.email}")
        session.commit()
    click.echo(f"activated {user.email}")


@group.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def set_password(email, password_stdin):
    """A new password (forgotten, or suspected known); the user's open sessions end."""
    runtime = current_app.extensions["dda"]
    with runtime.session() as session:
        user = _user(session, email)
        user.password_hash = hash_password(_checked_password(password_stdin, user.email))
        ended = end_sessions(session, user.id)
        record(session, "cli", "reset staff password", f"staff:{user.email}")
        session.commit()
    click.echo(f"new password set for {user.email}; {ended} open session{'s' if ended != 1 else ''} ended")


@group.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(ROLES))
@click.option("--partner", help="The partner organisation (for, and only for, role partner).")
def set_role(email, role, partner):
    """Change what a user may do; their open sessions end so the new role applies at once."""
    runtime = current_app.extensions["dda"]
    partner = (partner or "").strip()
    if role == "partner" and not partner:
        raise click.UsageError("role partner needs --partner NAME")
    if role != "partner" and partner:
        raise click.UsageError(f"--partner is only for role partner (a {role} sees every partner)")
    with runtime.session() as session:
        user = _user(session, email)
        before = user.role
        user.role, user.partner_id = role, _partner_id(session, partner)
        ended = end_sessions(session, user.id)
        record(session, "cli", "changed staff role", f"staff:{user.email}", f"{before} -> {role}")
        session.commit()
    click.echo(f"{user.email} is now {role}; {ended} open session{'s' if ended != 1 else ''} ended")
