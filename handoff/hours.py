"""Whether the helpdesk is staffed now, so the person is told a real expectation."""
from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def is_open(hours: dict[str, str], timezone: str, now: datetime) -> bool:
    """`hours` maps a weekday (mon…sun) to "09:00-17:00"; a missing day is closed."""
    local = now.astimezone(ZoneInfo(timezone))
    span = hours.get(DAYS[local.weekday()])
    if not span:
        return False
    start, end = (time.fromisoformat(part.strip()) for part in span.split("-"))
    return start <= local.time() < end


def describe(hours: dict[str, str]) -> str:
    """Mon 09:00-17:00, Tue …: written the same way in every language, like a shop's door."""
    return ", ".join(f"{day.capitalize()} {hours[day]}" for day in DAYS if hours.get(day))
