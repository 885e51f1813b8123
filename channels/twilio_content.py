"""Reply buttons and list pickers through Twilio's Content API.

WhatsApp shows buttons and lists only from a content resource, so a menu is sent as
`content_sid` + `content_variables`. A content is made once per form (buttons or list), language,
titles and payloads and kept in the database (`whatsapp_contents`), so every web process and
worker reuses it and Twilio's account does not fill up with copies. The text above the buttons is
the variable {{1}}: it carries names and answers ("Your name: Amina. Is this right?"), and
written into the content it would make one content per person. Session messages (the replies
this is for) need no approval, so a body that is only a variable is allowed; list pickers exist
only in session anyway.

`flask whatsapp sync` makes the contents of every menu in the flows ahead of time; anything else
(a "Did you mean" with two guesses, a list of offers from content/) is made when first sent.
When the Content API cannot be reached or refuses, the menu goes out as numbered text: the
message is never lost for want of buttons.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass

from requests import RequestException
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from twilio.base.exceptions import TwilioException

from bot.menus import Layout
from store.models import WhatsAppContent

log = logging.getLogger(__name__)
QUICK_REPLY, LIST_PICKER = "twilio/quick-reply", "twilio/list-picker"
BODY = "{{1}}"
PAUSE_SECONDS = 60  # after a failure, menus go as text for this long instead of asking again each time
KNOWN_SIZE = 10_000  # contents remembered in a process; "did you mean" pairs make new ones now and then
FAILURES = (TwilioException, RequestException)  # what a call to the Content API raises when it fails


@dataclass(frozen=True)
class ContentRequest:
    key: str  # what the content holds, hashed: the cache key
    kind: str
    language: str
    body: dict  # Create Content's JSON body


def content_request(menu: Layout, language: str, list_button: str) -> ContentRequest:
    if menu.kind == "buttons":
        types = {QUICK_REPLY: {"body": BODY, "actions": [{"type": "QUICK_REPLY", "title": item.title, "id": item.id}
                                                         for item in menu.items]}}
    else:
        types = {LIST_PICKER: {"body": BODY, "button": list_button, "items": [
            {"id": item.id, "item": item.title} | ({"description": item.description} if item.description else {})
            for item in menu.items]}}
    key = hashlib.sha256(json.dumps({"language": language, "types": types}, sort_keys=True,
                                    ensure_ascii=False).encode()).hexdigest()
    return ContentRequest(key=key, kind=menu.kind, language=language, body={
        "friendly_name": f"dda_{menu.kind}_{language}_{key[:16]}", "language": language,
        "variables": {"1": "menu"}, "types": types})


class ContentCatalog:
    """Content SIDs by what they hold: the shared table first, Twilio's Content API when missing.

    A content never changes once made (its key is a hash of what it holds), so the process
    remembers the SIDs it has seen: a menu costs a worker no database round trips after the first.
    A SID Twilio refuses is forgotten here and in the table; another process that still
    remembers it meets the same refusal when it next sends it, and forgets it the same way."""

    def __init__(self, client, session_factory):
        self.client = client
        self.session = session_factory
        self._paused_until = 0.0
        self._known: dict[str, str] = {}

    def sid_for(self, request: ContentRequest) -> str | None:
        """The content's SID, made now if needed; None while the Content API is failing."""
        sid, _created = self.ensure(request, pause=True)
        return sid

    def ensure(self, request: ContentRequest, pause: bool = False) -> tuple[str | None, bool]:
        """(sid, made now). Errors from Twilio are raised unless `pause`: then they are logged, the
        menu goes out as text, and menus are not tried again for PAUSE_SECONDS."""
        known = self._known.get(request.key)
        if known:
            return known, False
        with self.session() as session:
            known = session.scalar(select(WhatsAppContent.content_sid).where(WhatsAppContent.key == request.key))
        if known:
            self._remember(request.key, known)
            return known, False
        if pause and time.monotonic() < self._paused_until:
            return None, False
        try:
            created = self.client.content.v1.create("POST", "/Content", data=request.body,
                                                    headers={"Content-Type": "application/json",
                                                             "Accept": "application/json"})
        except FAILURES as error:
            if not pause:
                raise
            self._paused_until = time.monotonic() + PAUSE_SECONDS
            log.warning("Content API failed (%s): menus go as numbered text for %d s",
                        getattr(error, "code", None) or type(error).__name__, PAUSE_SECONDS)
            return None, False
        sid = str(created["sid"])
        with self.session() as session:
            session.add(WhatsAppContent(key=request.key, content_sid=sid, kind=request.kind,
                                        language=request.language))
            try:
                session.commit()
            except IntegrityError:  # another process made the same content at the same moment
                session.rollback()
                sid = session.scalar(select(WhatsAppContent.content_sid).where(WhatsAppContent.key == request.key))
        log.info("created %s content %s for %s", request.kind, sid, request.language)
        if sid:
            self._remember(request.key, sid)
        return sid, True

    def _remember(self, key: str, sid: str) -> None:
        if len(self._known) >= KNOWN_SIZE:
            self._known.clear()
        self._known[key] = sid

    def forget(self, request: ContentRequest) -> None:
        """Twilio refused the content when sending: the next menu like it makes a new one."""
        self._known.pop(request.key, None)
        with self.session() as session:
            session.query(WhatsAppContent).filter(WhatsAppContent.key == request.key).delete()
            session.commit()
