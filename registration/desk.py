"""Registering a person at the weekly desk, on their behalf.

Some people cannot register in the chat (no smartphone, no data, little reading). A volunteer at
the desk does it with them: reads the privacy text with them in their language (the very text the
chat shows, from the register flow and its translations), records their consent and which staff
account took it, and sends the first WhatsApp message, or marks the registration "no WhatsApp" so
the person is served on paper (printed vouchers).

The person goes through the same lifecycle as in the chat (registering -> registered, each step
recorded), is found by the same keyed hash of their number, and an invitation someone imported
for them is continued rather than doubled. The command line (`flask registrations add`) and the
desk page both call `register_at_desk`, so they cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from sqlalchemy import select

from bot.i18n import N_
from privacy.audit import record
from registration.lifecycle import change_status, new_join_code, notify_person, registration_for
from store import conversations
from store.identifiers import Identity, find_contact_id, identify
from store.models import PHONE, Contact, Partner, Registration, StaffUser, utcnow

# Staff accounts that may register people at the desk: the programme's own people and the
# helpdesk volunteers who run the desk. Partners verify their own referrals only.
DESK_ROLES = ("admin", "supervisor", "agent")
NAME_LENGTH = (2, 80)
PARTNER_LENGTH = 120
# Registrations in these statuses are complete (or decided): the desk says so and changes nothing.
FINISHED = ("registered", "verified", "included", "paused", "declined", "deleted")
# The register flow's steps read out at the desk, in this order: what the programme is, what it
# keeps and why, and the question the person answers.
PRIVACY_STEPS = (("explain", "say"), ("privacy", "say"), ("consent", "menu"))

# NOTE: the first WhatsApp message to someone registered at the help desk (an approved template
# "desk_welcome" outside the 24-hour window; variable 1 is the program's name). No name in it: a
# locked phone's screen shows it to anyone nearby.
WELCOME = N_("Welcome to {program}. You were registered at our help desk. Save this number: your weekly "
             "supermarket voucher will come here, and you can write to us here in your own language at any "
             "time. Write MENU to see what we can do.")


class DeskError(ValueError):
    """Why the desk cannot register this person, in words for the volunteer."""


class AlreadyRegistered(DeskError):
    def __init__(self, registration_id: int, status: str):
        self.registration_id, self.status = registration_id, status
        super().__init__(f"This phone number is already registered (registration #{registration_id}, status "
                         f"{status}). Nothing was changed: open the registration to see it.")


@dataclass(frozen=True)
class DeskOutcome:
    registration_id: int
    contact_id: int
    continued_from: str | None  # the status of the registration an import or the chat had begun
    welcome: str                # how the first message went, for the volunteer to see


def normalise_phone(raw: str, region: str) -> str:
    """The number in E.164, as it is looked up and stored; DeskError when it is not a number."""
    try:
        parsed = phonenumbers.parse((raw or "").strip(), region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise DeskError(f"{raw.strip()!r} is not a valid phone number. Write it with the country code, "
                        "for example +31 6 12345678.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def privacy_texts(runtime, language: str) -> list[str]:
    """What the chat tells a person before they consent, in `language`: read out at the desk."""
    flow = runtime.bot.flows.flows["register"]
    placeholders = runtime.settings.placeholders()
    return [runtime.translator.text(flow.steps[step].get(key), language, **placeholders)
            for step, key in PRIVACY_STEPS if step in flow.steps and flow.steps[step].get(key)]


def desk_staff(session, email: str) -> StaffUser:
    """The active staff account that takes the consent; DeskError if there is none that may."""
    user = session.scalar(select(StaffUser).where(StaffUser.email == (email or "").strip().lower()))
    if user is None or not user.active:
        raise DeskError(f"No active staff account {email!r}: consent is recorded under a staff account.")
    if user.role not in DESK_ROLES:
        raise DeskError(f"A {user.role} account cannot register people at the desk "
                        f"(roles that can: {', '.join(DESK_ROLES)}).")
    return user


def _checked_name(name: str) -> str:
    name = " ".join((name or "").split())
    low, high = NAME_LENGTH
    if not low <= len(name) <= high:
        raise DeskError(f"Write the person's name ({low} to {high} characters); a first name is enough.")
    return name


def register_at_desk(session, runtime, *, phone: str, name: str, language: str, staff_email: str,
                     partner: str | None = None, whatsapp: bool = True, actor: str | None = None) -> DeskOutcome:
    """Register the person whose consent `staff_email` took, inside the caller's transaction.

    `actor` is who does it, for the audit log (the staff account on the desk page, "cli" on the
    command line); the consent is always recorded under the staff account. The caller commits,
    then hands the contact to delivery (`runtime.tasks.send_bulk`) when a welcome was queued.
    """
    settings = runtime.settings
    phone = normalise_phone(phone, settings.program.default_region)
    name = _checked_name(name)
    if language not in settings.languages.all:
        raise DeskError(f"Unknown language {language!r} (known: {', '.join(settings.languages.all)}).")
    partner = " ".join((partner or "").split())[:PARTNER_LENGTH] or None
    staff = desk_staff(session, staff_email)
    taken_by = f"staff:{staff.email}"
    actor = actor or taken_by

    contact_id = find_contact_id(session.connection(), phone)  # the keyed hash, under any current key
    registration = registration_for(session, contact_id) if contact_id else None
    if registration is not None and registration.status in FINISHED:
        raise AlreadyRegistered(registration.id, registration.status)
    if contact_id is None:
        contact_id = identify(session.connection(), [Identity(PHONE, phone)], utcnow())
    contact = session.get(Contact, contact_id)
    contact.language = language

    continued_from = registration.status if registration else None
    if registration is None:
        registration = Registration(contact_id=contact_id, status=None, join_code=new_join_code())
        session.add(registration)
    if registration.status != "registering":
        change_status(session, registration, "registering", actor=actor, reason="started at the desk")
    registration.name = name
    registration.number_confirmed = True  # read back to the person at the desk
    registration.consent_at, registration.consent_by = utcnow(), staff.email
    registration.no_whatsapp = not whatsapp
    if partner and registration.partner_id is None:
        known = session.scalar(select(Partner).where(Partner.name == partner))
        if known is not None:
            registration.partner_id = known.id
        else:
            registration.partner_named = partner
    change_status(session, registration, "registered", actor=actor,
                  reason=f"registered at the desk; consent taken by {taken_by}")
    if continued_from == "registering":  # half-way through the chat's questions: those are answered now
        conversations.forget(session, contact_id)
    session.flush()

    if whatsapp:
        welcome = notify_person(session, runtime, contact, WELCOME, template="desk_welcome",
                                variables={"1": settings.program.name})
    else:
        welcome = "not sent: no WhatsApp, served on paper"
    record(session, actor, "registered at the desk", f"registration:{registration.id}",
           f"consent taken by {taken_by} after reading the privacy text in {language}; "
           + ("WhatsApp" if whatsapp else "no WhatsApp") + f"; welcome {welcome}")
    return DeskOutcome(registration.id, contact_id, continued_from, welcome)
