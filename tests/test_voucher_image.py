"""The voucher image scans back to the exact code with a decoder we did not write (zxing-cpp),
in every language and both symbologies, and tells the person the amount in their own format."""
from __future__ import annotations

import io
import math
from datetime import date
from itertools import groupby

import pytest
import zxingcpp
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po
from PIL import Image

from bot.formats import FIRST_STRONG_ISOLATE, POP_DIRECTIONAL_ISOLATE
from bot.i18n import Translator
from vouchers import image as voucher_image
from vouchers.image import barcode_value, render_voucher, voucher_text

TRANSLATOR = Translator()
VOUCHER = dict(pin="4821", amount_cents=1750, currency="EUR", valid_until=date(2026, 12, 13),
               program="Direct Digital Aid")
LINEAR = {"code128": zxingcpp.BarcodeFormat.Code128, "ean13": zxingcpp.BarcodeFormat.EAN13}
CODES = [
    ("code128", "DDA-7K3Q-9XPL-2M4T"),
    ("code128", "AB12345X"),           # switches between Code 128 character sets
    ("code128", "20261213000042"),     # all digits: character set C
    ("code128", "voucher 7/ok"),       # lower case, space, slash
    ("ean13", "8712345678906"),
    ("ean13", "4006381333931"),
    ("ean13", "5901234123457"),
]
LANGUAGES = ["en", "nl", "ar", "uk"]


def _render(code: str, symbology: str, language: str, translator: Translator = TRANSLATOR, **extra) -> bytes:
    return render_voucher(code=code, symbology=symbology, language=language, translator=translator,
                          **{**VOUCHER, **extra})


def _decode(png: bytes) -> tuple[Image.Image, list]:
    picture = Image.open(io.BytesIO(png))
    return picture, zxingcpp.read_barcodes(picture)


def _assert_scans_as(png: bytes, symbology: str, code: str) -> list:
    _, found = _decode(png)
    linear = [(result.format, result.text) for result in found if result.format != zxingcpp.BarcodeFormat.QRCode]
    qr = [result.text for result in found if result.format == zxingcpp.BarcodeFormat.QRCode]
    assert linear == [(LINEAR[symbology], code)]
    assert qr == [code]
    return found


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("symbology, code", CODES)
def test_the_barcode_and_the_qr_code_decode_to_the_exact_code(symbology, code, language):
    png = _render(code, symbology, language)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) < 1_000_000
    _assert_scans_as(png, symbology, code)


def test_a_twelve_digit_ean13_gets_its_check_digit():
    assert barcode_value("871234567890", "ean13") == "8712345678906"
    _assert_scans_as(_render("871234567890", "ean13", "nl"), "ean13", "8712345678906")


@pytest.mark.parametrize("code, problem", [
    ("8712345678905", "check digit"),
    ("87123456789", "12 or 13 digits"),
    ("87123456789061", "12 or 13 digits"),
    ("87123456789O6", "12 or 13 digits"),
    ("٨٧١٢٣٤٥٦٧٨٩٠٦", "12 or 13 digits"),    # Arabic-Indic digits are digits to Python, not to a till
    ("", "12 or 13 digits"),
])
def test_an_invalid_ean13_is_refused_with_the_reason(code, problem):
    with pytest.raises(ValueError, match=problem):
        _render(code, "ean13", "en")


@pytest.mark.parametrize("code, symbology", [("", "code128"), ("café", "code128"), (" ABC", "code128"),
                                             ("X" * 49, "code128"), ("ABC", "qr")])
def test_codes_a_till_cannot_scan_are_refused(code, symbology):
    with pytest.raises(ValueError):
        _render(code, symbology, "en")


def test_bars_are_whole_pixels_per_module_and_pure_black_and_white():
    png = _render("DDA-7K3Q-9XPL-2M4T", "code128", "nl")
    picture, found = _decode(png)
    bars = next(result for result in found if result.format == zxingcpp.BarcodeFormat.Code128)
    middle = (bars.position.top_left.y + bars.position.bottom_left.y) // 2
    grey = picture.convert("L")
    row = [grey.getpixel((x, middle)) for x in range(grey.width)]
    assert set(row) <= {0, 255}
    runs = [len(list(run)) for _, run in groupby(row)]
    module = math.gcd(*runs[1:-1])                              # inner bars and spaces
    assert module >= voucher_image.MIN_MODULE_PX
    assert min(runs[0], runs[-1]) >= 10 * module                # quiet zones of at least 10 modules


