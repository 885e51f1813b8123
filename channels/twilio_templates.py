"""Approved WhatsApp templates through Twilio's Content API: made, submitted and checked.

Outside the 24-hour window WhatsApp delivers only templates Meta approved in advance, per
language. `flask whatsapp sync` makes each template the service needs (config.yml `templates:`)
in every served language from the same gettext texts the bot sends inside the window, submits it
for WhatsApp approval (category UTILITY) and records WhatsApp's answer in `whatsapp_templates`;
run again, it asks for the approval state of those still waiting. The service uses a template
once it is approved (runtime.merge_approved_templates), so no Content SID is copied by hand;
a SID written in config.yml still wins, for an account whose templates were made elsewhere.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import select

from channels.twilio_content import ContentRequest
from store.models import WhatsAppTemplate, utcnow

QUICK_REPLY, TEXT = "twilio/quick-reply", "twilio/text"
CATEGORY = "UTILITY"
WAITING = ("received", "pending", "unsubmitted")  # asked again on the next sync
JSON = {"Content-Type": "application/json", "Accept": "application/json"}


@dataclass(frozen=True)
class TemplateText:
    """What one template says: a gettext text, which of its {placeholders} are the template's
    variables ({{1}}, …: filled per message), and the payload of its one quick-reply button."""

    text: str
    variables: dict[str, str]
    button: tuple[str, str] | None = None  # (payload, title text to translate)


def template_request(name: str, language: str, body: str, button: tuple[str, str] | None,
                     samples: dict[str, str]) -> ContentRequest:
    if button:
        types = {QUICK_REPLY: {"body": body, "actions": [{"type": "QUICK_REPLY", "title": button[1],
                                                          "id": button[0]}]}}
    else:
        types = {TEXT: {"body": body}}
    key = hashlib.sha256(json.dumps({"name": name, "language": language, "types": types}, sort_keys=True,
                                    ensure_ascii=False).encode()).hexdigest()
    return ContentRequest(key=key, kind="template", language=language, body={
        "friendly_name": f"dda_{name}_{language}", "language": language, "variables": samples, "types": types})


def submit(client, content_sid: str, name: str, language: str) -> tuple[str, str | None]:
    """Ask WhatsApp to approve the content; (status, rejection reason)."""
    answer = client.content.v1.create("POST", f"/Content/{content_sid}/ApprovalRequests/whatsapp",
                                      data={"name": f"dda_{name}_{language}", "category": CATEGORY}, headers=JSON)
    return str(answer.get("status") or "received"), answer.get("rejection_reason") or None


def approval(client, content_sid: str) -> tuple[str, str | None]:
    """WhatsApp's current answer for the content: (status, rejection reason)."""
    answer = client.content.v1.fetch("GET", f"/Content/{content_sid}/ApprovalRequests", headers=JSON)
    whatsapp = answer.get("whatsapp") or {}
    return str(whatsapp.get("status") or "unsubmitted"), whatsapp.get("rejection_reason") or None


def record(session, name: str, language: str, request: ContentRequest, content_sid: str, status: str,
           reason: str | None) -> WhatsAppTemplate:
    row = session.get(WhatsAppTemplate, (name, language))
    if row is None:
        row = WhatsAppTemplate(name=name, language=language)
        session.add(row)
    row.content_sid, row.body_key, row.status = content_sid, request.key, status
    row.rejection_reason, row.checked_at = (reason or None) and reason[:500], utcnow()
    return row


def approved(session) -> dict[str, dict[str, str]]:
    """Template name -> language -> Content SID, of every template WhatsApp approved."""
    found: dict[str, dict[str, str]] = {}
    for name, language, sid in session.execute(select(WhatsAppTemplate.name, WhatsAppTemplate.language,
                                                      WhatsAppTemplate.content_sid)
                                               .where(WhatsAppTemplate.status == "approved")):
        found.setdefault(name, {})[language] = sid
    return found


def merge(templates: dict[str, dict[str, str]], found: dict[str, dict[str, str]]) -> int:
    """Add approved SIDs to config's `templates:` where config names none; how many were added."""
    added = 0
    for name, languages in found.items():
        known = templates.setdefault(name, {})
        for language, sid in languages.items():
            if language not in known:
                known[language] = sid
                added += 1
    return added
