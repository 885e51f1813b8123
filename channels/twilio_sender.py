"""Sending through Twilio's Messages API with the official SDK."""
from __future__ import annotations

import json

from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from channels.base import Outgoing, PermanentFailure, Sent

# Error codes that will not change on a retry (Twilio's error dictionary).
PERMANENT = {21211, 21408, 21610, 21614, 63003, 63014, 63016, 63024, 63032}


class TwilioChannel:
    name = "twilio"

    def __init__(self, account_sid: str, auth_token: str, whatsapp_number: str, status_callback: str,
                 api_base_url: str = "", timeout: float = 15, sms_number: str = ""):
        self.client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout))
        if api_base_url:
            self.client.api.base_url = api_base_url.rstrip("/")
        self.sender = whatsapp_number if whatsapp_number.startswith("whatsapp:") else f"whatsapp:{whatsapp_number}"
        self.status_callback = status_callback
        self.sms_number = sms_number

    def send(self, message: Outgoing) -> Sent:
        if message.sms:
            if not self.sms_number:
                raise PermanentFailure("sms", "TWILIO_SMS_NUMBER is not set")
            arguments = {"from_": self.sms_number, "to": message.to, "status_callback": self.status_callback}
        else:
            arguments = {"from_": self.sender, "to": f"whatsapp:{message.to}", "status_callback": self.status_callback}
        if message.content_sid:
            arguments["content_sid"] = message.content_sid
            if message.content_variables:
                arguments["content_variables"] = json.dumps(message.content_variables)
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
        return Sent(provider_sid=created.sid, status=created.status or "queued")
