"""The weekly desk, on a tablet: register a person with them, then serve them on the spot.

The volunteer picks the person's language, reads the privacy text with them in it (the text the
chat shows before its consent question), fills in their number and name and ticks that they
agreed; registration.desk.register_at_desk does the rest, exactly as `flask registrations add`
does. The person's desk page then shows what is left on each voucher (the balance question
answered on the spot), sends their vouchers again on WhatsApp, or prints them on paper.

Phone numbers only travel in form posts, never in a URL, so no access log holds one.
"""
from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from bot.formats import is_right_to_left, money
from handoff.console import ConsoleError, send_vouchers_again
from handoff.context import left_per_kind
from handoff.context import vouchers as voucher_states
from privacy.actions import language_name
from privacy.audit import record_reading
from registration.desk import DESK_ROLES, AlreadyRegistered, DeskError, normalise_phone, privacy_texts, register_at_desk
from staff.auth import current_user, role_required
from staff.registrations import possible_duplicates, sees_full_phone
from store.identifiers import find_contact_id
from store.models import Partner, Registration, Voucher
from vouchers.image import FONTS
from vouchers.paper import PAPERS
from vouchers.printing import NothingToPrint, for_person, print_vouchers

blueprint = Blueprint("desk", __name__, url_prefix="/desk")
FIELDS = ("phone", "name", "partner", "whatsapp")
ETHIOPIC_FONTS = ("NotoSansEthiopic-Regular.ttf", "NotoSansEthiopic-Bold.ttf")


def _runtime():
    return current_app.extensions["dda"]


def _languages() -> list[dict]:
    """Every served language, named in itself and in English, for the volunteer to point at."""
    return [{"code": code, "own": language_name(code, code), "english": language_name(code, "en")}
            for code in _runtime().settings.languages.all]


def _form_page(language: str | None, form: dict, error: str | None = None, registered_id: int | None = None,
               status: int = 200):
    runtime = _runtime()
    if language not in runtime.settings.languages.all:
        language = None
    with runtime.session() as session:
        partners = list(session.scalars(select(Partner.name).order_by(Partner.name)))
    return render_template("staff/desk/index.html", languages=_languages(), language=language,
                           language_label=language and language_name(language, "en"),
                           texts=privacy_texts(runtime, language) if language else [],
                           rtl=bool(language) and is_right_to_left(language), form=form, error=error,
                           registered_id=registered_id, partners=partners), status


@blueprint.get("/")
@role_required(*DESK_ROLES)
def index():
    return _form_page(request.args.get("language"), {"whatsapp": "yes"})


@blueprint.post("/register")
@role_required(*DESK_ROLES)
def register():
    user = current_user()
    runtime = _runtime()
    language = request.form.get("language", "")
    form = {key: request.form.get(key, "").strip() for key in FIELDS}
    if request.form.get("consent") != "yes":
        return _form_page(language, form, "Read the privacy text (step 2) with the person and tick that they agree: "
                                           "without their consent nobody is registered.", status=400)
    if form["whatsapp"] not in ("yes", "no"):
        return _form_page(language, form, "Say whether the person uses WhatsApp on this number.", status=400)
    with runtime.session() as session:
        try:
            outcome = register_at_desk(session, runtime, phone=form["phone"], name=form["name"], language=language,
                                       staff_email=user.email, partner=form["partner"],
                                       whatsapp=form["whatsapp"] == "yes", actor=user.actor)
        except AlreadyRegistered as error:
            return _form_page(language, form, str(error), registered_id=error.registration_id, status=409)
        except DeskError as error:
            return _form_page(language, form, str(error), status=400)
        session.commit()
    if outcome.welcome.startswith("sent"):
        runtime.tasks.send_bulk([outcome.contact_id])
    continued = f" (continuing the registration begun as {outcome.continued_from})" if outcome.continued_from else ""
    flash(f"Registered{continued}. Welcome message: {outcome.welcome}.")
    return redirect(url_for("staff.desk.person", registration_id=outcome.registration_id))


@blueprint.post("/find")
@role_required(*DESK_ROLES)
def find():
    runtime = _runtime()
    try:
        phone = normalise_phone(request.form.get("phone", ""), runtime.settings.program.default_region)
    except DeskError as error:
        return _form_page(None, {"whatsapp": "yes"}, str(error), status=400)
    with runtime.session() as session:
        contact_id = find_contact_id(session.connection(), phone)
        registration_id = session.scalar(select(Registration.id).where(Registration.contact_id == contact_id)) \
            if contact_id else None
    if registration_id is None:
        return _form_page(None, {"whatsapp": "yes", "phone": phone},
                          "Nobody is registered with this number: register them below.", status=404)
    return redirect(url_for("staff.desk.person", registration_id=registration_id))


