"""Greetings, thanks and politeness around a request.

"hallo, ik wil me aanmelden" or "magandang araw po, gusto ko pong magparehistro" hold two
things, and a classifier that sees both splits its confidence between greet and the request,
below what it needs to act. What the person wants is the request, so the message is judged a
second time without the politeness at its start and end. The phrases are the training data's own
short greet, thanks and goodbye examples, so every language (and a new one) brings its own.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

SOCIAL = ("greet", "thanks", "goodbye")
MAX_PHRASE_WORDS = 3
_WORD = re.compile(r"\w+")


class Politeness:
    def __init__(self, phrases: Iterable[str]):
        """`phrases`: normalised greet/thanks/goodbye examples; only the short ones are used."""
        self.phrases = {tuple(words) for words in (_WORD.findall(p) for p in phrases)
                        if 0 < len(words) <= MAX_PHRASE_WORDS}

    def core(self, normalised: str) -> str | None:
        """The message without the politeness around it, or None when there is none to take away
        or nothing else is left."""
        spans = [(m.start(), m.end()) for m in _WORD.finditer(normalised)]
        words = [normalised[start:end] for start, end in spans]
        first, last = 0, len(words)
        while first < last and (taken := self._match(words[first:last])):
            first += taken
        while first < last and (taken := self._match(words[first:last][::-1], reverse=True)):
            last -= taken
        if first == last or (first, last) == (0, len(words)):
            return None
        return normalised[spans[first][0]:spans[last - 1][1]]

    def _match(self, words: list[str], reverse: bool = False) -> int:
        """How many words at the start of `words` are a phrase (the longest that fits)."""
        for size in range(min(MAX_PHRASE_WORDS, len(words)), 0, -1):
            candidate = tuple(words[:size][::-1] if reverse else words[:size])
            if candidate in self.phrases:
                return size
        return 0
