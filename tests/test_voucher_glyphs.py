"""Every served language is readable on the voucher image: no character drawn as an empty box
("tofu"), Tigrinya and Amharic included, and Arabic and Farsi letters joined as they are written.

A character is missing from a font when the font draws it exactly like a code point no font has
(the .notdef glyph); each check asks the font the voucher code actually chose for that stretch of text.
"""
from __future__ import annotations

import io
import unicodedata
from datetime import date
from pathlib import Path

import pytest
import yaml
import zxingcpp
from PIL import Image

from bot.i18n import Translator
from vouchers import image as voucher_image
from vouchers.image import render_voucher, voucher_text

CONFIGURED = yaml.safe_load((Path(__file__).parent.parent / "config.yml").read_text(encoding="utf-8"))["languages"]
LANGUAGES = [*CONFIGURED["program"], *CONFIGURED["served"]]
TRANSLATOR = Translator()
VOUCHER = dict(code="DDA-7K3Q-9XPL", pin="4821", amount_cents=1750, currency="EUR", valid_until=date(2026, 12, 13),
               program="Direct Digital Aid")
NOWHERE = "\U000f0000"  # a private-use code point: every font draws its .notdef glyph for it


def _drawing(font, text: str) -> tuple:
    mask = font.getmask(text)
    return mask.size, bytes(mask)


def missing_glyphs(font, text: str) -> list[str]:
    notdef = _drawing(font, NOWHERE)
    return [character for character in dict.fromkeys(text)
            if not character.isspace() and unicodedata.category(character) not in ("Cf", "Mn")
            and _drawing(font, character) == notdef]


def _lines(words) -> list[tuple[str, str, int]]:
    return [(words.program, "bold", voucher_image.PROGRAM_NAME_SIZE),
            (words.title, "regular", voucher_image.TITLE_SIZE),
            (words.code, "bold", voucher_image.CODE_SIZE), (words.pin, "regular", voucher_image.TEXT_SIZE),
            (words.amount, "bold", voucher_image.TEXT_SIZE), (words.valid_until, "regular", voucher_image.TEXT_SIZE),
            (words.at_the_till, "regular", voucher_image.SMALL_SIZE)]


def test_the_detector_finds_tofu():
    """A Latin-only font has no Ethiopic letters, and says so."""
    latin = voucher_image._font("regular", 30)
    assert missing_glyphs(latin, "ቫውቸር") == ["ቫ", "ው", "ቸ", "ር"]
    assert missing_glyphs(latin, "Voucher €17,50") == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_character_on_the_voucher_has_a_glyph(language):
    words = voucher_text(language=language, translator=TRANSLATOR, **VOUCHER)
    if language != "en":
        assert words.title != "Supermarket voucher", f"the voucher is not translated into {language}"
    writer = voucher_image._Writer(words)
    for text, role, size in _lines(words):
        for piece, font in writer.pieces(text, role, size):
            assert missing_glyphs(font, piece) == [], f"{language}: {text!r} would show empty boxes"

    png = render_voucher(language=language, translator=TRANSLATOR, **VOUCHER)
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert sorted(result.text for result in found) == [VOUCHER["code"]] * 2


@pytest.mark.parametrize("language", ["ti", "am"])
def test_ethiopic_text_is_drawn_with_the_shipped_ethiopic_font(language):
    words = voucher_text(language=language, translator=TRANSLATOR, **VOUCHER)
    pieces = voucher_image._Writer(words).pieces(words.at_the_till, "regular", 30)
    fonts = {font.path.rsplit("/", 1)[-1] for text, font in pieces if any(0x1200 <= ord(c) <= 0x139F for c in text)}
    assert fonts == {"NotoSansEthiopic-Regular.ttf"}


@pytest.mark.parametrize("language, word", [("ar", "السوبرماركت"), ("fa", "فروشگاه")])
def test_arabic_and_farsi_letters_are_joined(language, word):
    """Shaped text uses each letter's joining form: drawn together it differs from the letters side by side."""
    assert voucher_image.SHAPING, "Pillow has no libraqm: Arabic and Farsi would print as separate letters"
    font = voucher_image._font("regular", 40)
    joined = font.getmask(word, language=language)
    apart = sum(font.getlength(letter, language=language) for letter in word)
    assert joined.size[0] < apart * 0.9
