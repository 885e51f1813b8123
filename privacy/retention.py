"""Keeping personal data only as long as it is needed (config.yml `privacy`).

- Message texts are erased after `message_days`; the rows stay (direction, kind, dates,
  status) because the program's statistics need them and they say nothing about what was
  written.
- A registration without activity for `inactive_months` gets one warning, and the person is
  erased `warning_days` later unless they write in between. Activity is the person's last
  message to us or the last change to their registration (a staff change counts: someone is
  working on it). The warning is recorded as a registration event, so it survives restarts,
  shows in the registration's history, and a new period of silence gets a new warning.
- Someone who wrote but never registered has nothing to lose by erasure: after
  `inactive_months` without a message they are erased without a warning.
- A chat erasure whose confirmation could not be delivered within a day is completed.
- Status callbacks for sends never recorded (kept in case the send's record was late) go after a day.
- A contact whose data key is destroyed was erased; its rows are back only because a backup
  from before was restored (and can be read by nobody). They are removed, so a restore
  brings back no one.

`flask privacy purge` runs this; so do the workers, once a day across all of them
(jobs/scheduled.py, guarded by a Redis key).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, select, update

from bot.i18n import N_
from privacy.erase import erase
from privacy.replays import purge_forgotten
from registration.lifecycle import notify_person
from store import conversations
from store.models import Contact, EarlyStatus, Message, OutboxItem, Registration, RegistrationEvent, utcnow

log = logging.getLogger(__name__)

WARNING = N_("We have not heard from you for a long time. To protect your privacy, we will delete your "
             "registration and everything we know about you in {days} days. If you want to stay in {program}, "
             "send us any message before then.")
WARNED = "inactivity warning"  # the reason of the registration event that records a warning
ACTOR = "privacy"
MONTH = timedelta(days=30)
UNCONFIRMED_ERASURE = timedelta(days=1)
STRAY_STATUS_AGE = timedelta(days=1)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=utcnow().tzinfo)
    return moment


def purge(runtime, now: datetime | None = None) -> dict[str, int]:
    """Apply every retention limit once; returns what was done, for the operator."""
    settings = runtime.settings.privacy
    now = now or utcnow()
    counts = {"message texts erased": 0, "warned": 0, "warnings not sent": 0, "registrations erased": 0,
              "contacts erased": 0, "erasures completed": 0, "conversations expired": 0,
              "stray status callbacks removed": 0, "replay guards expired": 0}
    counts["message texts erased"] = erase_old_texts(runtime, now - timedelta(days=settings.message_days))
    counts["stray status callbacks removed"] = remove_stray_statuses(runtime, now - STRAY_STATUS_AGE)
    with runtime.session() as session:
        counts["conversations expired"] = conversations.forget_untouched_since(
            session, now - timedelta(hours=runtime.settings.conversation.state_ttl_hours))
        counts["replay guards expired"] = purge_forgotten(session, settings.replay_days)
        session.commit()
    inactive_since = now - settings.inactive_months * MONTH
    warned_contacts = []
    to_erase: list[tuple[int, str]] = []
    with runtime.session() as session:
        inactive = session.scalars(select(Registration).join(Contact).where(
            Registration.status != "deleted", Registration.updated_at < inactive_since,
            (Contact.last_inbound_at.is_(None)) | (Contact.last_inbound_at < inactive_since))).all()
        for registration in inactive:
            contact = registration.contact
            active = max(m for m in (_aware(contact.last_inbound_at), _aware(registration.updated_at)) if m)
            warned = _aware(session.scalar(select(func.max(RegistrationEvent.at)).where(
                RegistrationEvent.registration_id == registration.id, RegistrationEvent.actor == ACTOR,
                RegistrationEvent.reason.startswith(WARNED))))
            if warned is None or warned < active:
                outcome = _warn(session, runtime, registration, settings.warning_days)
                if outcome.startswith("sent"):
                    counts["warned"] += 1
                    warned_contacts.append(contact.id)
                else:
                    counts["warnings not sent"] += 1
            elif now - warned >= timedelta(days=settings.warning_days):
                to_erase.append((contact.id, "registrations erased"))
        session.commit()
        strangers = session.scalars(select(Contact.id).where(
            Contact.erased_at.is_(None), Contact.created_at < inactive_since,
            (Contact.last_inbound_at.is_(None)) | (Contact.last_inbound_at < inactive_since),
            ~exists().where(Registration.contact_id == Contact.id)))
        to_erase += [(contact_id, "contacts erased") for contact_id in strangers]
        unconfirmed = session.scalars(select(Contact.id).where(Contact.erased_at < now - UNCONFIRMED_ERASURE))
        to_erase += [(contact_id, "erasures completed") for contact_id in unconfirmed]
        keyed = session.execute(select(Contact.id, Contact.data_key_id).where(Contact.data_key_id.is_not(None))).all()
        shredded = runtime.data_keys.shredded(key_id for _, key_id in keyed)
        to_erase += [(contact_id, "erasures completed") for contact_id, key_id in keyed if key_id in shredded]
    for contact_id, what in to_erase:
        if _erase_now(runtime, contact_id, inactive_since):
            counts[what] += 1
    runtime.tasks.send_bulk(warned_contacts)
    return counts


def remove_stray_statuses(runtime, before: datetime) -> int:
    """Status callbacks kept for a send that was never recorded: after a day none will come."""
    with runtime.session() as session:
        removed = session.execute(delete(EarlyStatus).where(EarlyStatus.received_at < before)).rowcount
        session.commit()
    return removed or 0


def erase_old_texts(runtime, before: datetime) -> int:
    """Blank the texts of messages written before `before`, except replies still waiting to go."""
    waiting = exists().where(OutboxItem.message_id == Message.id, OutboxItem.state.in_(("pending", "sending")))
    with runtime.session() as session:
        erased = session.execute(update(Message).where(Message.created_at < before, Message.body.is_not(None),
                                                       ~waiting).values(body=None)
                                 .execution_options(synchronize_session=False)).rowcount
        session.commit()
    return erased or 0


def _warn(session, runtime, registration: Registration, days: int) -> str:
    contact = registration.contact
    language = contact.language or runtime.settings.languages.source
    # Translated here because the text has a value notify_person does not fill in; it then
    # passes through notify_person's translation unchanged (no catalog has it as a source).
    text = runtime.translator.text(WARNING, language, days=days, **runtime.settings.placeholders())
    outcome = notify_person(session, runtime, contact, text, template="inactivity_warning",
                            variables={"1": str(days)})
    session.add(RegistrationEvent(registration=registration, from_status=registration.status,
                                  to_status=registration.status, actor=ACTOR,
                                  reason=f"{WARNED}: erased after {days} days without activity ({outcome})"))
    return outcome


def _erase_now(runtime, contact_id: int, inactive_since: datetime) -> bool:
    """Erase under the person's conversation lock, after checking again that they did not
    write meanwhile (a message that arrives during the purge wins)."""
    with runtime.locks.hold(contact_id), runtime.session() as session:
        contact = session.get(Contact, contact_id)
        if contact is None:
            return False
        last = _aware(contact.last_inbound_at)
        if contact.erased_at is None and last is not None and last >= inactive_since and contact.phone is not None:
            return False
        erase(session, contact)
        session.commit()
    return True

