"""Opening hours as editors write them ("Mo-Fr 09:00-17:00; Sa 10:00-13:00", the common part of
OpenStreetMap's opening_hours) and as a person reads them: day names in their own language."""
from __future__ import annotations

import re
from datetime import time

from bot.formats import weekly_hours

DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_DAYS = r"(?:Mo|Tu|We|Th|Fr|Sa|Su)"
_DAY_ITEM = re.compile(rf"^({_DAYS})(?:-({_DAYS}))?$")
_SPAN = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class HoursError(ValueError):
    pass


def parse(text: str) -> list[tuple[list[int], list[tuple[str, str]]]]:
    """[(weekday numbers, [(from, to), ...]), ...], or HoursError saying what is wrong."""
    rules = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        days_text, _, times_text = part.partition(" ")
        days: list[int] = []
        for item in days_text.split(","):
            match = _DAY_ITEM.match(item.strip())
            if not match:
                raise HoursError(f"{item.strip()!r} is not a day or a range of days like Mo or Mo-Fr "
                                 f"(days: {' '.join(DAYS)})")
            first = DAYS.index(match.group(1))
            last = DAYS.index(match.group(2) or match.group(1))
            if last < first:
                raise HoursError(f"{item.strip()!r} runs backwards; write the earlier day first")
            days += range(first, last + 1)
        spans = []
        for span in (s.strip() for s in times_text.split(",")):
            match = _SPAN.match(span)
            if not match:
                raise HoursError(f"{span or '(nothing)'!r} after {days_text} is not a time span like 09:00-17:00")
            start, end = f"{match.group(1)}:{match.group(2)}", f"{match.group(3)}:{match.group(4)}"
            if end <= start:
                raise HoursError(f"{span!r} ends before it starts")
            spans.append((start, end))
        rules.append((days, spans))
    if not rules:
        raise HoursError("no opening hours given")
    return rules


def describe(text: str, language: str | None) -> str:
    """One line per rule: 'Monday–Friday 09:00–17:00', in the person's language."""
    return "\n".join(weekly_hours([(days, [(clock(a), clock(b)) for a, b in spans]) for days, spans in parse(text)],
                                   language))


def clock(text: str) -> time:
    """'09:00' as a time; '24:00' (closing at midnight) as the last minute of the day."""
    return time(23, 59) if text == "24:00" else time.fromisoformat(text)