def test_the_amount_and_date_are_in_the_persons_locale():
    dutch = voucher_text(code="X1", language="nl", translator=TRANSLATOR, **VOUCHER)
    assert "17,50" in dutch.amount and "december" in dutch.valid_until
    english = voucher_text(code="X1", language="en", translator=TRANSLATOR, **VOUCHER)
    assert "€17.50" in english.amount and "December 13, 2026" in english.valid_until
    egyptian = voucher_text(code="X1", language="ar", locale="ar_EG", translator=TRANSLATOR, **VOUCHER)
    assert "١٧٫٥٠" in egyptian.amount and egyptian.right_to_left
    assert f"{FIRST_STRONG_ISOLATE}X1{POP_DIRECTIONAL_ISOLATE}" in egyptian.code


def test_without_a_pin_there_is_no_pin_line():
    words = voucher_text(code="X1", language="en", translator=TRANSLATOR, **{**VOUCHER, "pin": ""})
    assert words.pin is None
    _assert_scans_as(_render("X1", "code128", "en", pin=""), "code128", "X1")


TRANSLATIONS = {
    "ar": {"Supermarket voucher": "قسيمة السوبرماركت", "Amount: {amount}": "المبلغ: {amount}",
           "Valid until {date}": "صالحة حتى {date}", "Code: {code}": "الرمز: {code}",
           "PIN: {pin}": "الرقم السري: {pin}", "Show this barcode at the till.": "أظهر هذا الباركود عند الصندوق."},
    "uk": {"Supermarket voucher": "Ваучер у супермаркет", "Amount: {amount}": "Сума: {amount}",
           "Valid until {date}": "Дійсний до {date}", "Code: {code}": "Код: {code}",
           "PIN: {pin}": "PIN: {pin}", "Show this barcode at the till.": "Покажіть цей штрихкод на касі."},
}


@pytest.fixture
def translated(tmp_path) -> Translator:
    """Catalogs that have the voucher's texts, whatever state the project's catalogs are in."""
    for language, texts in TRANSLATIONS.items():
        folder = tmp_path / language / "LC_MESSAGES"
        folder.mkdir(parents=True)
        catalog = Catalog(locale=language)
        for source, text in texts.items():
            catalog.add(source, text)
        with (folder / "messages.po").open("wb") as handle:
            write_po(handle, catalog)
    return Translator(tmp_path)


def test_translated_vouchers_scan_and_read_right_to_left_in_arabic(translated):
    words = voucher_text(code="DDA-7K3Q", language="ar", translator=translated, **VOUCHER)
    assert words.amount.startswith("المبلغ") and words.right_to_left
    ukrainian = voucher_text(code="DDA-7K3Q", language="uk", translator=translated, **VOUCHER)
    assert ukrainian.amount == "Сума: 17,50\u00a0EUR" and not ukrainian.right_to_left

    arabic_png = _render("DDA-7K3Q", "code128", "ar", translated)
    picture, found = _decode(arabic_png)
    _assert_scans_as(arabic_png, "code128", "DDA-7K3Q")
    qr = next(result for result in found if result.format == zxingcpp.BarcodeFormat.QRCode)
    assert qr.position.top_left.x < picture.width / 2          # the QR code sits at the end of the line: left
    ukrainian_png = _render("DDA-7K3Q", "code128", "uk", translated)
    picture, found = _decode(ukrainian_png)
    qr = next(result for result in found if result.format == zxingcpp.BarcodeFormat.QRCode)
    assert qr.position.top_left.x > picture.width / 2


def test_long_texts_shrink_or_wrap_instead_of_running_off_the_picture():
    png = _render("DDA-7K3Q", "code128", "nl", program="Stichting Directe Digitale Hulp voor Mensen Zonder Papieren "
                                                       "in Amsterdam, Rotterdam en Den Haag")
    picture, _ = _decode(png)
    assert picture.width == voucher_image.TARGET_WIDTH
    _assert_scans_as(png, "code128", "DDA-7K3Q")


def test_mixed_ethiopic_and_latin_lines_are_split_per_script():
    """Each stretch is drawn with a font that has it (tests/test_voucher_glyphs.py checks every language)."""
    assert voucher_image._runs("Valid until 30 ጁን 2025") == [("Valid until 30 ", False), ("ጁን ", True),
                                                             ("2025", False)]
    _assert_scans_as(_render("ABC-123", "code128", "am"), "code128", "ABC-123")
