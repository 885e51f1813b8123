"""The helpdesk console: the queue of people waiting for a person, and one ticket's page.

Helpers answer in the person's own WhatsApp conversation, so every action goes through
handoff.console (the same functions the CLI and the tests use) and replies are handed to
delivery only after the transaction that queued them has committed. A refused action
(ConsoleError) is shown on the ticket's page with what the helper typed still in the box.
"""
from __future__ import annotations

from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from babel.numbers import format_currency
from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import case, func, or_, select

from delivery.notices import WINDOW, free_text_reaches
from delivery.window import WAITING
from handoff import console
from handoff import context as person
from handoff.console import ConsoleError
from handoff.tickets import queue as open_tickets
from helpdesk_web.conversation import aware, conversation, message_row, waiting, who
from privacy.audit import record_reading
from staff.auth import current_user, role_required
from staff.display import when
from store.models import Message, StaffUser, Ticket, utcnow

HELPERS = ("agent", "supervisor", "admin")
MANAGERS = ("supervisor", "admin")
REFRESH_SECONDS = 3

blueprint = Blueprint("helpdesk", __name__, url_prefix="/helpdesk")


def _runtime():
    return current_app.extensions["dda"]


def _emails(session, ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(session.execute(select(StaffUser.id, StaffUser.email).where(StaffUser.id.in_(ids))).all())


# --- the queue ------------------------------------------------------------------------------

TABS = {"mine": "Mine", "unassigned": "Unassigned", "all": "All open", "closed": "Closed"}
CLOSED_SHOWN = 50
PREVIEW_CHARACTERS = 80


def _tab() -> str:
    tab = request.args.get("tab", "all")
    return tab if tab in TABS else "all"


def _tickets(session, tab: str, user) -> list[Ticket]:
    """Open tickets most urgent first, then longest waiting; closed ones newest first, and for
    an agent only those nobody else held (as on the ticket's page)."""
    if tab == "closed":
        query = (select(Ticket).where(Ticket.status == "closed")
                 .order_by(Ticket.closed_at.desc(), Ticket.id.desc()).limit(CLOSED_SHOWN))
        if user.role == "agent":
            query = query.where(or_(Ticket.assigned_to_id.is_(None), Ticket.assigned_to_id == user.id))
        return list(session.scalars(query))
    tickets = open_tickets(session)
    if tab == "mine":
        return [t for t in tickets if t.assigned_to_id == user.id]
    if tab == "unassigned":
        return [t for t in tickets if t.assigned_to_id is None]
    return tickets


def _last_messages(session, contact_ids) -> tuple[dict[int, Message], dict[int, bool]]:
    """Each conversation's last message, and whether the person wrote after a helper's last answer."""
    ids = set(contact_ids)
    if not ids:
        return {}, {}
    grouped = list(session.execute(
        select(Message.contact_id, func.max(Message.id),
               func.max(case((Message.direction == "in", Message.id))),
               func.max(case((Message.sender == "agent", Message.id))))
        .where(Message.contact_id.in_(ids)).group_by(Message.contact_id)))
    last = {m.contact_id: m for m in session.scalars(select(Message).where(Message.id.in_([g[1] for g in grouped])))}
    replied = {contact: bool(agent and person and person > agent) for contact, _, person, agent in grouped}
    return last, replied


def _preview(message: Message | None) -> str:
    if message is None:
        return ""
    text = " ".join(message_row(message)["text"].split())
    return text if len(text) <= PREVIEW_CHARACTERS else text[:PREVIEW_CHARACTERS - 1] + "…"


def queue_rows(session, tab: str, user) -> list[dict]:
    """The tickets of one tab as the page and its JSON show them, each with the last message in
    the conversation and whether the person wrote after a helper's answer (they wait for the next)."""
    tickets = _tickets(session, tab, user)
    emails = _emails(session, (t.assigned_to_id for t in tickets))
    last, replied = _last_messages(session, (t.contact_id for t in tickets))
    now = utcnow()
    rows = []
    for t in tickets:
        message = last.get(t.contact_id)
        rows.append({
            "id": t.id, "reason": t.reason, "priority": t.priority, "urgent": t.priority >= 2,
            "priority_label": "urgent" if t.priority >= 2 else "normal" if t.priority == 0 else str(t.priority),
            "language": t.language or "", "since": aware(t.created_at).isoformat(),
            "waiting": waiting(t.created_at, now) if t.status == "open" else "",
            "status": t.status, "outcome": t.outcome or "",
            "assigned_to": emails.get(t.assigned_to_id, ""), "mine": t.assigned_to_id == user.id,
            "preview": _preview(message), "preview_from": who(message) if message else "",
            "replied": t.status == "open" and replied.get(t.contact_id, False),
            "url": url_for(".ticket", ticket_id=t.id)})
    return rows


def _queue(session, tab: str) -> list[dict]:
    """The rows, with the reading recorded: the previews are people's own words."""
    user = current_user()
    rows = queue_rows(session, tab, user)
    if rows:
        record_reading(session, user.actor, "viewed helpdesk queue", "helpdesk:queue", tab)
        session.commit()
    return rows


@blueprint.get("/")
@role_required(*HELPERS)
def queue():
    tab = _tab()
    with _runtime().session() as session:
        rows = _queue(session, tab)
    return render_template("helpdesk/queue.html", rows=rows, refresh=REFRESH_SECONDS, tab=tab, tabs=TABS)


@blueprint.get("/queue.json")
@role_required(*HELPERS)
def queue_json():
    with _runtime().session() as session:
        rows = _queue(session, _tab())
    return jsonify(tickets=rows, count=len(rows))


# --- one ticket -----------------------------------------------------------------------------

def _ticket_or_404(session, ticket_id: int) -> Ticket:
    """The ticket, if this user's role may read it: supervisors and admins every ticket; an agent
    the open ones (the shared queue) and the closed ones nobody else held. Others look absent."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or not _may_read(ticket):
        abort(404)
    return ticket


def _may_read(ticket: Ticket) -> bool:
    user = current_user()
    return not (user.role == "agent" and ticket.status == "closed" and ticket.assigned_to_id not in (None, user.id))


def window_closes(settings, contact):
    """When WhatsApp's 24-hour window closes for this person (24 hours after their last message);
    None where no window applies (a test phone, no Twilio) or they never wrote."""
    if not settings.uses_twilio or contact.channel == "local" or contact.last_inbound_at is None:
        return None
    return aware(contact.last_inbound_at) + WINDOW


def _window(settings, contact) -> dict:
    """The close time for the countdown (ISO, the page's script counts down to it) and as the
    helper reads it: their locale, the program's time zone."""
    closes = window_closes(settings, contact)
    if closes is None:
        return {"closes": "", "closes_text": "", "left": ""}
    text = format_datetime(closes, "medium", tzinfo=ZoneInfo(settings.helpdesk.timezone), locale=helper_locale())
    return {"closes": closes.isoformat(), "closes_text": text, "left": waiting(utcnow(), closes)}


def _ticket_state(session, ticket: Ticket) -> dict:
    """What changes while a helper has the page open, for the first render and each refresh."""
    emails = _emails(session, [ticket.assigned_to_id])
    settings = current_app.extensions["dda"].settings
    return {"id": ticket.id, "status": ticket.status, "outcome": ticket.outcome or "",
            "assigned_to": emails.get(ticket.assigned_to_id, ""),
            "window_open": free_text_reaches(settings, ticket.contact),
            **{f"window_{key}": value for key, value in _window(settings, ticket.contact).items()},
            "language": ticket.contact.language or ""}


def _notes(ticket: Ticket) -> list[dict]:
    return [{"id": n.id, "author": n.author, "text": str(n.text), "when": when(n.at)} for n in ticket.notes]


def helper_locale() -> Locale:
    """The helper's own locale (their browser's first language Babel knows): amounts and times on
    the console are written as they read them, whatever the person's language."""
    for tag, _quality in request.accept_languages:
        try:
            return Locale.parse(tag, sep="-")
        except (ValueError, UnknownLocaleError):
            continue
    return Locale.parse("en")


def _vouchers(states: list) -> list[dict]:
    locale = helper_locale()

    def money(cents: int, currency: str) -> str:
        return format_currency(cents / 100, currency, locale=locale)

    return [{"id": v.id, "period": v.period, "kind": v.kind, "amount": money(v.amount_cents, v.currency),
             "balance": money(v.balance_cents, v.currency), "spent": money(v.spent_cents, v.currency),
             "valid_until": v.valid_until.isoformat(), "claimed": v.claimed,
             "claimed_at": when(v.claimed_at), "state": v.state, "resendable": v.resendable}
            for v in states]


def _left_per_kind(vouchers: list) -> str:
    """"supermarket €17.50 · pharmacy €25.00": what the person can still spend, per kind."""
    locale = helper_locale()
    return " · ".join(f"{kind} {format_currency(cents / 100, currency, locale=locale)}"
                      for kind, currency, cents in person.left_per_kind(vouchers))


def _language_choices(codes: list[str]) -> list[tuple[str, str]]:
    """(code, "ar – Arabic (العربية)"): the name in the helper's language and the person's own."""
    locale = helper_locale()
    choices = []
    for code in codes:
        own = Locale.parse(code)
        choices.append((code, f"{code} – {own.get_display_name(locale)} ({own.get_display_name(own)})"))
    return choices


def _previous(session, ticket: Ticket) -> list[dict]:
    tickets = person.previous_tickets(session, ticket)
    emails = _emails(session, (t.assigned_to_id for t in tickets))
    return [{"id": t.id, "reason": t.reason, "status": t.status, "outcome": t.outcome or "",
             "opened": when(t.created_at), "closed": when(t.closed_at), "helper": emails.get(t.assigned_to_id, ""),
             "url": url_for(".ticket", ticket_id=t.id) if _may_read(t) else ""} for t in tickets]


def _page(ticket_id: int, *, error: str | None = None, status: int = 200, typed: dict | None = None):
    runtime = _runtime()
    user = current_user()
    with runtime.session() as session:
        ticket = _ticket_or_404(session, ticket_id)
        contact = ticket.contact
        registration = person.registration(session, contact.id)
        states = person.vouchers(session, runtime.vouchers, contact.id)
        helpers = [] if user.role not in MANAGERS else list(session.execute(
            select(StaffUser.id, StaffUser.email, StaffUser.role)
            .where(StaffUser.role.in_(HELPERS), StaffUser.active.is_(True)).order_by(StaffUser.email)))
        context = {
            "ticket": ticket, "contact": contact, "state": _ticket_state(session, ticket),
            "registration": registration,
            "name": registration.name if user.role in person.SEES_NAMES else None,
            "languages": _language_choices(runtime.settings.languages.all), "previous": _previous(session, ticket),
            "vouchers": _vouchers(states), "left_per_kind": _left_per_kind(states),
            "messages": conversation(session, contact.id),
            "notes": _notes(ticket), "helpers": helpers, "can_assign": user.role in MANAGERS,
            "mine": ticket.assigned_to_id == user.id,
            "held_by_other": ticket.assigned_to_id not in (None, user.id),
            "templates": list(console.templates_for(runtime, contact)), "window": _window(runtime.settings, contact),
            "waiting_text": runtime.translator.text(WAITING, contact.language or runtime.settings.languages.source,
                                                    **runtime.settings.placeholders()),
            "canned": runtime.ready_answers.offered(contact.language),
            "outcomes": console.OUTCOMES,
            "waiting": waiting(ticket.created_at), "refresh": REFRESH_SECONDS,
        }
        record_reading(session, user.actor, "viewed conversation", f"ticket:{ticket.id}")
        session.commit()
    return render_template("helpdesk/ticket.html", error=error, typed=typed or {}, **context), status


@blueprint.get("/tickets/<int:ticket_id>")
@role_required(*HELPERS)
def ticket(ticket_id: int):
    return _page(ticket_id)


@blueprint.get("/tickets/<int:ticket_id>.json")
@role_required(*HELPERS)
def ticket_json(ticket_id: int):
    with _runtime().session() as session:
        ticket = _ticket_or_404(session, ticket_id)
        answer = jsonify(ticket=_ticket_state(session, ticket), messages=conversation(session, ticket.contact_id),
                         notes=_notes(ticket))
        record_reading(session, current_user().actor, "viewed conversation", f"ticket:{ticket.id}")
        session.commit()
    return answer


def _not_someone_elses(session, ticket: Ticket, staff: StaffUser) -> None:
    """An agent works on the tickets they hold or nobody holds; moving a ticket between helpers
    is a supervisor's call, so two agents never answer one person at the same time."""
    if staff.role == "agent" and ticket.assigned_to_id not in (None, staff.id):
        holder = _emails(session, [ticket.assigned_to_id]).get(ticket.assigned_to_id, "another helper")
        raise ConsoleError(f"{holder} has this ticket: ask a supervisor to transfer it to you")


def _act(ticket_id: int, action, *, typed: dict | None = None):
    """Run one console action in its own transaction; deliver what it queued after the commit."""
    runtime = _runtime()
    user = current_user()
    with runtime.session() as session:
        ticket = _ticket_or_404(session, ticket_id)
        staff = session.get(StaffUser, user.id)
        try:
            done, deliver = action(session, ticket, staff)
        except ConsoleError as refused:
            session.rollback()
            error = f"Not done: {refused}."
        else:
            session.commit()
            contact_id, error = ticket.contact_id, None
    if error:
        return _page(ticket_id, error=error, status=400, typed=typed)
    if deliver:
        runtime.tasks.deliver.send(contact_id)
    flash(done)
    return redirect(url_for(".ticket", ticket_id=ticket_id))


@blueprint.post("/tickets/<int:ticket_id>/claim")
@role_required(*HELPERS)
def claim(ticket_id: int):
    confirmed = request.form.get("confirm") == "yes"

    def action(session, ticket, staff):
        if ticket.assigned_to_id == staff.id:
            return "This ticket is yours already.", False
        _not_someone_elses(session, ticket, staff)
        if ticket.assigned_to_id is not None and not confirmed:
            raise ConsoleError("another helper has this ticket: tick the box to confirm you take it over")
        console.claim(session, ticket, staff)
        return "You have this ticket now.", False

    return _act(ticket_id, action)


@blueprint.post("/tickets/<int:ticket_id>/assign")
@role_required(*MANAGERS)
def assign(ticket_id: int):
    target = request.form.get("to", "")

    def action(session, ticket, staff):
        if ticket.status != "open":
            raise ConsoleError("this ticket is closed")
        to = session.get(StaffUser, int(target)) if target.isdigit() else None
        if to is None:
            raise ConsoleError("choose the helper to give this ticket to")
        console.assign(session, ticket, to)
        return f"The ticket is now with {to.email}.", False

    return _act(ticket_id, action)


@blueprint.post("/tickets/<int:ticket_id>/reply")
@role_required(*HELPERS)
def reply(ticket_id: int):
    text = request.form.get("text", "")

    def action(session, ticket, staff):
        _not_someone_elses(session, ticket, staff)
        if ticket.contact.opted_out:  # they wrote STOP: we keep quiet, helpers too
            raise ConsoleError("this person has opted out (STOP): nothing can be sent")
        console.reply(session, _runtime(), ticket, staff, text)
        return "Your answer is on its way to the person.", True

    return _act(ticket_id, action, typed={"reply": text})


@blueprint.post("/tickets/<int:ticket_id>/template")
@role_required(*HELPERS)
def template(ticket_id: int):
    name = request.form.get("name", "")

    def action(session, ticket, staff):
        _not_someone_elses(session, ticket, staff)
        console.send_template(session, _runtime(), ticket, staff, name)
        return f"The approved template {name} is on its way to the person.", True

    return _act(ticket_id, action)


@blueprint.post("/tickets/<int:ticket_id>/note")
@role_required(*HELPERS)
def note(ticket_id: int):
    text = request.form.get("text", "")

    def action(session, ticket, staff):
        console.note(session, ticket, staff, text)
        return "Note saved. The person does not see it.", False

    return _act(ticket_id, action, typed={"note": text})


@blueprint.post("/tickets/<int:ticket_id>/close")
@role_required(*HELPERS)
def close(ticket_id: int):
    outcome = request.form.get("outcome", "")

    def action(session, ticket, staff):
        _not_someone_elses(session, ticket, staff)
        console.close(session, _runtime(), ticket, staff, outcome)
        return f"Ticket closed ({outcome}). The bot answers this person again.", True

    return _act(ticket_id, action)


@blueprint.post("/tickets/<int:ticket_id>/language")
@role_required(*HELPERS)
def language(ticket_id: int):
    chosen = request.form.get("language", "")

    def action(session, ticket, staff):
        _not_someone_elses(session, ticket, staff)
        if ticket.status != "open":
            raise ConsoleError("this ticket is closed")
        try:
            changed = person.change_language(session, _runtime().settings, ticket, chosen, f"staff:{staff.email}")
        except person.LanguageError as refused:
            raise ConsoleError(str(refused)) from None
        if not changed:
            return f"The language was {chosen} already.", False
        return f"Language set to {chosen}: the bot and the ready answers now use it with this person.", False

    return _act(ticket_id, action)


@blueprint.post("/tickets/<int:ticket_id>/resend-voucher")
@role_required(*HELPERS)
def resend_voucher(ticket_id: int):
    def action(session, ticket, staff):
        _not_someone_elses(session, ticket, staff)
        return console.resend_vouchers(session, _runtime(), ticket, staff).capitalize() + ".", True

    return _act(ticket_id, action)
