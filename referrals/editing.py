"""Editing the referral files from the staff pages' forms: one offer, region or category at a time.

The files stay the one source of truth (developers and editors who prefer a text editor read the
same files), so a form save rewrites only that item's lines: comments elsewhere stay, and a
translation still marked `# review: drafted without a native speaker` keeps its mark while its text
is unchanged. Every save is checked first exactly like `flask content check`, on a copy of the whole
folder with the change in place; only if that passes is the file replaced (atomically).
"""
from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.flows import NAME
from bot.yaml_source import plain, read_yaml_mapping
from referrals.check import _DRAFT, NATIONAL, REVIEW, ContentError, load_content
from referrals.content import Content

OFFER_FIELDS = ("id", "category", "subcategory", "name", "title", "description", "address", "hours", "phone",
                "website", "need_to_know", "location")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
_LINE = re.compile(r"^\s*([a-z]{2,3}):\s*(.*?)\s*(#.*)?$")


class NotFound(LookupError):
    """No such region, offer or category in the files."""


@dataclass(frozen=True)
class Saved:
    path: Path
    content: Content  # the whole content as checked with the change in place


def region_path(folder: Path, region: str) -> Path:
    if region == NATIONAL:
        return folder / f"{NATIONAL}.yml"
    if not NAME.match(region or ""):
        raise NotFound(region)
    return folder / "regions" / f"{region}.yml"


def _read(path: Path) -> dict:
    if not path.exists():
        raise NotFound(str(path))
    data, problems = read_yaml_mapping(path, "the file must be a mapping")
    if data is None:
        raise ContentError(problems)
    return data


def region_data(folder: Path, region: str) -> dict:
    """The region file as plain data (for the form)."""
    return plain(_read(region_path(folder, region)))


def offer_data(folder: Path, region: str, offer_id: str) -> dict:
    for offer in region_data(folder, region).get("offers") or []:
        if isinstance(offer, dict) and offer.get("id") == offer_id:
            return offer
    raise NotFound(offer_id)


def category_data(folder: Path, category_id: str) -> dict:
    for category in plain(_read(folder / "categories.yml")).get("categories") or []:
        if isinstance(category, dict) and category.get("id") == category_id:
            return category
    raise NotFound(category_id)


# -- writing YAML the way editors write it ---------------------------------------------------
def _reviewed_marks(lines: list[str]) -> set[tuple[str, str]]:
    """(language, text) pairs marked for review in these lines: the mark stays while the text does."""
    marks = set()
    for line in lines:
        if _DRAFT.match(line):
            match = _LINE.match(line)
            if match:
                value = match[2]
                try:
                    value = json.loads(value) if value.startswith('"') else value.strip("'")
                except ValueError:
                    pass
                marks.add((match[1], value))
    return marks


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if value is None:
        return "null"
    if NAME.match(str(value)) and str(value) not in _YAML_WORDS:
        return str(value)  # identifiers stay plain, as editors write them
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def _emit(mapping: dict, indent: int, marks: set[tuple[str, str]]) -> list[str]:
    pad, lines = " " * indent, []
    for key, value in mapping.items():
        if isinstance(value, dict):
            lines.append(f"{pad}{key}:")
            lines += _emit(value, indent + 2, marks)
        elif isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
            lines.append(f"{pad}{key}: [{', '.join(_scalar(v) for v in value)}]")
        elif isinstance(value, list):
            lines.append(f"{pad}{key}:")
            for item in value:
                if isinstance(item, dict):
                    block = _emit(item, indent + 4, marks)
                    lines.append(f"{pad}  - {block[0].lstrip()}")
                    lines += block[1:]
                else:
                    lines.append(f"{pad}  - {_scalar(item)}")
        else:
            mark = f"  # {REVIEW}" if (key, value) in marks else ""
            lines.append(f"{pad}{key}: {_scalar(value)}{mark}")
    return lines


def _item_spans(raw: list, total_lines: int, lines: list[str]) -> list[tuple[int, int]]:
    """(first, last) line numbers (1-based, inclusive) of each list item, without the blank lines
    and comment lines that come after it (those belong to what follows)."""
    starts = [item["__line__"] for item in raw]
    spans = []
    for index, start in enumerate(starts):
        end = (starts[index + 1] - 1) if index + 1 < len(starts) else total_lines
        while end > start and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
            end -= 1
        spans.append((start, end))
    return spans


