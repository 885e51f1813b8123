"""Gettext catalogs per language, and formatting of texts with placeholders.

English is the source language: a text missing from a catalog shows in English rather than
not at all, and `flask translations status` / `flask flows check` report it.
"""
from __future__ import annotations

import string
from pathlib import Path

from babel.support import NullTranslations, Translations

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


class Translator:
    def __init__(self, directory: Path = CATALOGS):
        self.directory = directory
        self._catalogs: dict[str, NullTranslations] = {}

    def catalog(self, language: str | None) -> NullTranslations:
        language = language or "en"
        if language not in self._catalogs:
            found = Translations.load(str(self.directory), [language], DOMAIN)
            self._catalogs[language] = found
        return self._catalogs[language]

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
