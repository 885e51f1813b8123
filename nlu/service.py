"""Free-text understanding for the bot: Rasa's ParseResult shape, from the embedded
classifier or a Rasa server. If the server fails or is slow, the embedded classifier
answers and the failure is logged, so the bot never goes mute because a server did.
"""
from __future__ import annotations

import functools
import logging
import re

from bot.engine import Understanding
from nlu.classifier import IntentClassifier, load_or_train
from nlu.language import LanguageDetector
from nlu.rasa_client import RasaClient, RasaError
from nlu.training_data import read_folder

log = logging.getLogger(__name__)


class NluService:
    def __init__(self, settings, classifier: IntentClassifier | None = None):
        self.settings = settings
        self.classifier = classifier or load_or_train()
        self.detector = _detector(tuple(settings.languages.all), settings.languages.detect_min_words,
                                  settings.languages.detect_min_confidence, self.classifier.fingerprint)
        rasa = settings.nlu.rasa
        self.rasa = RasaClient(rasa.url, rasa.token, rasa.timeout_seconds) if settings.nlu.backend == "rasa" else None
        self._lookups = _lookup_patterns(self.classifier.fingerprint)

    def warm_up(self) -> None:
        """Everything that loads on first use, loaded now: for a process that is about to answer
        people (`flask worker`), so the first of them does not wait seconds for it."""
        self.detector.preload()
        self.parse("hello, I would like to register")

    def parse(self, text: str, *, with_language: bool = True, with_words: bool = False) -> dict:
        """Rasa's ParseResult (text, intent, intent_ranking, entities) plus the language;
        `with_words` adds `knows_a_word` (False: the embedded classifier knew no word of it)."""
        result = None
        if self.rasa is not None:
            try:
                result = self.rasa.parse(text)
                result.setdefault("intent_ranking", [result["intent"]])
                result.setdefault("entities", [])
            except RasaError as error:
                log.warning("rasa parse failed (%s); answering with the embedded classifier", error)
        if result is None:
            prediction = self.classifier.predict(text)
            result = {
                "text": text,
                "intent": {"name": prediction.intent, "confidence": prediction.confidence},
                "intent_ranking": [{"name": n, "confidence": c} for n, c in prediction.ranking],
                "entities": self._entities(text),
            }
            if with_words:
                result["knows_a_word"] = prediction.knows_a_word
        if with_language:
            detected = self.detector.detect(text)
            result["language"] = detected.language if detected else None
        return result

    def __call__(self, text: str, language: str | None) -> Understanding:
        result = self.parse(text, with_language=False, with_words=True)
        return Understanding(intent=result["intent"]["name"], confidence=float(result["intent"]["confidence"]),
                             ranking=[(r["name"], float(r["confidence"])) for r in result["intent_ranking"]],
                             knows_a_word=bool(result.get("knows_a_word", True)))

    def guess_language(self, text: str, *, short: bool = False) -> str | None:
        """`short`: also from a message of one or two words, for answers that cannot wait for
        the language menu (danger)."""
        detected = self.detector.detect(text, min_words=1 if short else None)
        return detected.language if detected else None

    def _entities(self, text: str) -> list[dict]:
        found = []
        for entity, pattern in self._lookups:
            for match in pattern.finditer(text):
                found.append({"entity": entity, "value": match.group(0), "start": match.start(),
                              "end": match.end(), "extractor": "lookup"})
        return found


_detectors: dict[tuple, LanguageDetector] = {}


def _detector(languages: tuple, min_words: int, min_confidence: float, data: str) -> LanguageDetector:
    """One detector per process and training data: its language models are large and load lazily."""
    key = (languages, min_words, min_confidence, data)
    if key not in _detectors:
        from nlu.classifier import DATA

        ethiopic = [(e.text, e.language) for e in read_folder(DATA).examples if e.language in ("ti", "am")]
        _detectors[key] = LanguageDetector(list(languages), min_words, min_confidence, ethiopic)
    return _detectors[key]


@functools.lru_cache(maxsize=4)
def _lookup_patterns(data_fingerprint: str) -> list[tuple[str, re.Pattern]]:
    """Once per process and training data, like the classifier."""
    from nlu.classifier import DATA

    data = read_folder(DATA)
    patterns = []
    for entity, values in data.lookups.items():
        words = sorted({v for v in values if v.strip()}, key=len, reverse=True)
        if words:
            patterns.append((entity, re.compile(r"(?<!\w)(" + "|".join(map(re.escape, words)) + r")(?!\w)",
                                                re.IGNORECASE)))
    return patterns
