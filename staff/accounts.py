"""Staff accounts: creating, changing a role, deactivating, activating, a new password.

The one way to do each, called by `flask users …` and by the admin's page /staff/users. Every
change is in the audit log under the actor who made it, and every change that alters what an
account may do (role, password, deactivation) ends that account's open sessions at once
(staff.auth.end_sessions), so a volunteer who leaves is signed out everywhere, not at the end
of their twelve hours.

An account made or reset from the browser gets a generated password shown once to the admin,
who hands it on: there is no email sending in this service, and a password the admin makes up
is a password the admin knows. It must still pass the same strength check as a chosen one.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from privacy.audit import record
from registration.partners import partner_for_name
from staff.auth import ROLES, end_sessions, hash_password, normalise_email, password_problem
from store.models import Partner, StaffUser


class AccountError(ValueError):
    """The change cannot be made; the message says why, for the person who asked."""


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    role: str
    partner: str | None
    active: bool
    created_at: datetime
    last_login_at: datetime | None


def generated_password() -> str:
    """Four groups of random letters and digits: about 119 bits, easy to read out and type."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(6)) for _ in range(4))


def _checked(email: str, role: str, partner: str) -> tuple[str, str]:
    email = normalise_email(email)
    if "@" not in email or len(email) > 254 or email.startswith("@") or email.endswith("@"):
        raise AccountError("That is not an email address.")
    if role not in ROLES:
        raise AccountError(f"Choose a role: {', '.join(ROLES)}.")
    partner = " ".join((partner or "").split())
    if role == "partner" and not partner:
        raise AccountError("A partner account needs its partner organisation: it sees only its own people.")
    if role != "partner" and partner:
        raise AccountError(f"Only partner accounts belong to a partner organisation (a {role} sees every partner).")
    return email, partner


def _check_password(password: str, email: str) -> None:
    problem = password_problem(password, email)
    if problem:
        raise AccountError(problem)


def user_by_email(session, email: str) -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.email == normalise_email(email)))
    if user is None:
        raise AccountError(f"There is no staff account {normalise_email(email)}.")
    return user


def create_account(session, email: str, role: str, password: str, *, partner: str = "", actor: str) -> StaffUser:
    email, partner = _checked(email, role, partner)
    if session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
        raise AccountError(f"{email} already has an account.")
    _check_password(password, email)
    user = StaffUser(email=email, password_hash=hash_password(password), role=role, active=True,
                     partner_id=partner_for_name(session, partner).id if partner else None)
    session.add(user)
    session.flush()
    record(session, actor, "created staff user", f"staff:{email}", role + (f" ({partner})" if partner else ""))
    return user


def _not_yourself(user: StaffUser, actor: str, what: str) -> None:
    if actor == f"staff:{user.email}":
        raise AccountError(f"You cannot {what} your own account: ask another admin.")


def sessions_ended(count: int) -> str:
    """What staff read after a change that ends sessions, on the page and in the terminal alike."""
    return f"{count} open session{'s' if count != 1 else ''} ended"


def set_role(session, email: str, role: str, *, partner: str = "", actor: str) -> int:
    """Returns how many open sessions ended."""
    user = user_by_email(session, email)
    _, partner = _checked(user.email, role, partner)
    _not_yourself(user, actor, "change the role of")
    before = user.role
    user.role = role
    user.partner_id = partner_for_name(session, partner).id if partner else None
    record(session, actor, "changed staff role", f"staff:{user.email}", f"{before} -> {role}")
    return end_sessions(session, user.id)


def deactivate(session, email: str, *, actor: str) -> int:
    """Someone who leaves: they cannot sign in any more and their open sessions end now."""
    user = user_by_email(session, email)
    _not_yourself(user, actor, "deactivate")
    user.active = False
    record(session, actor, "deactivated staff user", f"staff:{user.email}")
    return end_sessions(session, user.id)


def activate(session, email: str, *, actor: str) -> None:
    user = user_by_email(session, email)
    user.active = True
    record(session, actor, "activated staff user", f"staff:{user.email}")


def reset_password(session, email: str, password: str, *, actor: str) -> int:
    """A new password (forgotten, or suspected known); returns how many open sessions ended."""
    user = user_by_email(session, email)
    _check_password(password, user.email)
    user.password_hash = hash_password(password)
    record(session, actor, "reset staff password", f"staff:{user.email}")
    return end_sessions(session, user.id)


def accounts(session) -> list[Account]:
    rows = session.execute(select(StaffUser, Partner.name).outerjoin(Partner, StaffUser.partner_id == Partner.id)
                           .order_by(StaffUser.active.desc(), StaffUser.email)).all()
    return [Account(u.id, u.email, u.role, partner, u.active, u.created_at, u.last_login_at) for u, partner in rows]
