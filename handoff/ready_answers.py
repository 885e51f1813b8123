"""Ready answers: short texts a helper puts in the reply box with one click, per language.

They are data (handoff/ready_answers.yml), not code, so supervisors change and add them on the
helpdesk page /helpdesk/ready-answers without a developer. Each answer has an id and a text per
language; the source language (English) is required, the others may be missing. A ticket shows
each answer in the person's language, or, where that translation is missing, in English marked
as such: never English while a translation exists. Every process reads the file again when it
changes (its modification time), so an edit reaches the console on the next page.
"""
from __future__ import annotations

import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml

FILE = Path(__file__).with_name("ready_answers.yml")
ID = re.compile(r"[a-z][a-z0-9_]{1,39}")
MAX_CHARACTERS = 1000  # a ready answer is a start the helper edits, well inside one WhatsApp message
HEADER = ("# Ready answers for the helpdesk console, per language (handoff/ready_answers.py).\n"
          "# Edited on /helpdesk/ready-answers by supervisors; English (the source language) is required.\n")


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
    """The file, read again when it changes; writes are validated, whole and atomic."""

    def __init__(self, path: Path = FILE):
        self.path = path
        self._lock = threading.Lock()
        self._seen: tuple[float, list[ReadyAnswer]] | None = None

    def all(self, languages: list[str], source: str) -> list[ReadyAnswer]:
        stamp = self.path.stat().st_mtime
        with self._lock:
            if self._seen is None or self._seen[0] != stamp:
                self._seen = (stamp, parse(self.path.read_text(encoding="utf-8"), languages, source))
            return self._seen[1]

    def offered(self, language: str | None, languages: list[str], source: str) -> list[Offered]:
        language = language or source
        return [Offered(id=a.id, text=a.texts.get(language) or a.texts[source], language=language,
                        fallback=language not in a.texts, source=a.texts[source])
                for a in self.all(languages, source)]

    def missing(self, languages: list[str], source: str) -> dict[str, list[str]]:
        """Answer id -> the languages it has no text in yet."""
        return {a.id: [code for code in languages if code not in a.texts] for a in self.all(languages, source)}

    def save(self, answers: list[ReadyAnswer], languages: list[str], source: str) -> None:
        validate(answers, languages, source)
        order = {code: number for number, code in enumerate(languages)}
        data = {"answers": [{"id": a.id, "text": dict(sorted(a.texts.items(), key=lambda kv: order[kv[0]]))}
                            for a in answers]}
        text = HEADER + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
        with self._lock:
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".ready_answers.", suffix=".yml")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(text)
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            self._seen = None

    def put(self, answer: ReadyAnswer, languages: list[str], source: str, *, new: bool) -> None:
        """Add an answer (new) or replace the one with its id."""
        answers = list(self.all(languages, source))
        ids = [a.id for a in answers]
        if new:
            if answer.id in ids:
                raise ReadyAnswerError(f"{answer.id}: there is already an answer with this id")
            answers.append(answer)
        elif answer.id not in ids:
            raise ReadyAnswerError(f"{answer.id}: no such answer")
        else:
            answers[ids.index(answer.id)] = answer
        self.save(answers, languages, source)


answers = ReadyAnswers()  # the shipped file; tests point its path at a copy
