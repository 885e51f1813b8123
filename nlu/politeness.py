"""Greetings, thanks and politeness around a request.

"hallo, ik wil me aanmelden" or "magandang araw po, gusto ko pong magparehistro" hold two
things, and a classifier that sees both splits its confidence between greet and the request,
below what it needs to act. What the person wants is the request, so the message is also judged
without the politeness at its start and end, and sentence by sentence. The phrases are the
training data's own short greet, thanks and goodbye examples, so every language (and a new one)
brings its own.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

SOCIAL = ("greet", "thanks", "goodbye")
MAX_PHRASE_WORDS = 4
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[,.!?;:\n؟،።፣]+")


class Politeness:
    def __init__(self, phrases: Iterable[str]):
        """`phrases`: normalised greet/thanks/goodbye examples; only the short ones are used."""
        self.phrases = {tuple(words) for words in (_WORD.findall(p) for p in phrases)
                        if 0 < len(words) <= MAX_PHRASE_WORDS}

    def requests(self, normalised: str) -> list[str]:
        """The parts of the message that may hold the request: the message without the politeness
        at its ends, and each of its sentences that is more than politeness. Empty when the message
        is nothing but one request or nothing but politeness."""
        found: list[str] = []
        core = self._core(normalised)
        if core and core != normalised:
            found.append(core)
        sentences = [part.strip() for part in _SENTENCE_END.split(normalised) if part.strip()]
        if len(sentences) > 1:
            for sentence in sentences:
                kept = self._core(sentence)
                if kept and kept not in found:
                    found.append(kept)
        return found

    def _core(self, text: str) -> str | None:
        """The text without the politeness phrases at its start and end; None if nothing else is left."""
        spans = [(m.start(), m.end()) for m in _WORD.finditer(text)]
        words = [text[start:end] for start, end in spans]
        first, last = 0, len(words)
        while first < last and (taken := self._match(words[first:last])):
            first += taken
        while first < last and (taken := self._match(words[first:last][::-1], reverse=True)):
            last -= taken
        if first == last:
            return None
        return text[spans[first][0]:spans[last - 1][1]]

    def _match(self, words: list[str], reverse: bool = False) -> int:
        """How many words at the start of `words` are a phrase (the longest that fits)."""
        for size in range(min(MAX_PHRASE_WORDS, len(words)), 0, -1):
            candidate = tuple(words[:size][::-1] if reverse else words[:size])
            if candidate in self.phrases:
                return size
        return 0
