"""Who may use the staff pages, and as what.

Passwords are kept as argon2 hashes only. The session is Flask's signed cookie: it carries the
user's id and a fingerprint of their password hash, so changing a password or deactivating a
user ends their sessions at the next request. Failed sign-ins are counted per email and IP in
Redis, shared by every web process, so guessing is slow whichever process answers.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from sqlalchemy import select

from store.models import Partner, StaffUser, utcnow

ROLES = ("admin", "supervisor", "agent", "editor", "partner")
SESSION_LIFETIME = timedelta(hours=12)
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 15 * 60
MIN_PASSWORD_LENGTH = 12
WRONG = "The email or password is wrong."

blueprint = Blueprint("auth", __name__)
_hasher = PasswordHasher()
_dummy_hash: str | None = None


@dataclass(frozen=True)
class StaffIdentity:
    """The signed-in user as the pages need it; detached from any database session."""

    id: int
    email: str
    role: str
    partner_id: int | None
    partner_name: str | None

    @property
    def actor(self) -> str:
        return f"staff:{self.email}"


def normalise_email(email: str | None) -> str:
    return (email or "").strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _unknown_user_hash() -> str:
    """A real hash to check against when the email is unknown, so that the answer takes as
    long as for a wrong password and the timing does not tell which emails exist."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("no user has this password")
    return _dummy_hash


def _fingerprint(password_hash: str) -> str:
    key = current_app.secret_key.encode() if isinstance(current_app.secret_key, str) else current_app.secret_key
    return hmac.new(key, password_hash.encode(), hashlib.sha256).hexdigest()[:32]


def _runtime():
    return current_app.extensions["dda"]


# --- sign-in attempts -------------------------------------------------------------------------

def _attempts_key(email: str, ip: str | None) -> str:
    # Hashed so that Redis holds no email addresses.
    digest = hashlib.sha256(f"{email}|{ip or '-'}".encode()).hexdigest()
    return f"staff:login-failures:{digest}"


def _failures(redis, key: str) -> int:
    value = redis.get(key)
    return int(value) if value else 0


def _record_failure(redis, key: str) -> None:
    pipe = redis.pipeline()
    pipe.incr(key)
    # The window starts at the first failure; later failures do not extend it.
    pipe.expire(key, FAILURE_WINDOW_SECONDS, nx=True)
    pipe.execute()


def _minutes_left(redis, key: str) -> int:
    ttl = redis.ttl(key)
    return max(1, -(-ttl // 60)) if ttl and ttl > 0 else FAILURE_WINDOW_SECONDS // 60


# --- the signed-in user ---------------------------------------------------------------------

def current_user() -> StaffIdentity | None:
    if "staff_user" in g:
        return g.staff_user
    g.staff_user = None
    user_id = session.get("staff_user_id")
    if user_id is not None:
        with _runtime().session() as db:
            row = db.execute(select(StaffUser, Partner.name).outerjoin(Partner, StaffUser.partner_id == Partner.id)
                             .where(StaffUser.id == user_id)).first()
        if row and row[0].active and hmac.compare_digest(session.get("staff_auth", ""),
                                                         _fingerprint(row[0].password_hash)):
            user, partner_name = row
            g.staff_user = StaffIdentity(user.id, user.email, user.role, user.partner_id, partner_name)
        else:
            session.clear()
    return g.staff_user


def role_required(*roles: str):
    """Let the view run only for a signed-in user with one of `roles` (any role if none given).
    Not signed in: to the sign-in page, coming back here after. Wrong role: 403 saying why."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user()
            if user is None:
                target = request.full_path.rstrip("?") if request.method == "GET" else None
                return redirect(url_for("staff.auth.login", next=target))
            if roles and user.role not in roles:
                return render_template("staff/forbidden.html", needed=roles), 403
            return view(*args, **kwargs)

        return wrapped

    return decorator


login_required = role_required()


def _safe_next(target: str | None) -> str | None:
    """Only our own staff pages: a sign-in link must not send anyone to another site."""
    if target and target.startswith(("/staff/", "/helpdesk", "/simulator")) and not target.startswith("//") \
            and "\\" not in target:
        return target
    return None


# --- routes ---------------------------------------------------------------------------------

@blueprint.get("/")
@login_required
def home():
    return render_template("staff/home.html")


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    next_page = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user() is not None:
            return redirect(next_page or url_for("staff.auth.home"))
        return render_template("staff/login.html", next_page=next_page, email="")

    email = normalise_email(request.form.get("email"))
    password = request.form.get("password", "")

    def again(error: str, status: int = 200):
        return render_template("staff/login.html", next_page=next_page, email=email, error=error), status

    if not email or not password:
        return again("Enter your email and your password.")
    runtime = _runtime()
    key = _attempts_key(email, request.remote_addr)
    if _failures(runtime.redis, key) >= MAX_FAILURES:
        minutes = _minutes_left(runtime.redis, key)
        response, status = again(f"Too many failed sign-ins for this email from your connection. "
                                 f"Wait {minutes} minute{'s' if minutes != 1 else ''} and try again.", 429)
        return response, status, {"Retry-After": str(minutes * 60)}

    with runtime.session() as db:
        user = db.scalar(select(StaffUser).where(StaffUser.email == email))
        matches = verify_password(user.password_hash if user else _unknown_user_hash(), password)
        if not (user and user.active and matches):
            _record_failure(runtime.redis, key)
            return again(WRONG)
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = utcnow()
        db.commit()
        user_id, fingerprint = user.id, _fingerprint(user.password_hash)

    runtime.redis.delete(key)
    session.clear()  # nothing from before sign-in carries over into the signed-in session
    session.permanent = True
    session["staff_user_id"] = user_id
    session["staff_auth"] = fingerprint
    return redirect(next_page or url_for("staff.auth.home"))


@blueprint.route("/logout", methods=["GET", "POST"])
def logout():
    # GET only asks: signing out changes state, so it takes a form post with its CSRF token.
    if request.method == "GET":
        if current_user() is None:
            return redirect(url_for("staff.auth.login"))
        return render_template("staff/logout.html")
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("staff.auth.login"))
