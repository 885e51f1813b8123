"""The statuses a registration moves through, and the only allowed moves between them.

Every change is recorded (who, when, why) and can tell the person in their language
(delivery/notices.py decides free text or the approved template).
"""
from __future__ import annotations

import secrets

from sqlalchemy import select

from bot.i18n import N_
from delivery.notices import Notice, send_notice
from store.models import Contact, Registration, RegistrationEvent

STATUSES = ("imported", "invited", "registering", "registered", "verified", "included",
            "paused", "declined", "ended", "deleted")
TRANSITIONS = {
    None: {"imported", "registering"},
    "imported": {"invited", "registering", "deleted"},
    "invited": {"invited", "registering", "deleted"},
    "registering": {"registered", "invited", "ended", "deleted"},
    "registered": {"verified", "declined", "paused", "deleted"},
    "verified": {"included", "declined", "paused", "deleted"},
    "included": {"paused", "ended", "deleted"},
    "paused": {"included", "verified", "ended", "deleted"},
    "declined": {"registered", "deleted"},
    "ended": {"registering", "deleted"},
    "deleted": set(),
}
NOTICES = {
    "verified": N_("Good news: your registration has been checked. We will tell you here when your vouchers start."),
    "included": N_("You are now in the program. Your weekly supermarket voucher will come here in WhatsApp."),
    "paused": N_("Your vouchers are paused for now. If you have questions, write HUMAN to talk to a person."),
    "declined": N_("We are sorry: we cannot include you in the program now. Write HUMAN if you want to talk "
                   "to a person about it."),
    "ended": N_("Your place in the program has ended. Thank you. Write HUMAN if you have questions."),
}


class TransitionError(ValueError):
    pass


def new_join_code() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
    return "".join(secrets.choice(alphabet) for _ in range(10))  # 32^10: no collision in practice


def change_status(session, registration: Registration, to: str, *, actor: str, reason: str,
                  runtime=None, notify: bool = False) -> RegistrationEvent:
    if to not in STATUSES:
        raise TransitionError(f"unknown status {to!r} (known: {', '.join(STATUSES)})")
    current = registration.status
    if to not in TRANSITIONS[current] and not (current == to == "invited"):
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none"
        raise TransitionError(f"cannot go from {current} to {to} (allowed: {allowed})")
    if not reason or not reason.strip():
        raise TransitionError("a reason is required")
    registration.status = to
    event = RegistrationEvent(registration=registration, from_status=current, to_status=to, actor=actor,
                              reason=reason.strip()[:500])
    session.add(event)
    if notify and runtime is not None and to in NOTICES:
        notify_person(session, runtime, registration.contact, NOTICES[to], template=f"status_{to}")
    return event


def notify_person(session, runtime, contact: Contact, text: str, *, template: str,
                  variables: dict[str, str] | None = None) -> str:
    """Tell a person something in their language, as delivery/notices.py decides: free text
    within the 24-hour window, the approved template outside it, or nothing until they write."""
    if contact.opted_out or contact.erased_at or contact.unreachable_at:
        return "not sent: opted out"
    registration = registration_for(session, contact.id)
    if registration is not None and registration.no_whatsapp:  # registered at the desk, served on paper
        return "not sent: no WhatsApp"
    routed, _ = send_notice(session, runtime.settings, runtime.translator, contact,
                            Notice(text=text, template=template, variables=variables))
    return f"not sent: {routed.why_not}" if routed.how == "hold" else f"sent as {routed.how}"


def resumed_status(registration: Registration) -> str:
    """Where a paused registration goes back to: the status it was paused from (verified people
    are not included by a resume), included if its history does not say."""
    pauses = [event for event in registration.events if event.to_status == "paused"]
    before = max(pauses, key=lambda event: (event.at, event.id or 0)).from_status if pauses else None
    return before if before in TRANSITIONS["paused"] - {"ended", "deleted"} else "included"


def registration_for(session, contact_id: int) -> Registration | None:
    return session.scalar(select(Registration).where(Registration.contact_id == contact_id))
