"""Text as the classifier sees it: the same word written in different ways should look alike.

People type without accents, with stretched letters ("pleeease"), with Arabic letter
variants and tatweel, and in full-width or styled Unicode from their keyboards.
"""
from __future__ import annotations

import re
import unicodedata

_ARABIC = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي", "ؤ": "و", "ئ": "ي",
                         "ك": "ک", "ي": "ی", "\u0640": ""})
_REPEATS = re.compile(r"(.)\1{2,}")
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    text = unicodedata.normalize("NFC", text).translate(_ARABIC)
    return _SPACES.sub(" ", _REPEATS.sub(r"\1\1", text)).strip()
