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
import unicodedata
from dataclasses import dataclass, field

import phonenumbers
from sqlalchemy import insert, select

from registration.lifecycle import new_join_code
from registration.partners import known_partner, partner_for_name
from store.models import PHONE, Contact, ContactIdentifier, Partner, Registration, RegistrationEvent, utcnow
from store.personal import data_keys, lookup_key, seal
from store.sealing import contact_key

# Header names as partners write them, in English, Dutch and French; compared without case,
# accents, spaces, dashes or underscores ("Téléphone", "telefoon-nummer", "partner_ref").
PHONE_COLUMNS = ("phone", "phone number", "telephone", "telephone number", "mobile", "mobile number", "number",
                 "whatsapp", "whatsapp number", "telefoon", "telefoonnummer", "tel", "mobiel", "mobiel nummer",
                 "gsm", "nummer", "numero", "numero de telephone", "portable")
LANGUAGE_COLUMNS = ("language", "preferred language", "lang", "taal", "voorkeurstaal", "langue",
                    "langue preferee")
REFERENCE_COLUMNS = ("partner reference", "reference", "partner ref", "ref", "referentie", "kenmerk",
                     "dossiernummer", "reference partenaire", "dossier")
NAME_COLUMNS = ("name", "full name", "naam", "volledige naam", "nom", "nom complet")
PARTNER_COLUMNS = ("partner", "partner organisation", "partner organization", "organisation", "organization",
                   "organisatie", "partnerorganisatie", "partenaire", "organisme")
BATCH = 2000
MAX_NAME = 200


@dataclass
class ImportReport:
    accepted: int = 0       # new to the program, or known from elsewhere: the partner cannot tell which
    already_yours: int = 0  # on this partner's own earlier list
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    # The offending value of each rejected line, for the staff member who uploaded the file only:
    # it may be a phone number, so it is never logged and not in as_dict (the CLI's --json).
    values: dict[int, str] = field(default_factory=dict)
    # A partner name typed in the file, and the known partner it was linked to (case and spacing aside).
    linked: dict[str, str] = field(default_factory=dict)

    def reject(self, line: int, reason: str, value: str = "") -> None:
        self.rejected.append((line, reason))
        if value:
            self.values[line] = value[:100]

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "already_yours": self.already_yours,
                "rejected": [{"line": line, "reason": reason} for line, reason in self.rejected]}


class ImportError_(ValueError):
    """The file as a whole cannot be read (not its rows)."""


def header_name(text: str) -> str:
    """'Téléphone ', 'TELEFOON-NUMMER' and 'partner_ref' as 'telephone', 'telefoonnummer', 'partner ref'."""
    bare = "".join(ch for ch in unicodedata.normalize("NFKD", text.lstrip("\ufeff"))
                   if not unicodedata.combining(ch))
    return " ".join(bare.casefold().replace("_", " ").replace("-", " ").replace(".", " ").split())


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    """The first column called one of `names`, spaces aside ('telefoon nummer' is 'telefoonnummer')."""
    found = [header_name(h).replace(" ", "") for h in header]
    return next((found.index(name.replace(" ", "")) for name in names if name.replace(" ", "") in found), None)


@dataclass(frozen=True)
class Row:
    line: int
    phone: str
    language: str = ""
    reference: str = ""
    name: str = ""
    partner: str = ""


def read_rows(text: str):
    """A Row for each data row that is not empty."""
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
        raise ImportError_(f"no phone column in the header (expected one of: {', '.join(PHONE_COLUMNS[:6])}, "
                           "telefoon, telefoonnummer, téléphone, numéro…)")
    columns = {field: _column(header, names) for field, names in (
        ("language", LANGUAGE_COLUMNS), ("reference", REFERENCE_COLUMNS), ("name", NAME_COLUMNS),
        ("partner", PARTNER_COLUMNS))}
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        yield Row(reader.line_num, _cell(row, phone), language=_cell(row, columns["language"]).lower(),
                  reference=_cell(row, columns["reference"]), name=" ".join(_cell(row, columns["name"]).split()),
                  partner=" ".join(_cell(row, columns["partner"]).split()))


