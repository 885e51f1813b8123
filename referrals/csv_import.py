"""A region's offers from a spreadsheet's CSV export (one column per field, translations in
columns like `description:nl`), written as the region's YAML file.

Every row is checked with the same rules as the files, with the CSV's own line numbers; then the
whole folder is checked with the new file in place. Only if both pass is the file written, so an
import never leaves a half-written or invalid region behind.
"""
from __future__ import annotations

import csv
import io
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from bot.flows import NAME
from bot.yaml_source import read_yaml_mapping
from referrals.check import ContentError, check_categories, check_region, load_content

PLAIN_COLUMNS = ("id", "category", "subcategory", "address", "hours", "phone", "website")
TEXT_COLUMNS = ("name", "title", "description", "need_to_know")
COORDINATES = ("latitude", "longitude")
MAX_BYTES = 2_000_000


def _offer(row: dict[str, str], line: int, path: Path, problems: list[str]) -> dict:
    offer: dict = {"__line__": line, "__keys__": {}}
    for column in PLAIN_COLUMNS:
        if row.get(column, "").strip():
            offer[column] = row[column].strip()
    for column in TEXT_COLUMNS:
        translations = {key.partition(":")[2]: value.strip() for key, value in row.items()
                        if key.startswith(column + ":") and (value or "").strip()}
        base = row.get(column, "").strip()
        if translations:
            offer[column] = {"en": base, **translations} if base else translations
        elif base:
            offer[column] = base
    latitude, longitude = (row.get(c, "").strip() for c in COORDINATES)
    if latitude or longitude:
        try:
            offer["location"] = [float(latitude.replace(",", ".")), float(longitude.replace(",", "."))]
        except ValueError:
            problems.append(f"{path}:{line}: latitude and longitude must both be numbers, like 52.3676 and 4.9041")
    return offer


def read_offers(path: Path, problems: list[str]) -> list[dict]:
    try:
        raw = path.read_bytes()
    except OSError as error:
        problems.append(f"{path}:1: cannot read the file: {error.strerror}")
        return []
    if len(raw) > MAX_BYTES:
        problems.append(f"{path}:1: the file is larger than {MAX_BYTES // 1_000_000} MB; split it per region")
        return []
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        problems.append(f"{path}:1: not UTF-8 text: export the spreadsheet as 'CSV UTF-8'")
        return []
    try:
        dialect = csv.Sniffer().sniff(text.partition("\n")[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    columns = [c.strip() for c in reader.fieldnames or []]
    reader.fieldnames = columns
    known = set(PLAIN_COLUMNS) | set(TEXT_COLUMNS) | set(COORDINATES)
    unknown = [c for c in columns if c not in known and c.partition(":")[0] not in TEXT_COLUMNS]
    if unknown or "id" not in columns:
        problems.append(f"{path}:1: unknown column(s) {', '.join(unknown) or '(none)'}; the columns are "
                        f"{', '.join(PLAIN_COLUMNS + TEXT_COLUMNS + COORDINATES)}, and translations like "
                        f"description:nl" + ("" if "id" in columns else "; 'id' is required"))
        return []
    offers, line = [], reader.line_num
    try:
        for row in reader:
            if None in row:
                problems.append(f"{path}:{line + 1}: this row has more cells than there are columns")
            elif any((value or "").strip() for value in row.values()):
                offers.append(_offer({k: v or "" for k, v in row.items()}, line + 1, path, problems))
            line = reader.line_num
    except csv.Error as error:
        problems.append(f"{path}:{reader.line_num}: {error}")
    if not offers and not problems:
        problems.append(f"{path}:2: no offers in the file")
    return offers


@dataclass(frozen=True)
class Imported:
    target: Path
    offers: int
    changes: list[str]  # what the import changes in the region, in words: the dry run shows these


def changes(before: list[dict], after: list[dict]) -> list[str]:
    """Offers added, removed and changed (with the fields that change), by id."""
    old = {str(o.get("id")): o for o in before if isinstance(o, dict)}
    new = {str(o.get("id")): o for o in after}
    found = [f"new offer {key}" for key in new if key not in old]
    found += [f"offer {key} is removed" for key in old if key not in new]
    for key in new:
        if key in old:
            fields = sorted(f for f in set(old[key]) | set(new[key]) if old[key].get(f) != new[key].get(f))
            if fields:
                found.append(f"offer {key}: {', '.join(fields)} change")
    return found


def import_region(folder: Path, csv_path: Path, region: str, name: str | None, program: list[str],
                  served: list[str], dry_run: bool = False) -> Imported:
    """Write regions/<region>.yml from the CSV; ContentError lists every problem, nothing written."""
    problems: list[str] = []
    if not NAME.match(region or ""):
        raise ContentError([f"{csv_path}:1: the region must be lowercase letters, digits and _, like amsterdam"])
    target = folder / "regions" / f"{region}.yml"
    header: dict = {"version": 1, "region": region}
    existing: dict = {}
    if target.exists():
        existing = yaml.safe_load(target.read_text(encoding="utf-8")) or {}
        header.update({k: existing[k] for k in ("name", "location") if k in existing})
    if name:
        header["name"] = name
    if "name" not in header:
        raise ContentError([f"{csv_path}:1: a new region needs a name: add --name"])
    offers = read_offers(csv_path, problems)
    categories_data, errors = read_yaml_mapping(folder / "categories.yml", "categories.yml must be a mapping")
    if categories_data is None:
        raise ContentError(errors)
    categories = check_categories(folder / "categories.yml", categories_data, program, served, [])
    others = {}
    for other in (folder / "regions").glob("*.yml"):
        if other != target:
            data = yaml.safe_load(other.read_text(encoding="utf-8")) or {}
            for offer in data.get("offers") or []:
                if isinstance(offer, dict) and offer.get("id"):
                    others[str(offer["id"])] = str(other)
    if offers:
        data = {**header, "offers": offers, "__line__": 1, "__keys__": {}}
        check_region(csv_path, data, categories, program, served, problems, offer_ids=others)
    if problems:
        raise ContentError(problems)
    document = {**header, "offers": [{k: v for k, v in o.items() if not k.startswith("__")} for o in offers]}
    changed = changes(existing.get("offers") or [], document["offers"])
    text = (f"# Imported from {csv_path.name} on {date.today().isoformat()} with `flask content import`.\n"
            f"# Edit here, or change the spreadsheet and import it again (that replaces the offers).\n"
            + yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100))
    with tempfile.TemporaryDirectory() as scratch:
        trial = Path(scratch) / "content"
        shutil.copytree(folder, trial)
        (trial / "regions" / target.name).write_text(text, encoding="utf-8")
        try:
            load_content(trial, program, served)  # the whole folder still checks out with the new file
        except ContentError as error:
            raise ContentError([problem.replace(str(trial), str(folder)) for problem in error.problems]) from None
    if not dry_run:
        partial = target.with_suffix(".yml.part")
        partial.write_text(text, encoding="utf-8")
        partial.replace(target)
    return Imported(target, len(offers), changed)
