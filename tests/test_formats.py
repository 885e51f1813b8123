"""Money and dates in the person's locale; numbers readable inside right-to-left text."""
from datetime import date

import pytest

from bot.formats import FIRST_STRONG_ISOLATE, POP_DIRECTIONAL_ISOLATE, long_date, money, weekday
from bot.i18n import Translator


@pytest.mark.parametrize("locale, expected", [
    ("nl", "€\u00a017,50"), ("fr", "17,50\u00a0€"), ("en", "€17.50"), ("fa", "\u200e€\u00a0۱۷٫۵۰"),
    ("ar_EG", "\u200f١٧٫٥٠\u00a0€"),
])
def test_money_in_the_persons_locale(locale, expected):
    assert money(1750, "EUR", locale) == expected


def test_dates_and_weekdays_are_not_dutch_for_everyone():
    monday = date(2026, 12, 7)
    assert weekday(monday, "nl") == "maandag"
    assert weekday(monday, "fr") == "lundi"
    assert weekday(monday, "ar") == "الاثنين"
    assert long_date(monday, "es") == "7 de diciembre de 2026"
    assert long_date(monday, "fa") == "۷ دسامبر ۲۰۲۶"


def test_values_inside_arabic_text_are_isolated_and_latin_text_is_not(tmp_path):
    translator = Translator()
    arabic = translator.text("Welcome to {program}. Here you can get help in your own language. What you write "
                             "here stays private: only our team can read it, and you can delete it at any time.",
                             "ar", program="Direct Digital Aid")
    assert f"{FIRST_STRONG_ISOLATE}Direct Digital Aid{POP_DIRECTIONAL_ISOLATE}" in arabic
    dutch = translator.text("Welcome to {program}. Here you can get help in your own language. What you write "
                            "here stays private: only our team can read it, and you can delete it at any time.",
                            "nl", program="Direct Digital Aid")
    assert FIRST_STRONG_ISOLATE not in dutch and "Direct Digital Aid" in dutch