def _with_item(path: Path, list_key: str, item_id_key: str, item_id: str | None, new: dict | None) -> str:
    """The file's text with one list item replaced (or added when item_id is None, or removed when
    new is None)."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    data = _read(path)
    raw = [item for item in data.get(list_key) or [] if isinstance(item, dict)]
    spans = _item_spans(raw, len(lines), lines)
    index = next((n for n, item in enumerate(raw) if item.get(item_id_key) == item_id), None)
    if item_id is not None and index is None:
        raise NotFound(item_id)
    old_lines = lines[spans[index][0] - 1:spans[index][1]] if index is not None else []
    first = lines[spans[0][0] - 1] if spans else "  - "
    indent = len(first) - len(first.lstrip())  # the items' "-" stays where the file has it
    block = []
    if new is not None:
        emitted = _emit(new, indent + 2, _reviewed_marks(old_lines))
        block = [" " * indent + "- " + emitted[0].lstrip(), *emitted[1:]]
    if index is None:
        end = spans[-1][1] if spans else len(lines)
        lines[end:end] = (["", *block] if spans else block)
    else:
        start, end = spans[index]
        lines[start - 1:end] = block
        if new is None and 0 <= start - 2 < len(lines) and not lines[start - 2].strip():
            del lines[start - 2]  # the blank line before the removed item
    return "\n".join(lines) + "\n"


def _with_header(path: Path, header: dict) -> str:
    """A region file's text with its name and location rewritten; its offers stay as they are."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    data = _read(path)
    keys = data["__keys__"]
    header_keys = [key for key in ("version", "region", "name", "location") if key in keys]
    if "offers" not in keys or not header_keys:
        raise ContentError([f"{path}:1: the file needs 'region', 'name' and 'offers' to be edited in a form"])
    start = min(keys[key] for key in header_keys)
    end = keys["offers"] - 1
    while end >= start and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    marks = _reviewed_marks(lines[start - 1:end])
    lines[start - 1:end] = _emit(header, 0, marks)
    return "\n".join(lines) + "\n"


def _checked_write(folder: Path, path: Path, text: str, program: list[str], served: list[str],
                   write: bool) -> Saved:
    """Check the whole folder with `text` as `path`; write it only if it checks out (and `write`)."""
    with tempfile.TemporaryDirectory() as scratch:
        trial = Path(scratch) / "content"
        shutil.copytree(folder, trial)
        trial_path = trial / path.relative_to(folder)
        trial_path.parent.mkdir(parents=True, exist_ok=True)
        trial_path.write_text(text, encoding="utf-8")
        try:
            content = load_content(trial, program, served)
        except ContentError as error:
            raise ContentError([problem.replace(str(trial), str(folder)) for problem in error.problems]) from None
    if write:
        partial = path.with_suffix(".yml.part")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    return Saved(path, content)


def save_offer(folder: Path, region: str, offer_id: str | None, offer: dict, program: list[str],
               served: list[str], *, write: bool = True) -> Saved:
    """Replace offer `offer_id` of the region (or add it, when None) by `offer`; with write=False
    only check (for the preview)."""
    path = region_path(folder, region)
    ordered = {key: offer[key] for key in OFFER_FIELDS if offer.get(key) not in (None, "", {}, [])}
    text = _with_item(path, "offers", "id", offer_id, ordered)
    return _checked_write(folder, path, text, program, served, write)


def delete_offer(folder: Path, region: str, offer_id: str, program: list[str], served: list[str]) -> Saved:
    path = region_path(folder, region)
    return _checked_write(folder, path, _with_item(path, "offers", "id", offer_id, None), program, served, True)


def save_region(folder: Path, region: str, name, location: list[float] | None, program: list[str],
                served: list[str], *, write: bool = True) -> Saved:
    path = region_path(folder, region)
    header = {"version": 1, "region": region, "name": name, **({"location": location} if location else {})}
    return _checked_write(folder, path, _with_header(path, header), program, served, write)


def save_category(folder: Path, category_id: str, change: Callable[[dict], dict], program: list[str],
                  served: list[str], *, write: bool = True) -> Saved:
    """`change` gets the category as it is in the file and returns it as it should be."""
    path = folder / "categories.yml"
    new = change(category_data(folder, category_id))
    text = _with_item(path, "categories", "id", category_id, new)
    return _checked_write(folder, path, text, program, served, write)
