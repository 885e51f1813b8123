"""Gettext catalogs per language, and formatting of texts with placeholders.

English is the source language: a text missing from a catalog shows in English rather than
not at all, and `flask translations status` / `flask flows check` report it.

Catalogs are read from the `.po` text (a published release carries it, or the draft files on
disk), not from compiled `.mo` files, because compiling drops fuzzy entries and this service
must not: when an editor rewords an English text, `make translations` keeps each language's
translation of the old wording as fuzzy ("needs review") with the old wording as its previous
msgid (`#| msgid`). Such a translation is still the last one a speaker reviewed for that text,
so it is served until a reviewer accepts or edits it: a person who chose French does not
suddenly read English because of a comma (the editors' texts page rewords the same way, without
the `#|` line). A fuzzy entry is not served when its previous wording is a *different* text
still in the catalog (gettext's guess for a new text, borrowed from a similar one: shown in
English and reported missing until translated), nor when it uses a placeholder the new
wording lacks.
"""
from __future__ import annotations

import io
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.pofile import denormalize, read_po

from bot.formats import is_right_to_left, isolate

CATALOGS = Path(__file__).resolve().parent.parent / "translations"
DOMAIN = "messages"


class _Lenient(string.Formatter):
    def get_value(self, key, args, kwargs):
        if isinstance(key, str) and key not in kwargs:
            return "{" + key + "}"
        return super().get_value(key, args, kwargs)


_formatter = _Lenient()


def N_(source: str) -> str:
    """Marks a text in Python code for extraction; it is translated where it is shown."""
    return source


PLACEHOLDER = re.compile(r"\{(\w*)\}")
LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


@dataclass
class Served:
    """What one language's catalog shows: `texts` by English source, and which of them are
    reworded sources still shown in their last reviewed translation (`needs_review`)."""

    texts: dict[str, str] = field(default_factory=dict)
    needs_review: set[str] = field(default_factory=set)

    def gettext(self, source: str) -> str:
        return self.texts.get(source) or source


def previous_wording(message) -> str | None:
    """The English a fuzzy entry's translation was made for, when the catalog says so: Babel's
    reader keeps `#| msgid "..."` lines (from `pybabel update --previous`) as user comments
    starting with "|", and writes them back as "# | ...", so both are read here."""
    previous = message.previous_id
    if isinstance(previous, (list, tuple)):
        previous = previous[0] if previous else None
    if previous:
        return previous
    parts: list[str] = []
    for comment in message.user_comments:
        line = comment.lstrip("|").strip() if comment.startswith("|") else None
        if line is None:
            continue
        if line.startswith("msgid "):
            parts = [line[len("msgid "):]]
        elif line.startswith('"') and parts:
            parts.append(line)
        elif parts:
            break
    if not parts:
        return None
    try:
        return denormalize("\n".join(parts)) or None
    except (ValueError, IndexError):
        return None


def served(catalog, source_language: bool = False) -> Served:
    """The entries of a babel Catalog that people see (see the module docstring for fuzzy ones).
    In the source language's own catalog a fuzzy entry is the old English: never shown."""
    current = {m.id for m in catalog if m.id}
    result = Served()
    for message in catalog:
        if not message.id or not isinstance(message.id, str) or not isinstance(message.string, str) \
                or not message.string:
            continue
        if not message.fuzzy:
            result.texts[message.id] = message.string
            continue
        if source_language:
            continue
        previous = previous_wording(message)
        borrowed = previous is not None and previous != message.id and previous in current
        if not borrowed and set(placeholders(message.string)) <= set(placeholders(message.id)):
            result.texts[message.id] = message.string
            result.needs_review.add(message.id)
    return result


def parse_catalog(po_text: str | bytes):
    data = po_text.encode("utf-8") if isinstance(po_text, str) else po_text
    return read_po(io.BytesIO(data))


class Translator:
    """Texts in each language, from `catalogs` (language -> `.po` text, as a release holds them)
    or else from the `.po` files under `directory` (the editors' draft)."""

    def __init__(self, directory: Path = CATALOGS, catalogs: Mapping[str, str] | None = None,
                 source_language: str = "en"):
        self.directory = directory
        self.sources = catalogs
        self.source_language = source_language
        self._catalogs: dict[str, Served] = {}

    def catalog(self, language: str | None) -> Served:
        language = language or "en"
        if language not in self._catalogs:
            po_text = self._po_text(language) if LANGUAGE.match(language) else None
            self._catalogs[language] = served(parse_catalog(po_text), language == self.source_language) \
                if po_text else Served()
        return self._catalogs[language]

    def _po_text(self, language: str) -> str | None:
        if self.sources is not None:
            return self.sources.get(language)
        path = self.directory / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        return path.read_text(encoding="utf-8") if path.exists() else None

    def text(self, source: str, language: str | None, **values) -> str:
        return self.format(self.catalog(language).gettext(source), language, **values)

    def format(self, translated: str, language: str | None, **values) -> str:
        """A text already in `language` with its placeholders filled, as `text` does (editors' previews)."""
        if is_right_to_left(language):
            values = {key: isolate(str(value)) for key, value in values.items()}
        try:
            return _formatter.format(translated, **values)
        except (ValueError, IndexError):
            return translated

    def reload(self) -> None:
        self._catalogs.clear()
