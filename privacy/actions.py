"""The `privacy_report` action (flows/privacy.yml): "what do you know about me?".

Answered from the database, not from a fixed text, so it cannot drift from what is really
held. It is sent as one message to the person's own number, in their language; someone who
forges a request cannot read it (replies go to the number, and the webhook is signed).
"""
from __future__ import annotations

from babel import Locale, UnknownLocaleError
from sqlalchemy import func, select

from bot.actions import ActionContext, Actions, Choices
from bot.i18n import N_
from bot.messages import Reply
from registration.lifecycle import registration_for
from store.conversation import Conversation
from store.models import BSUID, PHONE, Message

HEADER = N_("This is what we keep about you:")
NUMBER = N_("- this WhatsApp number, to answer you")
USER_ID = N_("- the code WhatsApp gives us instead of your number, to answer you")
LANGUAGE = N_("- your language: {language_name}")
STATUS = N_("- your registration: {status}")
NOT_REGISTERED = N_("- you are not registered")
NAME = N_("- your name: {name}")
PARTNER = N_("- the organisation that sent you: {partner}")
MESSAGES = N_("- messages with their text (yours and ours): {count}. We delete the text of a message after "
              "{days} days.")
INACTIVE = N_("If you do not write to us for {months} months, we delete your registration. We tell you {days} "
              "days before.")
WHO = N_("Only our team can see this. We never give it to the police or the immigration service.")
DELETE = N_("To delete all of it, write DELETE MY DATA.")

STATUSES = {
    "imported": N_("invited by an organisation, not registered yet"),
    "invited": N_("invited by an organisation, not registered yet"),
    "registering": N_("started, not finished"),
    "registered": N_("registered, waiting to be checked"),
    "verified": N_("checked"),
    "included": N_("in the program"),
    "paused": N_("paused"),
    "declined": N_("not included"),
    "ended": N_("ended"),
}


def language_name(code: str, shown_in: str) -> str:
    """'Nederlands' for nl in Dutch, 'Dutch' in English; the code if Babel does not know it."""
    try:
        return Locale.parse(code).get_display_name(Locale.parse(shown_in)) or code
    except (UnknownLocaleError, ValueError):
        return code


def privacy_report(context: ActionContext[Conversation]) -> str:
    conversation = context.host
    runtime, session, contact = conversation.runtime, conversation.session, conversation.contact
    settings = runtime.settings
    language = context.profile.language or settings.languages.source

    def text(source: str, **values) -> str:
        return runtime.translator.text(source, language, **values)

    kinds = {identifier.kind for identifier in contact.identifiers}
    lines = [text(HEADER)] + [text(NUMBER)] * (PHONE in kinds) + [text(USER_ID)] * (BSUID in kinds)
    if context.profile.language:
        lines.append(text(LANGUAGE, language_name=language_name(context.profile.language, language)))
    registration = registration_for(session, contact.id)
    registered = registration is not None and registration.status in STATUSES
    if registered:
        lines.append(text(STATUS, status=text(STATUSES[registration.status])))
        if registration.name:
            lines.append(text(NAME, name=registration.name))
        partner = registration.partner.name if registration.partner else registration.partner_named
        if partner:
            lines.append(text(PARTNER, partner=partner))
    else:
        lines.append(text(NOT_REGISTERED))
    kept = session.scalar(select(func.count()).select_from(Message).where(Message.contact_id == contact.id,
                                                                          Message.body.is_not(None)))
    lines.append(text(MESSAGES, count=kept, days=settings.privacy.message_days))
    paragraphs = ["\n".join(lines)]
    if registered:
        paragraphs.append(text(INACTIVE, months=settings.privacy.inactive_months, days=settings.privacy.warning_days))
    paragraphs += [text(WHO), text(DELETE)]
    # One message rather than one per line; built here because the lines depend on the data.
    context.turn.replies.append(Reply(text="\n\n".join(paragraphs)))
    return "ok"


def register(actions: Actions[Conversation], choices: Choices[Conversation]) -> None:
    actions.add("privacy_report", privacy_report)
