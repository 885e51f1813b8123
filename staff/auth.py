"""Who may use the staff pages, and as what.

Passwords are kept as argon2 hashes only, and a new one must be hard to guess (zxcvbn), not
only long. The signed cookie carries a random session token whose hash is kept in the database
(`staff_sessions`): signing out deletes it, so a copied cookie is dead at once; a password,
role or activity change deletes all of that user's sessions.

Failed sign-ins are counted in Redis, shared by every web process, in two ways: per connection
across all emails (one address cannot try many accounts), and per account with a wait that
doubles with each further failure (guessing stays slow, but a stranger's five wrong guesses
lock the real user out for seconds, not for a quarter of an hour).
"""
from __future__ import annotations

import hashlib
import math
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from sqlalchemy import delete, select

from store.models import Partner, StaffSession, StaffUser, utcnow

ROLES = ("admin", "supervisor", "agent", "editor", "partner")
SESSION_LIFETIME = timedelta(hours=12)
FAILURE_WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_CONNECTION = 20  # across every email, per window
FREE_FAILURES_PER_ACCOUNT = 4     # then 30 s, 60 s, 120 s … up to the window
FIRST_WAIT_SECONDS = 30
MIN_PASSWORD_LENGTH = 12
MIN_PASSWORD_SCORE = 3  # zxcvbn: 0 (guessed at once) … 4 (very hard)
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


def password_problem(password: str, email: str = "") -> str | None:
    """Why `password` may not be used, in words for the person choosing it; None if it may."""
    from zxcvbn import zxcvbn

    if len(password) < MIN_PASSWORD_LENGTH:
        return f"The password needs at least {MIN_PASSWORD_LENGTH} characters."
    result = zxcvbn(password[:100], user_inputs=[email, *email.split("@")] if email else [])
    if result["score"] < MIN_PASSWORD_SCORE:
        advice = result["feedback"].get("warning") or "It is too easy to guess."
        return f"{advice.rstrip('.')}. Choose a longer password of several unrelated words."
    return None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(db, user: StaffUser) -> str:
    """A new server-side session for `user`; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.execute(delete(StaffSession).where(StaffSession.expires_at < now))
    db.add(StaffSession(id=_token_hash(token), user_id=user.id, created_at=now, expires_at=now + SESSION_LIFETIME))
    return token


def end_sessions(db, user_id: int) -> int:
    """Sign the user out everywhere: after a password, role or activity change."""
    return db.execute(delete(StaffSession).where(StaffSession.user_id == user_id)).rowcount or 0


def _runtime():
    return current_app.extensions["dda"]


# --- sign-in attempts -------------------------------------------------------------------------

def _key(kind: str, value: str) -> str:
    # Hashed so that Redis holds no email or IP addresses.
    return f"staff:login-failures:{kind}:{hashlib.sha256(value.encode()).hexdigest()}"


def _wait_seconds(redis, email: str, ip: str | None) -> int:
    """How long this sign-in must wait before a password is even checked (0: go ahead)."""
    connection = _key("ip", ip or "-")
    failures = int(redis.get(connection) or 0)
    if failures >= MAX_FAILURES_PER_CONNECTION:
        return max(1, redis.ttl(connection))
    account = redis.hgetall(_key("account", email))
    count = int(account.get(b"count", 0))
    if count <= FREE_FAILURES_PER_ACCOUNT:
        return 0
    wait = min(FIRST_WAIT_SECONDS * 2 ** (count - FREE_FAILURES_PER_ACCOUNT - 1), FAILURE_WINDOW_SECONDS)
    return max(0, math.ceil(float(account.get(b"last", 0)) + wait - time.time()))


def _record_failure(redis, email: str, ip: str | None) -> None:
    connection, account = _key("ip", ip or "-"), _key("account", email)
    pipe = redis.pipeline()
    pipe.incr(connection)
    pipe.expire(connection, FAILURE_WINDOW_SECONDS, nx=True)  # the window starts at the first failure
    pipe.hincrby(account, "count", 1)
    pipe.hset(account, "last", time.time())
    pipe.expire(account, FAILURE_WINDOW_SECONDS)  # a quiet quarter of an hour forgives
    pipe.execute()


def _in_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minutes"


# --- the signed-in user ---------------------------------------------------------------------

def current_user() -> StaffIdentity | None:
    if "staff_user" in g:
        return g.staff_user
    g.staff_user = None
    token = session.get("staff_session")
    if token:
        with _runtime().session() as db:
            row = db.execute(select(StaffUser, Partner.name)
                             .join(StaffSession, StaffSession.user_id == StaffUser.id)
                             .outerjoin(Partner, StaffUser.partner_id == Partner.id)
                             .where(StaffSession.id == _token_hash(str(token)), StaffSession.expires_at > utcnow(),
                                    StaffUser.active.is_(True))).first()
        if row:
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
    wait = _wait_seconds(runtime.redis, email, request.remote_addr)
    if wait:
        response, status = again(f"Too many failed sign-ins. Wait {_in_words(wait)} and try again.", 429)
        return response, status, {"Retry-After": str(wait)}

    with runtime.session() as db:
        user = db.scalar(select(StaffUser).where(StaffUser.email == email))
        matches = verify_password(user.password_hash if user else _unknown_user_hash(), password)
        if not (user and user.active and matches):
            _record_failure(runtime.redis, email, request.remote_addr)
            return again(WRONG)
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = utcnow()
        token = start_session(db, user)
        db.commit()

    runtime.redis.delete(_key("account", email))
    session.clear()  # nothing from before sign-in carries over into the signed-in session
    session.permanent = True
    session["staff_session"] = token
    return redirect(next_page or url_for("staff.auth.home"))


@blueprint.route("/logout", methods=["GET", "POST"])
def logout():
    # GET only asks: signing out changes state, so it takes a form post with its CSRF token.
    if request.method == "GET":
        if current_user() is None:
            return redirect(url_for("staff.auth.login"))
        return render_template("staff/logout.html")
    token = session.get("staff_session")
    if token:
        with _runtime().session() as db:
            db.execute(delete(StaffSession).where(StaffSession.id == _token_hash(str(token))))
            db.commit()
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("staff.auth.login"))
