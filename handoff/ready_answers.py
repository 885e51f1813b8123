"""Ready answers: short texts a helper puts in the reply box with one click, per language.

They are data, not code, so supervisors change and add them on the helpdesk page
/helpdesk/ready-answers without a developer. Each answer has an id and a text per language; the
source language (English) is required, the others may be missing. A ticket shows each answer in
the person's language, or, where that translation is missing, in English marked as such: never
English while a translation exists.

A save is a release in the database (store/releases.py), so every web server, on any machine,
offers the same answers within `content.refresh_seconds`, and each save is kept in the history.
Until a supervisor first saves, the shipped handoff/ready_answers.yml is offered.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from store import releases
from store.releases import LiveRelease

FILE = Path(__file__).with_name("ready_answers.yml")
ID = re.compile(r"[a-z][a-z0-9_]{1,39}")
MAX_CHARACTERS = 1000  # a ready answer is a start the helper edits, well inside one WhatsApp message
KIND = "ready_answers"  # their releases (store/releases.py)


class ReadyAnswerError(ValueError):
    """What is wrong with an answer or the file, in one line for the supervisor."""


@dataclass(frozen=True)
class ReadyAnswer:
    id: str
    texts: dict[str, str]


@dataclass(frozen=True)
class Offered:
    """One answer as a ticket offers it: the text in `language`, or the source text when
    `fallback` (no translation yet)."""

    id: str
    text: str
    language: str
    fallback: bool
    source: str


def validate(answers: list[ReadyAnswer], languages: list[str], source: str) -> None:
    seen: set[str] = set()
    for answer in answers:
        if not ID.fullmatch(answer.id):
            raise ReadyAnswerError(f"{answer.id!r}: an id is 2-40 lower-case letters, digits or _, "
                                   "starting with a letter")
        if answer.id in seen:
            raise ReadyAnswerError(f"{answer.id}: there is already an answer with this id")
        seen.add(answer.id)
        if not answer.texts.get(source, "").strip():
            raise ReadyAnswerError(f"{answer.id}: the {source} text is required (the others fall back to it)")
        for language, text in answer.texts.items():
            if language not in languages:
                raise ReadyAnswerError(f"{answer.id}: {language!r} is not a language the service speaks")
            if not isinstance(text, str) or not text.strip():
                raise ReadyAnswerError(f"{answer.id}.{language}: empty text (leave the language out instead)")
            if len(text) > MAX_CHARACTERS:
                raise ReadyAnswerError(f"{answer.id}.{language}: {len(text)} characters, at most {MAX_CHARACTERS}")


def parse(raw: str, languages: list[str], source: str) -> list[ReadyAnswer]:
    try:
        data = yaml.safe_load(raw) or {}
    except yaml.YAMLError as error:
        raise ReadyAnswerError(f"not valid YAML ({getattr(error, 'problem', error)})") from None
    return from_data(data, languages, source)


def from_data(data: object, languages: list[str], source: str) -> list[ReadyAnswer]:
    """The answers of a file's contents or a release's bundle ({"answers": [{id, text}]}), validated."""
    items = data.get("answers") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ReadyAnswerError("the file needs a list 'answers'")
    answers = []
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict) or not isinstance(item.get("text"), dict):
            raise ReadyAnswerError(f"answer {number}: needs an id and a mapping 'text' of language: text")
        answers.append(ReadyAnswer(id=str(item.get("id", "")),
                                   texts={str(k): v.strip() if isinstance(v, str) else v
                                          for k, v in item["text"].items()}))
    validate(answers, languages, source)
    return answers


class ReadyAnswers:
    """The answers this process offers: the newest release, or the shipped file before any."""

    def __init__(self, sessionmaker, languages: list[str], source: str, refresh_seconds: Callable[[], float],
                 shipped: Path = FILE):
        self.languages, self.source, self.shipped = languages, source, shipped
        self._live: LiveRelease[list[ReadyAnswer]] = LiveRelease(KIND, sessionmaker, refresh_seconds, self._build,
                                                                 self._read_shipped)

    def _build(self, bundle: dict) -> list[ReadyAnswer]:
        return from_data(bundle, self.languages, self.source)

    def _read_shipped(self) -> list[ReadyAnswer]:
        return parse(self.shipped.read_text(encoding="utf-8"), self.languages, self.source)

    def all(self) -> list[ReadyAnswer]:
        return self._live.current() or []

    def offered(self, language: str | None) -> list[Offered]:
        language = language or self.source
        return [Offered(id=a.id, text=a.texts.get(language) or a.texts[self.source], language=language,
                        fallback=language not in a.texts, source=a.texts[self.source])
                for a in self.all()]

    def missing(self) -> dict[str, list[str]]:
        """Answer id -> the languages it has no text in yet."""
        return {a.id: [code for code in self.languages if code not in a.texts] for a in self.all()}

    def put(self, session, answer: ReadyAnswer, actor: str, *, new: bool) -> None:
        """Add an answer (new) or replace the one with its id, as the next release, in the
        caller's transaction (the caller audits, commits, then calls `forget`). Built on the
        newest release in the database, not on what this process last saw, so an edit made a
        moment ago on another server is kept; two saves at the same moment: the second is
        refused (ReleaseConflict) and the supervisor saves again."""
        newest = releases.latest(session, KIND)
        answers = self._build(newest.bundle) if newest is not None else self._read_shipped()
        ids = [a.id for a in answers]
        if new:
            if answer.id in ids:
                raise ReadyAnswerError(f"{answer.id}: there is already an answer with this id")
            answers.append(answer)
        elif answer.id not in ids:
            raise ReadyAnswerError(f"{answer.id}: no such answer")
        else:
            answers[ids.index(answer.id)] = answer
        validate(answers, self.languages, self.source)
        order = {code: number for number, code in enumerate(self.languages)}
        bundle = {"answers": [{"id": a.id, "text": dict(sorted(a.texts.items(), key=lambda kv: order[kv[0]]))}
                              for a in answers]}
        releases.add(session, KIND, bundle, actor, note=f"{'added' if new else 'changed'} {answer.id}")

    def forget(self) -> None:
        """Offer the newest release at the next use (this process just saved one)."""
        self._live.forget()
