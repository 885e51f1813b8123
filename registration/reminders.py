"""Unfinished registrations get one reminder, then expire, so nobody is left half-way
without a word and no half-filled record is kept longer than needed."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.i18n import N_
from registration.lifecycle import change_status, notify_person
from store import conversations
from store.models import Registration, utcnow

REMINDER = N_("You started to register for {program} but did not finish. Write REGISTER to continue "
              "where you stopped.")


def remind_and_expire(runtime, actor: str = "system") -> dict[str, int]:
    settings = runtime.settings.registration
    now = utcnow()
    counts = {"reminded": 0, "expired": 0, "not reminded": 0}
    contacts = set()
    with runtime.session() as session:
        unfinished = session.scalars(select(Registration).where(Registration.status == "registering"))
        for registration in unfinished:
            idle_since = registration.updated_at
            if idle_since.tzinfo is None:
                idle_since = idle_since.replace(tzinfo=now.tzinfo)
            if now - idle_since >= timedelta(days=settings.expire_after_days):
                registration.name = registration.partner_named = None
                registration.consent_at = registration.reminded_at = None
                registration.number_confirmed = False
                back = "invited" if registration.invited_at else "ended"
                change_status(session, registration, back, actor=actor,
                              reason=f"registration not finished in {settings.expire_after_days} days")
                conversations.forget(session, registration.contact_id)
                counts["expired"] += 1
            elif registration.reminded_at is None and \
                    now - idle_since >= timedelta(hours=settings.remind_after_hours):
                outcome = notify_person(session, runtime, registration.contact, REMINDER,
                                        template="registration_reminder")
                registration.reminded_at = now
                registration.updated_at = idle_since  # a reminder is not the person's activity
                if outcome.startswith("sent"):
                    counts["reminded"] += 1
                    contacts.add(registration.contact_id)
                else:
                    counts["not reminded"] += 1
        session.commit()
    runtime.tasks.send_bulk(contacts)
    return counts
