"""Finding a person on the registrations list: by phone number, by name, or by partner reference.

A phone number is never compared as text: what staff type is read as a number (any way people
write one, in the program's region), then looked up by its keyed hash exactly as an incoming
message is (store.identifiers.find_contact_id), so the plain number is neither stored nor sent
to the database.

Names and partner references are encrypted under each person's own data key, so the database
cannot compare them. They are decrypted here and compared in Python, within a bounded scan:
the other filters (status, partner, language, date, and a partner user's own people) narrow
the rows in SQL first, then at most SCAN_LIMIT of them, newest first, are read. Why not a
keyed "blind index" of names: it answers exact words only, while staff type part of a name,
with or without accents, in any script, and a person's name changes as they register; an
index would have to be kept right by every path that writes a name (the chat, imports,
erasure) and would add a comparable hash of each name to every backup. At this program's
scale (thousands of people) the scan costs a few tenths of a second (about 0.3 s for 5,000
references on one core; tests/test_staff_work.py measures it), and when a search would read
more than SCAN_LIMIT rows the page says so and asks for a narrower filter instead of going
slow or silently missing people.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from channels.twilio_payload import BadRequest, phone_from_address
from store.identifiers import find_contact_id
from store.models import Registration

SCAN_LIMIT = 20_000
MIN_TEXT = 2
KINDS = ("any", "phone", "name", "reference")
# Digits with the separators people type in numbers; at least six digits (checked below).
PHONE_LIKE = re.compile(r"\+?[\d\s().\-/]+")


class SearchError(ValueError):
    """What staff typed cannot be searched for; the message says why, without echoing a number."""


@dataclass
class Found:
    """The registrations matching a search, newest first, and whether the scan stopped early."""

    ids: list[int] = field(default_factory=list)
    how: str = ""          # what was searched, for the page and the audit log (never the term itself)
    truncated: bool = False


def folded(text: str | None) -> str:
    """Case, accents and spacing do not matter: 'José  Núñez' finds 'jose nunez'."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def looks_like_phone(term: str) -> bool:
    return bool(PHONE_LIKE.fullmatch(term)) and sum(ch.isdigit() for ch in term) >= 6


def normalise_phone(term: str, region: str) -> str:
    """The number in E.164, read as the chat and `flask registrations set-status --phone` read it."""
    try:
        return phone_from_address(f"whatsapp:{term}", region)
    except BadRequest:
        raise SearchError("That is not a phone number we can read. Type it with its country code, "
                          "such as +31 6 1234 5678.") from None


def search(session, query, term: str, kind: str, region: str) -> Found:
    """The ids of the registrations in `query` (a select of Registration, already filtered and
    narrowed to what the user may see) that match `term`."""
    term = term.strip()
    if kind not in KINDS:
        raise SearchError("Choose what to search by: phone, name or partner reference.")
    if kind == "phone" or (kind == "any" and looks_like_phone(term)):
        try:
            contact_id = find_contact_id(session.connection(), normalise_phone(term, region))
        except SearchError:
            if kind == "phone":
                raise
            contact_id = None
        ids = [] if contact_id is None else list(session.scalars(
            query.with_only_columns(Registration.id).where(Registration.contact_id == contact_id)))
        if ids or kind == "phone":
            return Found(ids=ids, how="phone number")
        # Nobody has that number: it may be a reference of digits, so those are searched too.
    needle = folded(term)
    if len(needle) < MIN_TEXT:
        raise SearchError(f"Type at least {MIN_TEXT} letters of a name or reference.")
    fields = {"name": (Registration.name,), "reference": (Registration.partner_ref,)}.get(
        kind, (Registration.name, Registration.partner_ref))
    rows = session.execute(query.with_only_columns(Registration.id, *fields).order_by(Registration.id.desc())
                           .limit(SCAN_LIMIT + 1)).all()
    truncated = len(rows) > SCAN_LIMIT
    ids = [row[0] for row in rows[:SCAN_LIMIT] if any(needle in folded(value) for value in row[1:] if value)]
    how = {"name": "name", "reference": "partner reference"}.get(kind, "name or partner reference")
    return Found(ids=ids, how=how, truncated=truncated)
