"""The actions the registration flow (flows/register.yml) names.

What the person answers is written to the registration as they go, so someone who leaves
half-way and comes back days later continues where they stopped.
"""
from __future__ import annotations

from sqlalchemy import select

from bot.actions import ActionContext, Actions, Choices
from registration.lifecycle import change_status, new_join_code, registration_for
from registration.partners import known_partner
from store.conversation import Conversation
from store.models import Message, Registration, utcnow

DONE = {"registered", "verified", "included", "paused"}


def _load(context: ActionContext[Conversation], registration: Registration) -> None:
    slots = context.slots
    slots["consented"] = bool(registration.consent_at) or None
    slots["reg_name"] = registration.name
    slots["reg_number_confirmed"] = registration.number_confirmed or None
    partner = registration.partner.name if registration.partner else registration.partner_named
    slots["reg_partner"] = partner
    slots["reg_partner_known"] = bool(partner) or None


def registration_start(context: ActionContext[Conversation]) -> str:
    """Outcomes: continue, done (already registered), declined, closed (not invited and
    registration is by referral only)."""
    conversation = context.host
    session, contact = conversation.session, conversation.contact
    registration = registration_for(session, contact.id)
    code = str(context.slots.pop("_argument", "") or "").upper().replace(" ", "")
    if registration is None and code:
        invited = session.scalar(select(Registration).where(Registration.join_code == code))
        if invited is not None and invited.status in ("imported", "invited"):
            old = invited.contact
            invited.contact_id = contact.id  # they wrote from another number (or a WhatsApp username)
            session.flush()
            if old is not None and old.id != contact.id and not old.messages:
                session.delete(old)
            registration = invited
    if registration is None:
        if not conversation.runtime.settings.registration.open:
            return "closed"
        registration = Registration(contact_id=contact.id, status=None, join_code=new_join_code())
        session.add(registration)
        change_status(session, registration, "registering", actor="person", reason="started in the chat")
    elif registration.status in DONE:
        return "done"
    elif registration.status == "declined":
        return "declined"
    elif registration.status != "registering":
        change_status(session, registration, "registering", actor="person", reason="started in the chat")
    registration.updated_at = utcnow()
    _load(context, registration)
    return "continue"


def registration_consent(context: ActionContext[Conversation]) -> str:
    registration = registration_for(context.host.session, context.host.contact.id)
    registration.consent_at = utcnow()
    context.slots["consented"] = True
    return "ok"


def registration_no_consent(context: ActionContext[Conversation]) -> str:
    """No registration and nothing of what was said so far; the conversation goes on, so
    information, help and a person stay within reach without registering."""
    conversation = context.host
    session, contact = conversation.session, conversation.contact
    registration = registration_for(session, contact.id)
    if registration is not None:
        session.delete(registration)
    for message in session.scalars(select(Message).where(Message.contact_id == contact.id,
                                                         Message.direction == "in")):
        message.body = None
    context.slots.clear()
    return "ok"


def registration_save(context: ActionContext[Conversation]) -> str:
    registration = registration_for(context.host.session, context.host.contact.id)
    slots = context.slots
    if slots.get("reg_name"):
        registration.name = slots["reg_name"]
    if slots.get("reg_number_confirmed"):
        registration.number_confirmed = True
    if slots.get("reg_partner") and registration.partner_id is None:
        registration.partner_named = slots["reg_partner"]
        # "stichting hulp" typed in the chat is the partner Stichting Hulp: it sees and verifies them.
        known = known_partner(context.host.session, slots["reg_partner"])
        if known is not None:
            registration.partner_id = known.id
        slots["reg_partner_known"] = True
    registration.updated_at = utcnow()
    return "ok"


def registration_complete(context: ActionContext[Conversation]) -> str:
    registration = registration_for(context.host.session, context.host.contact.id)
    change_status(context.host.session, registration, "registered", actor="person",
                  reason="completed registration in the chat")
    return "ok"


def register(actions: Actions[Conversation], choices: Choices[Conversation]) -> None:
    actions.add("registration_start", registration_start)
    actions.add("registration_consent", registration_consent)
    actions.add("registration_no_consent", registration_no_consent)
    actions.add("registration_save", registration_save)
    actions.add("registration_complete", registration_complete)
