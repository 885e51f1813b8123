"""Which language a message is written in, when that can be said with confidence.

Lingua, restricted to the languages this service serves, decides among scripts it knows;
Ethiopic script goes to CLD2, which tells Tigrinya from Amharic (Lingua has neither).
Short messages ("ok", "salam") are not enough to decide: the person then chooses from a
menu, which costs one tap, where a wrong guess would cost a conversation in a foreign tongue.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pycld2
from lingua import IsoCode639_1, LanguageDetectorBuilder

_ETHIOPIC = re.compile(r"[\u1200-\u137F]")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Detected:
    language: str
    confidence: float


class LanguageDetector:
    def __init__(self, languages: list[str], min_words: int = 3, min_confidence: float = 0.5):
        self.languages = set(languages)
        self.min_words = min_words
        self.min_confidence = min_confidence
        codes = [getattr(IsoCode639_1, code.upper()) for code in languages
                 if code not in ("ti", "am") and hasattr(IsoCode639_1, code.upper())]
        self._lingua = LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()

    def detect(self, text: str) -> Detected | None:
        """The language, or None when the message is too short or too uncertain to say."""
        words = _WORD.findall(text)
        if len(words) < self.min_words:
            return None
        if _ETHIOPIC.search(text):
            return self._ethiopic(text)
        values = self._lingua.compute_language_confidence_values(text)
        if not values:
            return None
        best = values[0]
        code = best.language.iso_code_639_1.name.lower()
        if best.value < self.min_confidence or code not in self.languages:
            return None
        return Detected(code, round(best.value, 3))

    def _ethiopic(self, text: str) -> Detected | None:
        reliable, _bytes, details = pycld2.detect(text)
        name, code, percent, _score = details[0]
        if reliable and code in self.languages and code in ("ti", "am"):
            return Detected(code, percent / 100)
        return None
