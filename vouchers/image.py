"""The voucher as a picture the person shows at the till from their phone.

The cashier's scanner reads a phone screen, often a cracked or dim one, so the bars are drawn
from python-barcode's module pattern at whole pixels per module, with wide quiet zones and no
smoothing: every edge is a sharp black/white step. The QR code carries the same code for tills
with a camera scanner. Everything a cashier or the person needs to read (code, PIN, amount,
valid-until) is printed in the person's language and number format, because a scan can fail
and the code then has to be typed in.

Pure: no database, no Flask. The caller passes the texts' translator and gets PNG bytes.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date as Date
from functools import lru_cache
from pathlib import Path

import barcode
import qrcode
from barcode.errors import BarcodeError
from PIL import Image, ImageDraw, ImageFont, features

from bot.formats import is_right_to_left, long_date, money
from bot.i18n import N_, Translator

SYMBOLOGIES = ("code128", "ean13")

# Fonts are tried in order. No single font covers Latin, Arabic, Cyrillic *and* Ethiopic: DejaVu
# Sans (on every Debian machine) has the first three; Ethiopic (am, ti) comes from Noto Sans
# Ethiopic, shipped in assets/fonts under the SIL Open Font License so it is there wherever the
# service runs. tests/test_voucher_glyphs.py renders every served language and fails on a missing glyph.
FONTS = Path(__file__).resolve().parent.parent / "assets" / "fonts"
FONT_CANDIDATES = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
]
BOLD_FONT_CANDIDATES = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSansBold.ttf",
]
ETHIOPIC_FONT_CANDIDATES = [str(FONTS / "NotoSansEthiopic-Regular.ttf")]
ETHIOPIC_BOLD_FONT_CANDIDATES = [str(FONTS / "NotoSansEthiopic-Bold.ttf"), *ETHIOPIC_FONT_CANDIDATES]
ETHIOPIC = ((0x1200, 0x139F), (0x2D80, 0x2DDF), (0xAB00, 0xAB2F))

# Without libraqm Pillow cannot shape Arabic or reorder right-to-left text; bidi controls would
# then print as boxes, so they are dropped in that case.
SHAPING = features.check("raqm")
LAYOUT = ImageFont.Layout.RAQM if SHAPING else ImageFont.Layout.BASIC
BIDI_CONTROLS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))

PROGRAM_NAME_SIZE, TITLE_SIZE, CODE_SIZE, TEXT_SIZE, SMALL_SIZE = 44, 30, 44, 34, 28
TARGET_WIDTH = 1000          # px; a phone shows the picture at screen width, so bars fill most of it
MARGIN = 48
QUIET_MODULES = 12           # Code 128 and EAN-13 ask for at least 10 light modules each side
MIN_MODULE_PX, MAX_MODULE_PX = 2, 8
BAR_HEIGHT = 300
QR_TARGET_PX = 240
GREY_LEVELS = [round(value / 17) for value in range(256)]
GREY_PALETTE = bytes(level * 17 for level in range(16) for _ in "rgb")
MAX_CODE128_LENGTH = 48      # longer codes squeeze the modules below what a phone screen shows well

# NOTE: printed at the top of the voucher image, under the program's name.
TITLE = N_("Supermarket voucher")
# NOTE: on the voucher image; {amount} is money in the person's locale, e.g. "€ 17,50".
AMOUNT = N_("Amount: {amount}")
# NOTE: on the voucher image; {date} is a long date, e.g. "30 June 2025".
VALID_UNTIL = N_("Valid until {date}")
# NOTE: on the voucher image, under the barcode, for the cashier to type when a scan fails.
CODE = N_("Code: {code}")
# NOTE: on the voucher image; the secret number some tills ask for with the code.
PIN = N_("PIN: {pin}")
# NOTE: on the voucher image, at the bottom. "till" = the supermarket checkout.
AT_THE_TILL = N_("Show this barcode at the till.")


def barcode_value(code: str, symbology: str = "code128") -> str:
    """The exact value the bars will carry, or a ValueError that says what is wrong with the code.

    A 12-digit EAN-13 gets its check digit appended; a 13-digit one must already carry the right
    one, since a mistyped code with a recomputed check digit would scan as someone else's voucher.
    """
    if symbology == "ean13":
        if not (code.isascii() and code.isdigit()) or len(code) not in (12, 13):
            raise ValueError(f"an EAN-13 code has 12 or 13 digits (0-9), not {code!r}")
        check = _ean13_check_digit(code[:12])
        if len(code) == 13 and code[12] != check:
            raise ValueError(f"EAN-13 {code} has check digit {code[12]}, but its first 12 digits give {check}")
        return code[:12] + check
    if symbology == "code128":
        if not code or code != code.strip():
            raise ValueError(f"a Code 128 voucher code needs characters and no surrounding spaces, not {code!r}")
        if not all(" " <= character <= "~" for character in code):
            raise ValueError(f"a Code 128 voucher code takes printable ASCII only, not {code!r}")
        if len(code) > MAX_CODE128_LENGTH:
            raise ValueError(f"a Code 128 voucher code has at most {MAX_CODE128_LENGTH} characters, not {len(code)}")
        return code
    raise ValueError(f"unknown symbology {symbology!r} (known: {', '.join(SYMBOLOGIES)})")


def _ean13_check_digit(first12: str) -> str:
    weighted = sum(int(digit) * (3 if position % 2 else 1) for position, digit in enumerate(first12))
    return str((10 - weighted % 10) % 10)


@dataclass(frozen=True)
class VoucherText:
    """The words on the voucher, apart from the picture, so they can be checked without OCR."""
    program: str
    title: str
    code: str
    pin: str | None
    amount: str
    valid_until: str
    at_the_till: str
    right_to_left: bool
    language: str


def voucher_text(*, code: str, pin: str, amount_cents: int, currency: str, valid_until: Date,
                 language: str, locale: str | None = None, program: str,
                 translator: Translator, title: str = TITLE) -> VoucherText:
    """`title` is the kind's (vouchers/kinds.py), an untranslated msgid."""
    locale = locale or language
    text = translator.text
    return VoucherText(
        program=program,
        title=text(title, language),
        code=text(CODE, language, code=code),
        pin=text(PIN, language, pin=pin) if pin else None,
        amount=text(AMOUNT, language, amount=money(amount_cents, currency, locale)),
        valid_until=text(VALID_UNTIL, language, date=long_date(valid_until, locale)),
        at_the_till=text(AT_THE_TILL, language),
        right_to_left=is_right_to_left(language),
        language=language.replace("_", "-").split("-")[0],
    )


