"""The port every channel adapter implements."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Outgoing:
    to: str  # a phone number (E.164) or a WhatsApp business-scoped user ID (NL.1349…)
    body: str | None = None
    media_url: str | None = None
    content_sid: str | None = None
    content_variables: dict | None = None
    location: dict | None = None  # a map pin: latitude, longitude, label
    sms: bool = False  # a text message rather than WhatsApp (invitations to people not yet on it)
    callback_query: str = ""  # names the outbox row in the status callback URL (its idempotency key)
    options: tuple[dict, ...] | None = None  # a menu's options ({payload, label, short?}); `body` is its numbered text
    language: str | None = None  # the recipient's, for buttons and lists in their language


@dataclass(frozen=True)
class Sent:
    provider_sid: str
    status: str  # the status the provider gave at once: queued, accepted, delivered…


class PermanentFailure(Exception):
    """The provider refused the message and retrying will not help."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


class MaybeSent(Exception):
    """The request may have reached the provider (a read timeout, a connection dropped after
    sending): sending again could send twice, so the caller must find out instead."""


class Channel(Protocol):
    name: str

    def send(self, message: Outgoing) -> Sent: ...
