"""Importing a partner's list of phone numbers.

Each row is checked on its own: a bad number, an unknown language or a repeated number is
reported with its line and reason and skipped, the rest are imported. A number already in
the program is left as it is, so importing the same file twice changes nothing.

The report must not tell a partner who else is in the program: a number that wrote to the
chat, or that another partner brought, counts as accepted like a new one. Only numbers on the
partner's own earlier lists are counted apart ("already on your list"), which they know anyway.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import phonenumbers
from sqlalchemy import insert, select

from registration.lifecycle import new_join_code
from store.models import PHONE, Contact, ContactIdentifier, Partner, Registration, RegistrationEvent, utcnow
from store.personal import data_keys, lookup_key, seal
from store.sealing import contact_key

PHONE_COLUMNS = ("phone", "phone number", "telefoon", "number", "mobile")
LANGUAGE_COLUMNS = ("language", "preferred language", "taal", "lang")
REFERENCE_COLUMNS = ("partner reference", "reference", "partner_ref", "ref", "referentie")
BATCH = 2000


@dataclass
class ImportReport:
    accepted: int = 0       # new to the program, or known from elsewhere: the partner cannot tell which
    already_yours: int = 0  # on this partner's own earlier list
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "already_yours": self.already_yours,
                "rejected": [{"line": line, "reason": reason} for line, reason in self.rejected]}


class ImportError_(ValueError):
    """The file as a whole cannot be read (not its rows)."""


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [h.strip().lower().lstrip("\ufeff") for h in header]
    return next((lowered.index(n) for n in names if n in lowered), None)


def read_rows(text: str):
    """(line number, phone, language, reference) for each data row."""
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportError_("the file is empty") from None
    phone = _column(header, PHONE_COLUMNS)
    if phone is None:
        raise ImportError_(f"no phone column in the header (expected one of: {', '.join(PHONE_COLUMNS)})")
    language, reference = _column(header, LANGUAGE_COLUMNS), _column(header, REFERENCE_COLUMNS)
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        yield reader.line_num, _cell(row, phone), _cell(row, language).lower(), _cell(row, reference)


def _cell(row: list[str], index: int | None) -> str:
    return row[index].strip() if index is not None and index < len(row) else ""


def import_contacts(session, text: str, *, partner_name: str, secret: str, region: str, languages: list[str],
                    actor: str, progress=None) -> ImportReport:
    partner = session.scalar(select(Partner).where(Partner.name == partner_name))
    if partner is None:
        partner = Partner(name=partner_name)
        session.add(partner)
        session.flush()
    report, seen, batch = ImportReport(), {}, []
    for line, raw_phone, language, reference in read_rows(text):
        if progress:
            progress(1)
        try:
            parsed = phonenumbers.parse(raw_phone, region)
            valid = phonenumbers.is_valid_number(parsed)
        except phonenumbers.NumberParseException:
            valid = False
        if not valid:
            report.rejected.append((line, "not a valid phone number"))
            continue
        phone = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if language and language not in languages:
            report.rejected.append((line, f"unknown language {language!r} (known: {', '.join(languages)})"))
            continue
        key = lookup_key(secret, phone)
        if key in seen:
            report.rejected.append((line, f"the same number as line {seen[key]}"))
            continue
        seen[key] = line
        batch.append((key, phone, language or None, reference or None))
        if len(batch) >= BATCH:
            _store(session, batch, partner, actor, report)
            batch = []
    _store(session, batch, partner, actor, report)
    return report


def _store(session, batch, partner: Partner, actor: str, report: ImportReport) -> None:
    if not batch:
        return
    keys = [key for key, *_ in batch]
    contacts = {key: contact for key, contact in session.execute(
        select(ContactIdentifier.key, Contact).join(Contact, ContactIdentifier.contact_id == Contact.id)
        .where(ContactIdentifier.key.in_(keys)))}
    found = session.execute(select(Registration.contact_id, Registration.partner_id).where(
        Registration.contact_id.in_([c.id for c in contacts.values()])))
    registered = {contact_id: partner_id for contact_id, partner_id in found}
    new = [(key, phone, language) for key, phone, language, _ in batch if key not in contacts]
    if new:
        now = utcnow()
        keys = data_keys().create(len(new))
        ids = session.scalars(insert(Contact).returning(Contact.id, sort_by_parameter_order=True), [
            {"language": language, "opted_out": False, "created_at": now, "data_key_id": key}
            for (_, _, language), key in zip(new, keys, strict=True)]).all()
        session.execute(insert(ContactIdentifier), [
            {"contact_id": contact_id, "kind": PHONE, "key": key, "value": seal(phone, data_key), "created_at": now}
            for contact_id, (key, phone, _), data_key in zip(ids, new, keys, strict=True)])
        made = {contact.id: contact for contact in session.scalars(select(Contact).where(Contact.id.in_(ids)))}
        contacts.update((key, made[contact_id]) for contact_id, (key, _, _) in zip(ids, new, strict=True))
    rows = []
    for key, _phone, language, reference in batch:
        contact = contacts[key]
        if contact.id in registered:
            if registered[contact.id] == partner.id:
                report.already_yours += 1
            else:
                report.accepted += 1
            continue
        if language and not contact.language:
            contact.language = language
        data_key = contact.data_key_id or contact_key(session.connection(), contact.id)
        rows.append({"contact_id": contact.id, "partner_id": partner.id,
                     "partner_ref": reference and seal(reference, data_key),
                     "status": "imported", "join_code": new_join_code(), "number_confirmed": False,
                     "created_at": utcnow(), "updated_at": utcnow()})
    if rows:
        session.execute(insert(Registration), rows)
        ids = session.execute(select(Registration.id).where(
            Registration.contact_id.in_([r["contact_id"] for r in rows]))).scalars().all()
        session.execute(insert(RegistrationEvent), [
            {"registration_id": rid, "from_status": None, "to_status": "imported", "actor": actor,
             "reason": f"imported from {partner.name}", "at": utcnow()} for rid in ids])
        report.accepted += len(rows)
    session.flush()
