"""Money, dates, weekdays and opening hours in the person's own locale, and numbers that stay
readable inside right-to-left sentences.

Babel formats by CLDR; where a locale's default numbering system is Arabic-Indic (fa, and
ar as used in Egypt or the Gulf when configured as ar_EG), the digits are written that way.
"""
from __future__ import annotations

from datetime import date as Date
from datetime import time as Time
from decimal import Decimal

from babel import Locale
from babel.dates import format_date, format_interval, get_day_names
from babel.numbers import format_currency

DIGITS = {"arab": "٠١٢٣٤٥٦٧٨٩", "arabext": "۰۱۲۳۴۵۶۷۸۹"}
RIGHT_TO_LEFT = {"ar", "fa", "ps", "ur", "he"}
FIRST_STRONG_ISOLATE, POP_DIRECTIONAL_ISOLATE = "\u2068", "\u2069"


def _locale(locale: str) -> Locale:
    return Locale.parse(locale.replace("-", "_"))


def native_digits(text: str, locale: str) -> str:
    digits = DIGITS.get(_locale(locale).default_numbering_system)
    return text.translate(str.maketrans("0123456789", digits)) if digits else text


def money(cents: int, currency: str, locale: str) -> str:
    """€ 17,50 in nl, 17,50 € in fr, €17.50 in en, ‎€ ۱۷٫۵۰ in fa."""
    amount = Decimal(cents) / 100
    text = format_currency(amount, currency, locale=_locale(locale), numbering_system="default")
    return native_digits(text, locale)


def long_date(day: Date, locale: str) -> str:
    return native_digits(format_date(day, "long", locale=_locale(locale)), locale)


def weekday(day: Date, locale: str) -> str:
    return format_date(day, "EEEE", locale=_locale(locale))


def weekly_hours(rules: list[tuple[list[int], list[tuple[Time, Time]]]], locale: str | None) -> list[str]:
    """One line per rule, 'Monday–Friday 09:00–17:00' in nl, 'Monday–Friday 9:00 AM – 5:00 PM' in en,
    'دوشنبه تا جمعه ۹:۰۰ تا ۱۷:۰۰' in fa: day names and times as the person's locale writes them.
    A rule is (weekday numbers, Monday = 0, [(opens, closes), ...])."""
    parsed = _locale(locale or "en")
    names = get_day_names("wide", locale=parsed)
    skeleton = "hm" if "h" in parsed.time_formats["short"].pattern else "Hm"
    lines = []
    for days, spans in rules:
        runs: list[str] = []
        start = days[0]
        for previous, day in zip(days, [*days[1:], None], strict=True):
            if day is None or day != previous + 1:
                runs.append(names[start] if start == previous else f"{names[start]}–{names[previous]}")
                start = day if day is not None else start
        times = ", ".join(format_interval(opens, closes, skeleton, locale=parsed) for opens, closes in spans)
        lines.append(native_digits(f"{', '.join(runs)} {times}", parsed.language))
    return lines


def is_right_to_left(language: str | None) -> bool:
    return (language or "").split("_")[0].split("-")[0] in RIGHT_TO_LEFT


def isolate(value: str) -> str:
    """Keep a code, number or amount in its own direction inside a right-to-left sentence,
    so '€ 17,50' or 'ABC-123' is not reordered around the Arabic words."""
    return f"{FIRST_STRONG_ISOLATE}{value}{POP_DIRECTIONAL_ISOLATE}"