def _registration(session, registration_id: int) -> Registration:
    registration = session.scalar(select(Registration).where(Registration.id == registration_id)
                                  .options(joinedload(Registration.contact), joinedload(Registration.partner)))
    if registration is None or registration.contact is None:
        abort(404)
    return registration


@blueprint.get("/<int:registration_id>")
@role_required(*DESK_ROLES)
def person(registration_id: int):
    user = current_user()
    runtime = _runtime()
    with runtime.session() as session:
        registration = _registration(session, registration_id)
        states = voucher_states(session, runtime.vouchers, registration.contact_id)
        handed_out = dict(session.execute(select(Voucher.id, Voucher.handed_out_at).where(
            Voucher.id.in_([v.id for v in states]))).all())
        duplicates = possible_duplicates(session, [registration]).get(registration.id, [])
        record_reading(session, user.actor, "viewed at the desk", f"registration:{registration.id}",
                       "vouchers and balances")
        session.commit()
    rows = [{"state": v, "amount": money(v.amount_cents, v.currency, "en"),
             "left": money(v.balance_cents, v.currency, "en"), "handed_out": handed_out.get(v.id)} for v in states]
    left = " · ".join(f"{kind} {money(cents, currency, 'en')}" for kind, currency, cents in left_per_kind(states))
    return render_template("staff/desk/person.html", registration=registration, rows=rows, duplicates=duplicates,
                           left_per_kind=left,
                           printable=any(v.resendable for v in states), papers=sorted(PAPERS),
                           language_label=language_name(registration.contact.language or "en", "en"),
                           full_phone=sees_full_phone(user))


@blueprint.post("/<int:registration_id>/resend")
@role_required(*DESK_ROLES)
def resend(registration_id: int):
    user = current_user()
    runtime = _runtime()
    with runtime.session() as session:
        registration = _registration(session, registration_id)
        if registration.no_whatsapp:
            flash("This person has no WhatsApp: print their voucher instead.")
            return redirect(url_for("staff.desk.person", registration_id=registration_id))
        try:
            told, sent = send_vouchers_again(session, runtime, registration.contact, user.email, "desk")
        except ConsoleError as error:
            told, sent = str(error), 0
        session.commit()
        contact_id = registration.contact_id
    if sent:
        runtime.tasks.send_bulk([contact_id])
    flash(told[:1].upper() + told[1:] + ".")
    return redirect(url_for("staff.desk.person", registration_id=registration_id))


@blueprint.post("/<int:registration_id>/print")
@role_required(*DESK_ROLES)
def print_voucher(registration_id: int):
    """The person's vouchers with money left as a PDF to print and hand over (audited, and marked
    handed out in person); the desk page and the registration page both have the button."""
    user = current_user()
    runtime = _runtime()
    paper = request.form.get("paper", "a4")
    if paper not in PAPERS:
        paper = "a4"
    back = request.form.get("back") == "registration"
    with runtime.session() as session:
        registration = _registration(session, registration_id)
        try:
            found = for_person(session, runtime, registration.contact_id)
        except NothingToPrint as error:
            flash(str(error))
            return redirect(url_for("staff.registrations.detail" if back else "staff.desk.person",
                                    registration_id=registration_id))
        chosen = request.form.get("voucher", "")
        if chosen:
            found = [voucher for voucher in found if str(voucher.id) == chosen]
            if not found:
                flash("That voucher cannot be printed: it was revoked, has expired or is spent.")
                return redirect(url_for("staff.desk.person", registration_id=registration_id))
        pdf = print_vouchers(session, runtime, found, paper=paper, actor=user.actor)
        session.commit()
        name = f"voucher-{registration_id}-{found[0].period}-{paper}.pdf"
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@blueprint.get("/fonts/<name>")
def font(name: str):
    """The Ethiopic font the vouchers ship (assets/fonts), for the desk's Tigrinya and Amharic
    text: a tablet without one would show the privacy text as empty boxes. Only Ethiopic
    letters load it (desk.css, unicode-range); it is no secret, so no sign-in is asked."""
    if name not in ETHIOPIC_FONTS:
        abort(404)
    return send_from_directory(FONTS, name, mimetype="font/ttf")
