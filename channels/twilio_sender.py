"""Sending through Twilio's Messages API with the official SDK.

Failures are told apart by whether the request can have reached Twilio: a refused connection,
a failed DNS lookup or a connect timeout cannot (re-raised as they are, the queue retries), nor
can an answer with an error status (429/5xx re-raised, 4xx with a known code permanent). A read
timeout or a connection dropped after the request was written can: that is `MaybeSent`, and
delivery reconciles it (delivery/send.py) instead of sending again.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime

from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import ConnectTimeout, ReadTimeout
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.exceptions import NewConnectionError

from bot.menus import layout
from bot.messages import prompt_of
from channels.base import MaybeSent, Outgoing, PermanentFailure, Sent
from channels.twilio_content import ContentCatalog, ContentRequest, content_request

log = logging.getLogger(__name__)
# Error codes that will not change on a retry (Twilio's error dictionary).
PERMANENT = {21211, 21408, 21610, 21614, 63003, 63014, 63016, 63024, 63032}
# Refusals because of the recipient (not the content): numbered text would be refused the same way.
RECIPIENT = {"21211", "21408", "21610", "21614", "63003", "63014", "63016", "63024", "63032"}


class TwilioChannel:
    name = "twilio"

    def __init__(self, account_sid: str, auth_token: str, whatsapp_number: str, status_callback: str,
                 api_base_url: str = "", timeout: float = 15, sms_number: str = "", session_factory=None,
                 list_button: Callable[[str], str] = lambda language: "Choose", content_base_url: str = ""):
        """`api_base_url` points every Twilio host called (messages and content) elsewhere, at a
        mock; `content_base_url` only the Content API. Without `session_factory` (no shared
        cache of contents) menus go as numbered text."""
        # One pooled HTTP session per channel (TwilioHttpClient keeps a requests.Session): sends
        # reuse kept-alive connections instead of a TLS handshake each.
        self.client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout))
        if api_base_url:
            self.client.api.base_url = api_base_url.rstrip("/")
        if content_base_url or api_base_url:
            self.client.content.base_url = (content_base_url or api_base_url).rstrip("/")
        self.contents = ContentCatalog(self.client, session_factory) if session_factory is not None else None
        self.list_button = list_button
        self.sender = whatsapp_number if whatsapp_number.startswith("whatsapp:") else f"whatsapp:{whatsapp_number}"
        self.status_callback = status_callback
        self.sms_number = sms_number

    def _addresses(self, message: Outgoing) -> tuple[str, str]:
        """(from, to) as Twilio wants them for this message."""
        if message.sms:
            if not self.sms_number:
                raise PermanentFailure("sms", "TWILIO_SMS_NUMBER is not set")
            return self.sms_number, message.to
        return self.sender, f"whatsapp:{message.to}"

    def menu_request(self, message: Outgoing) -> tuple[ContentRequest, str] | None:
        """A menu as a content to send (with the text above its buttons), or None for text."""
        if not (message.options and self.contents) or message.sms or message.content_sid or message.media_url \
                or message.location:
            return None
        prompt = prompt_of(message.body or "", [option["label"] for option in message.options])
        menu = layout(prompt, list(message.options)) if prompt else None
        if menu is None:
            return None
        language = message.language or "en"
        return content_request(menu, language, self.list_button(language)), menu.body

    def send(self, message: Outgoing) -> Sent:
        """A menu goes as reply buttons or a list picker; whatever stops that (the Content API
        failing, Twilio refusing the content) sends the numbered text instead."""
        menu = self.menu_request(message)
        if menu is not None:
            request, prompt = menu
            sid = self.contents.sid_for(request)
            if sid:
                try:
                    return self._send(message, content=(sid, {"1": prompt}))
                except PermanentFailure as refused:
                    if refused.code in RECIPIENT:
                        raise
                    log.warning("Twilio refused menu content %s (%s): sending numbered text", sid, refused.code)
                    self.contents.forget(request)
        return self._send(message)

    def _send(self, message: Outgoing, content: tuple[str, dict] | None = None) -> Sent:
        sender, to = self._addresses(message)
        callback = self.status_callback
        if message.callback_query:
            callback = f"{callback}?{message.callback_query}"
        arguments = {"from_": sender, "to": to, "status_callback": callback}
        content_sid, variables = content or (message.content_sid, message.content_variables)
        if content_sid:
            arguments["content_sid"] = content_sid
            if variables:
                arguments["content_variables"] = json.dumps(variables)
        else:
            arguments["body"] = message.body or ""
        if message.media_url:
            arguments["media_url"] = [message.media_url]
        if message.location and not message.sms:
            pin = message.location
            arguments["persistent_action"] = [f"geo:{pin['latitude']},{pin['longitude']}|{pin.get('label', '')}"]
        try:
            created = self.client.messages.create(**arguments)
        except TwilioRestException as error:
            if error.code in PERMANENT or error.status in (400, 404) and error.code:
                raise PermanentFailure(str(error.code), error.msg or "refused") from None
            raise
        except ConnectTimeout:
            raise
        except ReadTimeout as error:
            raise MaybeSent("no answer in time") from error
        except RequestsConnectionError as error:
            if _before_sending(error):
                raise
            raise MaybeSent("connection dropped") from error
        return Sent(provider_sid=created.sid, status=created.status or "queued")

    def find_sent(self, message: Outgoing, since: datetime) -> list[Sent]:
        """Messages Twilio has from our sender to this recipient, created at or after `since`,
        oldest first. Twilio lists newest first; a person gets few messages a minute, so one
        page reaches back far enough."""
        sender, to = self._addresses(message)
        found = self.client.messages.list(to=to, from_=sender, limit=50)
        recent = [m for m in found if m.date_created is None or m.date_created >= since]
        recent.sort(key=lambda m: (m.date_created or since))
        return [Sent(provider_sid=m.sid, status=m.status or "queued") for m in recent]


def _before_sending(error: RequestsConnectionError) -> bool:
    """True when the connection was never made (refused, no such host), so nothing was sent."""
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, NewConnectionError) or isinstance(error.args[0] if error.args else None,
                                                                NewConnectionError)
