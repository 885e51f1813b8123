"""Whether the helpdesk is staffed now, so the person is told a real expectation."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_time, get_day_names
from babel.lists import format_list

from bot.formats import native_digits, weekly_hours

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def is_open(hours: dict[str, str], timezone: str, now: datetime) -> bool:
    """`hours` maps a weekday (mon…sun) to "09:00-17:00"; a missing day is closed."""
    local = now.astimezone(ZoneInfo(timezone))
    span = hours.get(DAYS[local.weekday()])
    if not span:
        return False
    start, end = _span(span)
    return start <= local.time() < end


def describe(hours: dict[str, str], language: str | None) -> str:
    """The helpers' hours as the person reads them: 'Monday–Friday 09:00–17:00' in nl,
    'Monday–Friday 9:00 AM – 5:00 PM and Saturday …' in en. Days with the same hours are grouped; the times are the
    program's own (config `helpdesk.timezone`), as the helpers work them."""
    rules: list[tuple[list[int], list[tuple[time, time]]]] = []
    for number, day in enumerate(DAYS):
        if not hours.get(day):
            continue
        span = _span(hours[day])
        if rules and rules[-1][1] == [span] and rules[-1][0][-1] == number - 1:
            rules[-1][0].append(number)
        else:
            rules.append(([number], [span]))
    return format_list(weekly_hours(rules, language), locale=(language or "en").replace("-", "_"))


def next_opening(hours: dict[str, str], timezone: str, now: datetime) -> datetime | None:
    """When the helpers next start work, in the program's time zone; None if they never do."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        span = hours.get(DAYS[day.weekday()])
        if span:
            opening = datetime.combine(day, _span(span)[0], tzinfo=zone)
            if opening > local:
                return opening
    return None


def weekday_and_time(moment: datetime, language: str | None) -> str:
    """'maandag 09:00', 'Monday 9:00 AM', 'دوشنبه ۹:۰۰': a day and a time as the person's locale writes them."""
    locale = Locale.parse((language or "en").replace("-", "_"))
    day = get_day_names("wide", locale=locale)[moment.weekday()]
    return native_digits(f"{day} {format_time(moment, 'short', tzinfo=moment.tzinfo, locale=locale)}", locale.language)


def _span(text: str) -> tuple[time, time]:
    start, end = (part.strip() for part in text.split("-"))
    return time.fromisoformat(start), time(23, 59) if end == "24:00" else time.fromisoformat(end)
