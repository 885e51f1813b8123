"""How complete each language is, for editors and for CI.

A translation drafted without a native speaker carries a translator comment starting with
"review" (`# review: drafted without a native speaker`); it is used, and counted here until
someone who speaks the language removes the comment. A translation whose English was reworded
since (fuzzy) "needs review": it is still shown (bot/i18n.py decides which are) and counted as
translated, and listed apart until a reviewer accepts or edits it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.i18n import served as shown_texts
from translations.catalogs import DIRECTORY, TEMPLATE, catalog_path, read_catalog

PLACEHOLDER = re.compile(r"\{(\w*)\}")


@dataclass
class LanguageStatus:
    language: str
    program: bool
    translated: int = 0
    missing: list[str] = field(default_factory=list)
    review: int = 0  # drafted without a native speaker
    needs_review: list[str] = field(default_factory=list)  # the English was reworded; the old translation is shown
    placeholder_errors: list[str] = field(default_factory=list)
    catalog_missing: bool = False

    @property
    def complete(self) -> bool:
        return not self.missing and not self.placeholder_errors and not self.catalog_missing

    def as_dict(self) -> dict:
        return {"language": self.language, "program": self.program, "translated": self.translated,
                "missing": len(self.missing), "review": self.review,
                "needs_review": len(self.needs_review), "needs_review_texts": self.needs_review,
                "placeholder_errors": self.placeholder_errors, "missing_texts": self.missing}


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def language_status(language: str, program: bool, sources: list[str], source_language: str = "en",
                    directory: Path = DIRECTORY) -> LanguageStatus:
    status = LanguageStatus(language, program)
    if language == source_language:  # the texts are written in it
        status.translated = len(sources)
        return status
    path = catalog_path(language, directory)
    if not path.exists():
        status.catalog_missing = True
        status.missing = list(sources)
        return status
    catalog = read_catalog(path)
    shown = shown_texts(catalog)
    for source in sources:
        message = catalog.get(source)
        if message is None or source not in shown.texts:
            status.missing.append(source)
            continue
        status.translated += 1
        if source in shown.needs_review:
            status.needs_review.append(source)
            continue
        if any(comment.strip().lower().startswith("review") for comment in message.user_comments):
            status.review += 1
        if placeholders(message.string) != placeholders(source):
            status.placeholder_errors.append(f"{source[:50]!r}: expects {placeholders(source)}, "
                                             f"has {placeholders(message.string)}")
    return status


def all_statuses(program: list[str], served: list[str], source_language: str = "en",
                 directory: Path = DIRECTORY) -> list[LanguageStatus]:
    sources = [m.id for m in read_catalog(directory / TEMPLATE.name) if m.id]
    return [language_status(code, code in program, sources, source_language, directory) for code in program + served]