def _cell(row: list[str], index: int | None) -> str:
    return row[index].strip() if index is not None and index < len(row) else ""


def import_contacts(session, text: str, *, partner_name: str | None, secret: str, region: str,
                    languages: list[str], actor: str, progress=None, only_partner: bool = False) -> ImportReport:
    """Import the rows of `text` for the partner `partner_name` (linked to the known partner of
    that name whatever its case and spacing), or for the partner a row names in its own partner
    column. `only_partner`: the uploader is that partner's own staff, so a row naming another
    partner is refused rather than put in another partner's care."""
    default = partner_for_name(session, partner_name) if partner_name and partner_name.strip() else None
    report, seen, batch = ImportReport(), {}, []
    partners: dict[str, Partner] = {}
    for row in read_rows(text):
        if progress:
            progress(1)
        try:
            parsed = phonenumbers.parse(row.phone, region)
            valid = phonenumbers.is_valid_number(parsed)
        except phonenumbers.NumberParseException:
            valid = False
        if not valid:
            report.reject(row.line, "not a valid phone number" if row.phone else "no phone number", row.phone)
            continue
        phone = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if row.language and row.language not in languages:
            report.reject(row.line, f"unknown language {row.language!r} (known: {', '.join(languages)})",
                          row.language)
            continue
        if len(row.name) > MAX_NAME:
            report.reject(row.line, f"the name is longer than {MAX_NAME} characters", row.name)
            continue
        partner = default
        if row.partner:
            if row.partner not in partners:
                partners[row.partner] = known_partner(session, row.partner) or (
                    None if only_partner else partner_for_name(session, row.partner))
            partner = partners[row.partner]
            if only_partner and (partner is None or default is None or partner.id != default.id):
                report.reject(row.line, "another partner's name: you import only for your own organisation",
                              row.partner)
                continue
            if partner.name != row.partner:
                report.linked[row.partner] = partner.name
        if partner is None:
            report.reject(row.line, "no partner: fill in the partner column or choose the partner on the form")
            continue
        key = lookup_key(secret, phone)
        if key in seen:
            report.reject(row.line, f"the same number as line {seen[key]}", row.phone)
            continue
        seen[key] = row.line
        batch.append((key, phone, row.language or None, row.reference or None, row.name or None, partner))
        if len(batch) >= BATCH:
            _store(session, batch, actor, report)
            batch = []
    _store(session, batch, actor, report)
    return report


def _store(session, batch, actor: str, report: ImportReport) -> None:
    if not batch:
        return
    keys = [key for key, *_ in batch]
    contacts = {key: contact for key, contact in session.execute(
        select(ContactIdentifier.key, Contact).join(Contact, ContactIdentifier.contact_id == Contact.id)
        .where(ContactIdentifier.key.in_(keys)))}
    found = session.execute(select(Registration.contact_id, Registration.partner_id).where(
        Registration.contact_id.in_([c.id for c in contacts.values()])))
    registered = {contact_id: partner_id for contact_id, partner_id in found}
    new = [(key, phone, language) for key, phone, language, *_ in batch if key not in contacts]
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
    for key, _phone, language, reference, name, partner in batch:
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
        rows.append({"contact_id": contact.id, "partner_id": partner.id, "partner_name": partner.name,
                     "partner_ref": reference and seal(reference, data_key),
                     "name": name and seal(name, data_key),
                     "status": "imported", "join_code": new_join_code(), "number_confirmed": False,
                     "created_at": utcnow(), "updated_at": utcnow()})
    if rows:
        names = {row["contact_id"]: row.pop("partner_name") for row in rows}
        session.execute(insert(Registration), rows)
        ids = session.execute(select(Registration.id, Registration.contact_id).where(
            Registration.contact_id.in_(list(names)))).all()
        session.execute(insert(RegistrationEvent), [
            {"registration_id": rid, "from_status": None, "to_status": "imported", "actor": actor,
             "reason": f"imported from {names[contact_id]}", "at": utcnow()} for rid, contact_id in ids])
        report.accepted += len(rows)
    session.flush()
