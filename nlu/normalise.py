"""Text as the classifier sees it: the same word written in different ways should look alike.

People type without accents, with stretched letters ("pleeease"), with Arabic letter
variants and tatweel, and in full-width or styled Unicode from their keyboards. Apostrophes
come and go ("I'm" / "im", "j'ai" / "jai", "вб'є" / "вбє", typed as ' or ’ or ʼ): they are
dropped, or a word typed one way is a different word from the same word typed the other way, and
whichever way the training data happened to write it becomes a false clue ("I'm" read as danger
because the English danger examples were written with apostrophes and the safety ones without).
"""
from __future__ import annotations

import re
import unicodedata

_ARABIC = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي", "ؤ": "و", "ئ": "ي",
                         "ك": "ک", "ي": "ی", "\u0640": ""})
_REPEATS = re.compile(r"(.)\1{2,}")
_SPACES = re.compile(r"\s+")
_APOSTROPHES = re.compile("['\u2018\u2019\u02bc\u02b9`\u00b4]")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    text = _APOSTROPHES.sub("", unicodedata.normalize("NFC", text).translate(_ARABIC))
    return _SPACES.sub(" ", _REPEATS.sub(r"\1\1", text)).strip()