def render_voucher(*, code: str, pin: str, amount_cents: int, currency: str, valid_until: Date,
                   language: str, locale: str | None = None, symbology: str = "code128",
                   program: str, translator: Translator, title: str = TITLE) -> bytes:
    """PNG bytes of the voucher; ValueError when the code cannot be written in the symbology."""
    value = barcode_value(code, symbology)
    words = voucher_text(code=value, pin=pin, amount_cents=amount_cents, currency=currency,
                         valid_until=valid_until, language=language, locale=locale, program=program,
                         translator=translator, title=title)
    modules = _modules(value, symbology)
    bars = _bars(modules)
    qr = _qr(value)
    return _compose(words, bars, qr)


def _modules(value: str, symbology: str) -> str:
    try:
        pattern = "".join(barcode.get_barcode_class(symbology)(value).build())
    except BarcodeError as error:
        raise ValueError(f"{symbology} cannot encode {value!r}: {error}") from error
    return pattern.replace("G", "1")


def _bars(modules: str) -> Image.Image:
    """One pixel row of modules, stretched by whole pixels with nearest-neighbour: no grey edges."""
    quiet = "0" * QUIET_MODULES
    row = (quiet + modules + quiet).encode().translate(bytes.maketrans(b"01", b"\xff\x00"))
    count = len(row)
    module_px = max(MIN_MODULE_PX, min(MAX_MODULE_PX, TARGET_WIDTH // count))
    line = Image.frombytes("L", (count, 1), row)
    return line.resize((count * module_px, BAR_HEIGHT), Image.Resampling.NEAREST)


def scan_patterns(code: str, symbology: str = "code128") -> tuple[str, str, list[list[bool]]]:
    """What a scanner reads, as patterns to draw on another medium (the printed voucher draws them
    as vector shapes): the value, the bar modules ("1" dark, without quiet zones) and the QR
    matrix (with its quiet zone). ValueError as for `barcode_value`."""
    value = barcode_value(code, symbology)
    return value, _modules(value, symbology), _qr_matrix(value)


def _qr_matrix(value: str) -> list[list[bool]]:
    maker = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    maker.add_data(value)
    maker.make(fit=True)
    return maker.get_matrix()


def _qr(value: str) -> Image.Image:
    matrix = _qr_matrix(value)
    size = len(matrix)
    pixels = bytes(0 if dark else 255 for row in matrix for dark in row)
    box = max(4, QR_TARGET_PX // size)
    return Image.frombytes("L", (size, size), pixels).resize((size * box, size * box), Image.Resampling.NEAREST)


@lru_cache(maxsize=64)
def _font(role: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    candidates = {"regular": FONT_CANDIDATES, "bold": BOLD_FONT_CANDIDATES, "ethiopic": ETHIOPIC_FONT_CANDIDATES,
                  "ethiopic-bold": ETHIOPIC_BOLD_FONT_CANDIDATES}[role]
    for path in candidates:
        if Path(path).is_file():
            return ImageFont.truetype(path, size, layout_engine=LAYOUT)
    if role.startswith("ethiopic"):
        return _font("bold" if role == "ethiopic-bold" else "regular", size)
    return ImageFont.load_default(size=size)


def _has_ethiopic(text: str) -> bool:
    return any(low <= ord(character) <= high for character in text for low, high in ETHIOPIC)


def _runs(text: str) -> list[tuple[str, bool]]:
    """Split a line into Ethiopic and other stretches, so each is drawn with a font that has it."""
    runs: list[tuple[str, bool]] = []
    for character in text:
        ethiopic = _has_ethiopic(character) or (character.isspace() and bool(runs) and runs[-1][1])
        if runs and runs[-1][1] == ethiopic:
            runs[-1] = (runs[-1][0] + character, ethiopic)
        else:
            runs.append((character, ethiopic))
    return runs


def _metrics(pieces, size: int) -> tuple[int, int]:
    font = pieces[0][1]
    return font.getmetrics() if hasattr(font, "getmetrics") else (size, size // 4)


class _Writer:
    """Lays out lines of text one under another, in the voucher's reading direction."""

    def __init__(self, words: VoucherText):
        self.rtl = words.right_to_left
        self.language = words.language

    def _options(self) -> dict:
        # direction=None lets libraqm pick each line's direction from its first strong letter: an
        # Arabic translation runs right to left, an English fallback in an Arabic voucher does not.
        return {"language": self.language} if SHAPING else {}

    def _prepare(self, text: str) -> str:
        return text if SHAPING else text.translate(BIDI_CONTROLS)

    def pieces(self, text: str, role: str, size: int) -> list[tuple[str, ImageFont.FreeTypeFont]]:
        text = self._prepare(text)
        ethiopic_role = "ethiopic-bold" if role == "bold" else "ethiopic"
        if not _has_ethiopic(text) or _font(ethiopic_role, size) is _font(role, size):
            return [(text, _font(role, size))]
        return [(run, _font(ethiopic_role if ethiopic else role, size)) for run, ethiopic in _runs(text)]

    def width(self, pieces) -> float:
        return sum(font.getlength(text, **self._options()) for text, font in pieces)

    def fit(self, text: str, role: str, size: int, room: int) -> list[tuple[list, int]]:
        """The line at its size, smaller when it is too wide, and wrapped as a last resort."""
        for tried in (size, size * 7 // 8, size * 3 // 4):
            pieces = self.pieces(text, role, tried)
            if self.width(pieces) <= room:
                return [(pieces, tried)]
        small = size * 3 // 4
        lines, current = [], ""
        for word in text.split(" "):
            candidate = f"{current} {word}" if current else word
            if current and self.width(self.pieces(candidate, role, small)) > room:
                lines.append(current)
                current = word
            else:
                current = candidate
        lines.append(current)
        fitted = []
        for line in lines:  # a word wider than the picture (a long code) is shrunk until it fits
            width = self.width(self.pieces(line, role, small))
            tried = small if width <= room else max(8, int(small * room / width) - 1)
            fitted.append((self.pieces(line, role, tried), tried))
        return fitted

    def draw(self, draw: ImageDraw.ImageDraw, pieces, size: int, left: int, right: int, top: int,
             align: str) -> int:
        """Draws one laid-out line in the band [left, right] below `top`; returns the next top."""
        ascent, descent = _metrics(pieces, size)
        width = self.width(pieces)
        if align == "center":
            x = left + (right - left - width) / 2
        elif align == "end" and self.rtl or align == "start" and not self.rtl:
            x = left
        else:
            x = right - width
        baseline = top + ascent
        for text, piece_font in pieces:
            draw.text((x, baseline), text, fill=0, font=piece_font, anchor="ls", **self._options())
            x += piece_font.getlength(text, **self._options())
        return top + ascent + descent + size // 4


def _compose(words: VoucherText, bars: Image.Image, qr: Image.Image) -> bytes:
    width = max(TARGET_WIDTH, bars.width)  # the bars bring their own quiet zones
    writer = _Writer(words)
    full = width - 2 * MARGIN
    beside_qr = full - qr.width - MARGIN // 2

    header = [(words.program, "bold", PROGRAM_NAME_SIZE), (words.title, "regular", TITLE_SIZE)]
    details = [(words.pin, "regular"), (words.amount, "bold"), (words.valid_until, "regular")]

    header_lines = [fitted for text, role, size in header for fitted in writer.fit(text, role, size, full)]
    code_lines = writer.fit(words.code, "bold", CODE_SIZE, full)
    detail_lines = [fitted for text, role in details if text
                    for fitted in writer.fit(text, role, TEXT_SIZE, beside_qr)]
    footer_lines = writer.fit(words.at_the_till, "regular", SMALL_SIZE, full)

    def height(lines) -> int:
        return sum(sum(_metrics(pieces, size)) + size // 4 for pieces, size in lines)

    gap = MARGIN // 2
    total_height = (MARGIN + height(header_lines) + gap + bars.height + gap + height(code_lines) + gap
                    + max(height(detail_lines), qr.height) + gap + height(footer_lines) + MARGIN)
    image = Image.new("L", (width, total_height), 255)
    draw = ImageDraw.Draw(image)

    top = MARGIN
    for pieces, size in header_lines:
        top = writer.draw(draw, pieces, size, MARGIN, width - MARGIN, top, "start")
    top += gap
    image.paste(bars, ((width - bars.width) // 2, top))
    top += bars.height + gap
    for pieces, size in code_lines:
        top = writer.draw(draw, pieces, size, MARGIN, width - MARGIN, top, "center")
    top += gap

    qr_x = MARGIN if words.right_to_left else width - MARGIN - qr.width
    image.paste(qr, (qr_x, top))
    text_left = MARGIN + (qr.width + MARGIN // 2 if words.right_to_left else 0)
    detail_top = top + max(0, (qr.height - height(detail_lines)) // 2)
    for pieces, size in detail_lines:
        detail_top = writer.draw(draw, pieces, size, text_left, text_left + beside_qr, detail_top, "start")
    top += max(height(detail_lines), qr.height) + gap
    for pieces, size in footer_lines:
        top = writer.draw(draw, pieces, size, MARGIN, width - MARGIN, top, "start")

    return _png(image)


def _png(image: Image.Image) -> bytes:
    """Sixteen greys in a 4-bit palette: bars stay pure black and white, text keeps its smoothing.

    zlib at its default level, not optimize=True: level 9 costs about 40 ms per voucher here (more
    than the whole render budget) to save some 7 % of a file that is already around 15 kB.
    """
    indexed = Image.frombytes("P", image.size, image.point(GREY_LEVELS).tobytes())
    indexed.putpalette(GREY_PALETTE)
    out = io.BytesIO()
    indexed.save(out, format="PNG", bits=4)
    return out.getvalue()
