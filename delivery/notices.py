"""How a notice the service starts reaches a person, decided in one place.

WhatsApp takes free text only within 24 hours of the person's last message; outside that
window only a template approved in advance, per language (the Content SIDs in config.yml
`templates:`). Every outbound notice (a status change, an invitation, "your voucher is ready",
a reminder, the inactivity warning, "you have a message waiting", a helper's answer) asks
`route` which of three it gets:

- text: the window is open, or no window applies (a local test number, or no Twilio at all);
- template: the window is closed and the template is approved in the person's language;
- hold: neither: nothing WhatsApp would take exists now, so nothing is sent until the person
  writes again (the caller reports it, so an operator sees which template is missing).

Delivery applies the same rule once more when a message is actually sent (delivery/window.py),
because a message can wait in the outbox longer than the window lasts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from bot.i18n import Translator
from settings import Settings
from store.models import Contact, Message, OutboxItem, utcnow

WINDOW = timedelta(hours=24)


def in_window(contact: Contact) -> bool:
    """Whether the person wrote within the last 24 hours (WhatsApp's customer service window)."""
    last = contact.last_inbound_at
    if last is None:
        return False
    if last.tzinfo is None:
        last = last.replace(tzinfo=utcnow().tzinfo)
    return utcnow() - last < WINDOW


def free_text_reaches(settings: Settings, contact: Contact) -> bool:
    """Free text goes out now: inside the window, or where WhatsApp's window does not apply."""
    return not settings.uses_twilio or contact.channel == "local" or in_window(contact)


@dataclass(frozen=True)
class Route:
    how: Literal["text", "template", "hold"]
    language: str
    template: str
    content_sid: str | None = None

    @property
    def why_not(self) -> str:
        return f"no approved {self.template} template for {self.language}"


def route(settings: Settings, contact: Contact, template: str, *, window_closed: bool = False) -> Route:
    """Text, the approved `template` in the person's language, or hold. `window_closed`: WhatsApp
    itself said the window is closed (63016), whatever the time of the last message says."""
    language = contact.language or settings.languages.source
    if not window_closed and free_text_reaches(settings, contact):
        return Route("text", language, template)
    content_sid = (settings.templates.get(template) or {}).get(language)
    return Route("template", language, template, content_sid) if content_sid else Route("hold", language, template)


@dataclass(frozen=True)
class Notice:
    text: str                     # the English source (N_), sent in the person's language
    template: str                 # its approved counterpart, by name in config.yml `templates:`
    values: dict[str, Any] = field(default_factory=dict)  # the text's own {placeholders}
    variables: dict[str, str] | None = None  # the template's variables ("1": …)
    options: list[dict[str, str]] | None = None  # quick replies the message carries (payload, label)
    tag: str | None = None
    queue: str = "bulk"


def send_notice(session: Any, settings: Settings, translator: Translator, contact: Contact, notice: Notice, *,
                window_closed: bool = False) -> tuple[Route, Message | None]:
    """Queue `notice` for `contact` as `route` decides, inside the caller's transaction; on hold
    nothing is queued. The caller commits and hands the person to delivery."""
    decided = route(settings, contact, notice.template, window_closed=window_closed)
    if decided.how == "hold":
        return decided, None
    body = translator.text(notice.text, decided.language, **{**settings.placeholders(), **notice.values})
    template = decided.how == "template"
    message = Message(contact_id=contact.id, direction="out", kind="template" if template else "text", body=body,
                      content_sid=decided.content_sid, content_variables=notice.variables if template else None,
                      options=notice.options, tag=notice.tag, sender="bot", status="pending")
    session.add_all([message, OutboxItem(message=message, queue=notice.queue)])
    return decided, message
