"""Mixed-direction text as helpers see it: Arabic or Farsi words around a voucher code, an
amount or a phone number. Each message paragraph takes its direction from its own first
strong letter (dir="auto"), and every run of Latin letters and digits that holds a number is
wrapped in <bdi>, so 'ABC-123' or '+31 6 1234' keeps its order inside a right-to-left
sentence. static/conversation.js applies the same pattern when it redraws a conversation.
"""
from __future__ import annotations

import re

from markupsafe import Markup, escape

from bot.formats import is_right_to_left

# A run of Latin letters and digits with the joiners codes and amounts use; isolated when it
# holds a digit ('ABC-123', '17,50', '+31'), left alone when it is a word.
CODE = re.compile(r"[+#€$]?[A-Za-z0-9]+(?:[./:,\-][A-Za-z0-9]+)*")
DIGIT = re.compile(r"[0-9]")


def isolated(text: str | None) -> Markup:
    """The text, escaped, with each code or number in its own <bdi>."""
    text = text or ""
    parts, last = [], 0
    for match in CODE.finditer(text):
        if not DIGIT.search(match.group()):
            continue
        parts.append(escape(text[last:match.start()]))
        parts.append(Markup("<bdi>%s</bdi>") % match.group())
        last = match.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


def direction(language: str | None) -> str:
    """What a box the helper types into for this person starts as: their language's direction
    when it is known to be right-to-left, otherwise whatever the first letter typed says."""
    return "rtl" if is_right_to_left(language) else "auto"
