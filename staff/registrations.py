"""Registrations for staff: find them, look at one, and move many at once.

A partner organisation sees only the people it referred, and may only verify them: including
and declining are the program's decisions. Every change goes through
registration.lifecycle.change_status, so it is recorded with the staff member's email and
reason and told to the person exactly as a change from the command line is.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from math import ceil

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import false, func, select
from sqlalchemy.orm import joinedload, selectinload

from privacy.audit import record, record_reading
from registration.lifecycle import STATUSES, TRANSITIONS, TransitionError, change_status, resumed_status
from staff.auth import current_user, role_required
from staff.search import KINDS, SCAN_LIMIT, SearchError, search
from store.models import Contact, Message, Partner, Registration
from vouchers.kinds import known_flags, set_flag

PER_PAGE = 50
MAX_BULK = 500
MANAGERS = ("admin", "supervisor")
VIEWERS = MANAGERS + ("partner",)
# What each action on the list and a person's page does; resume goes back to where the pause
# started (registration.lifecycle.resumed_status). The same moves as `flask registrations set-status`.
ACTIONS = {"verify": "verified", "include": "included", "decline": "declined", "pause": "paused",
           "resume": "resumed", "end": "ended"}
PARTNER_ACTIONS = ("verify",)

blueprint = Blueprint("registrations", __name__, url_prefix="/registrations")


def _runtime():
    return current_app.extensions["dda"]


def visible(query, user):
    """Narrow a query on Registration to what this user may see."""
    if user.role != "partner":
        return query
    if user.partner_id is None:
        return query.where(false())
    return query.where(Registration.partner_id == user.partner_id)


def allowed_actions(user) -> tuple[str, ...]:
    return PARTNER_ACTIONS if user.role == "partner" else tuple(ACTIONS)


def target(registration: Registration, action: str) -> str:
    """The status `action` moves this registration to."""
    if action == "resume":
        return resumed_status(registration) if registration.status == "paused" else ""
    return ACTIONS[action]


def possible_actions(registration: Registration, user) -> tuple[str, ...]:
    """The actions this user may take on this registration in its current status."""
    allowed = TRANSITIONS[registration.status]
    return tuple(action for action in allowed_actions(user) if target(registration, action) in allowed)


def sees_full_phone(user) -> bool:
    return user.role in MANAGERS


def _same_name(name: str | None) -> str:
    return " ".join((name or "").casefold().split())


def possible_duplicates(session, registrations) -> dict[int, list[int]]:
    """Other registrations with the same name at the same partner. Numbers are unique by
    schema, so a person registered twice shows up as the same name under two numbers.
    Names are personal data (they may be stored encrypted), so they are compared here,
    not in SQL."""
    partners = {r.partner_id for r in registrations if r.partner_id and r.name}
    if not partners:
        return {}
    index: dict[tuple[int, str], list[int]] = defaultdict(list)
    for rid, partner_id, name in session.execute(select(Registration.id, Registration.partner_id, Registration.name)
                                                 .where(Registration.partner_id.in_(partners),
                                                        Registration.name.is_not(None))
                                                 .order_by(Registration.id)):
        if _same_name(name):
            index[(partner_id, _same_name(name))].append(rid)
    found = {}
    for registration in registrations:
        if registration.partner_id and _same_name(registration.name):
            others = [rid for rid in index[(registration.partner_id, _same_name(registration.name))]
                      if rid != registration.id]
            if others:
                found[registration.id] = others
    return found


def _filters(args, user) -> tuple[dict, list[str]]:
    settings = _runtime().settings
    filters, errors = {}, []
    status = args.get("status", "")
    if status:
        if status in STATUSES:
            filters["status"] = status
        else:
            errors.append(f"Unknown status {status!r}: the filter was left out.")
    partner = args.get("partner", "").strip()
    if partner and user.role != "partner":
        filters["partner"] = partner
    language = args.get("language", "").strip().lower()
    if language:
        if language in settings.languages.all:
            filters["language"] = language
        else:
            errors.append(f"Unknown language {language!r}: the filter was left out.")
    since = args.get("since", "").strip()
    if since:
        try:
            filters["since"] = date.fromisoformat(since)
        except ValueError:
            errors.append(f"{since!r} is not a date like 2026-01-31: the filter was left out.")
    return filters, errors


def _page_number(args) -> int:
    try:
        return max(1, int(args.get("page", 1)))
    except ValueError:
        return 1


@blueprint.get("/")
@role_required(*VIEWERS)
def index():
    user = current_user()
    filters, errors = _filters(request.args, user)
    page = _page_number(request.args)
    query = visible(select(Registration).join(Contact, Registration.contact_id == Contact.id)
                    .outerjoin(Partner, Registration.partner_id == Partner.id), user)
    if "status" in filters:
        query = query.where(Registration.status == filters["status"])
    if "partner" in filters:
        query = query.where(Partner.name == filters["partner"])
    if "language" in filters:
        query = query.where(Contact.language == filters["language"])
    if "since" in filters:
        start = datetime.combine(filters["since"], datetime.min.time(), tzinfo=UTC)
        query = query.where(Registration.created_at >= start)
    term, kind = request.args.get("q", "").strip()[:200], request.args.get("by", "any")
    found = None
    with _runtime().session() as session:
        if term:
            try:
                found = search(session, query, term, kind, _runtime().settings.program.default_region)
            except SearchError as error:
                errors.append(str(error))
        if found is None:
            total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        else:
            total = len(found.ids)
        pages = max(1, ceil(total / PER_PAGE))
        page = min(page, pages)
        start = (page - 1) * PER_PAGE
        listing = query.options(joinedload(Registration.contact), joinedload(Registration.partner))
        if found is None:
            listing = listing.order_by(Registration.id.desc()).limit(PER_PAGE).offset(start)
        else:
            listing = listing.where(Registration.id.in_(found.ids[start:start + PER_PAGE])) \
                .order_by(Registration.id.desc())
        rows = list(session.scalars(listing))
        duplicates = possible_duplicates(session, rows)
        partners = [] if user.role == "partner" else list(session.scalars(select(Partner.name).order_by(Partner.name)))
        # The search term itself is left out: it may be a phone number or a name.
        detail = ", ".join(f"{key}={value}" for key, value in sorted(request.args.items())
                           if key not in ("page", "q", "by"))
        if found is not None:
            detail = ", ".join(filter(None, [f"searched by {found.how}", detail]))
        record_reading(session, user.actor, "viewed registrations list", "registrations", detail)
        session.commit()
    args = {key: request.args.get(key, "") for key in ("status", "partner", "language", "since")}
    args.update(q=term, by=kind if term and kind in KINDS else "")
    return render_template("staff/registrations/list.html", rows=rows, total=total, page=page, pages=pages,
                           args={k: v for k, v in args.items() if v}, form=args, errors=errors,
                           duplicates=duplicates, partners=partners, statuses=STATUSES, found=found,
                           kinds=KINDS, scan_limit=SCAN_LIMIT,
                           languages=_runtime().settings.languages.all, actions=allowed_actions(user))


@blueprint.get("/<int:registration_id>")
@role_required(*VIEWERS)
def detail(registration_id: int):
    user = current_user()
    with _runtime().session() as session:
        registration = session.scalar(visible(select(Registration), user).where(Registration.id == registration_id)
                                      .options(joinedload(Registration.contact), joinedload(Registration.partner),
                                               selectinload(Registration.events)))
        if registration is None:
            abort(404)
        duplicates = possible_duplicates(session, [registration]).get(registration.id, [])
        events = list(registration.events)
        actions = possible_actions(registration, user)
        record_reading(session, user.actor, "viewed registration", f"registration:{registration.id}",
                       "with full phone number" if sees_full_phone(user) else "")
        session.commit()
    return render_template("staff/registrations/detail.html", registration=registration, events=events,
                           duplicates=duplicates, full_phone=sees_full_phone(user), actions=actions,
                           known_flags=known_flags(_runtime().settings),
                           flags=[f for f in registration.flags.split(",") if f])


@blueprint.post("/<int:registration_id>/flags")
@role_required("admin", "supervisor")
def flags(registration_id: int):
    """The flags that make a person eligible for a kind of voucher (vouchers.kinds.*.eligibility):
    the ticked ones set, the others cleared; each change audited."""
    user = current_user()
    runtime = _runtime()
    wanted = set(request.form.getlist("flags"))
    known = known_flags(runtime.settings)
    if not wanted <= set(known):
        return render_template("staff/error.html", title="Nothing was changed", back=True,
                               message=f"Flags are those a kind of voucher asks for: {', '.join(known)}."), 400
    with runtime.session() as session:
        registration = session.scalar(visible(select(Registration), user).where(Registration.id == registration_id))
        if registration is None:
            abort(404)
        for flag in known:
            set_flag(session, runtime.settings, registration, flag, flag in wanted, actor=user.actor)
        session.commit()
    return redirect(url_for(".detail", registration_id=registration_id))


def _last_message_id(session, contact_id: int) -> int:
    return session.scalar(select(func.coalesce(func.max(Message.id), 0)).where(
        Message.contact_id == contact_id, Message.direction == "out", Message.sender == "bot"))


@blueprint.post("/bulk")
@role_required(*VIEWERS)
def bulk():
    user = current_user()
    runtime = _runtime()
    action = request.form.get("action", "")
    reason = request.form.get("reason", "").strip()
    ids = list(dict.fromkeys(int(v) for v in request.form.getlist("ids") if v.strip().isdigit()))

    def refuse(message: str, status: int = 400):
        return render_template("staff/error.html", title="Nothing was changed", message=message, back=True), status

    if action not in ACTIONS:
        return refuse(f"Choose what to do: {', '.join(ACTIONS)}.")
    if action not in allowed_actions(user):
        return refuse(f"Your role ({user.role}) cannot {action} registrations.", 403)
    if not ids:
        return refuse("Tick at least one registration.")
    if len(ids) > MAX_BULK:
        return refuse(f"At most {MAX_BULK} registrations at once.")
    if not reason:
        return refuse(f"A reason is required to {action}: it is kept in each person's history.")

    results, told = [], []
    with runtime.session() as session:
        found = {r.id: r for r in session.scalars(visible(select(Registration), user)
                                                  .where(Registration.id.in_(ids))
                                                  .options(joinedload(Registration.contact),
                                                           selectinload(Registration.events)))}
        for rid in ids:
            registration = found.get(rid)
            if registration is None:
                results.append({"id": rid, "ok": False, "message": "not found"})
                continue
            before, last = registration.status, _last_message_id(session, registration.contact_id)
            if action == "resume" and registration.status != "paused":
                results.append({"id": rid, "ok": False, "message": f"not paused (it is {registration.status})"})
                continue
            to = target(registration, action)
            try:
                change_status(session, registration, to, actor=user.actor, reason=reason, runtime=runtime,
                              notify=True)
                record(session, user.actor, "changed status", f"registration:{registration.id}",
                       f"{before} -> {to}: {reason}")
            except TransitionError as error:
                results.append({"id": rid, "ok": False, "message": str(error)})
                continue
            notified = _last_message_id(session, registration.contact_id) > last
            if notified:
                told.append(registration.contact_id)
            results.append({"id": rid, "ok": True,
                            "message": f"{before} \u2192 {to}; " + (
                                "the person will be told" if notified else
                                "the person was not told (opted out, or no approved message for them)")})
        session.commit()
    runtime.tasks.send_bulk(told)
    return render_template("staff/registrations/bulk_result.html", results=results, action=action, reason=reason,
                           done=sum(1 for r in results if r["ok"]))
