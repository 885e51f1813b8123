"""Partner organisations by name, as people and staff type them.

"Stichting Hulp", "stichting  hulp " and "STICHTING HULP" are one partner: a name typed in the
chat, in an import's partner column or form, or for a partner's staff account is linked to the
partner already known under that name, ignoring case and spacing, rather than making a second
partner that splits its people in two. There are a few dozen partners at most, so they are
compared here rather than by a normalised column.
"""
from __future__ import annotations

from sqlalchemy import select

from store.models import Partner

MAX_NAME = 120


def same_name(name: str | None) -> str:
    return " ".join((name or "").split()).casefold()


def known_partner(session, name: str | None) -> Partner | None:
    """The partner known by this name (case and spacing aside), or None."""
    wanted = same_name(name)
    if not wanted:
        return None
    return next((partner for partner in session.scalars(select(Partner).order_by(Partner.id))
                 if same_name(partner.name) == wanted), None)


def partner_for_name(session, name: str) -> Partner:
    """The known partner of that name, or a new one under the name as typed (spacing tidied)."""
    found = known_partner(session, name)
    if found is None:
        found = Partner(name=" ".join(name.split())[:MAX_NAME])
        session.add(found)
        session.flush()
    return found
