"""The voucher on paper: a PDF to print at the desk, on A4 or on an 80 mm receipt printer.

For people without a smartphone or without data. It carries what the WhatsApp image carries
(vouchers/image.py: the same barcode and QR code, code, PIN, amount and valid-until, the same
translated words) so the till cannot tell paper from phone. The bars and the QR modules are
drawn as vector rectangles, not as a picture: every printer prints them as sharp as it can, at
any resolution.

Text is shaped with HarfBuzz (fpdf2 with uharfbuzz), so Arabic and Farsi letters join and run
right to left; Ethiopic (Tigrinya, Amharic) comes from the Noto Sans Ethiopic font shipped in
assets/fonts, used wherever the main font has no glyph. Pure: no database, no Flask.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date as Date
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from bot.i18n import N_, Translator
from vouchers import image
from vouchers.image import VoucherText, scan_patterns, voucher_text

# fontTools says at INFO what it drops from each font it subsets: dozens of lines per page in an
# operator's terminal, none of them news.
logging.getLogger("fontTools.subset").setLevel(logging.WARNING)

# NOTE: on the printed voucher, at the bottom: the paper is as good as money.
PAPER_NOTE = N_("Keep this paper safe: anyone with the code and PIN can spend this voucher.")


@dataclass(frozen=True)
class Paper:
    """A page size and what fits on it, in millimetres (points for type)."""

    name: str
    width: float
    height: float | None  # None: as long as the voucher (a receipt roll)
    margin: float
    module: float          # the widest bar module; narrower when the code needs more room
    bar_height: float
    qr_size: float
    sizes: tuple[float, float, float, float, float]  # program, title, code, details, small print


PAPERS = {
    "a4": Paper("a4", 210, 297, 20, 0.5, 30, 40, (22, 16, 20, 14, 11)),
    "receipt": Paper("receipt", 80, None, 4, 0.4, 20, 30, (13, 11, 13, 10, 8)),
}
LINE = 1.45  # line height, as a multiple of the type size
POINT = 25.4 / 72  # mm
# A receipt printer's dot (8 per mm, "203 dpi"). Bars a fraction of a dot wide print some one
# dot wider than others, and a till cannot read them: at 0.28 mm, 199 in 200 receipts did not scan.
DOT = 0.125
# Printers (and PDF renderers) paint every dot a bar touches, so a bar whose edges fall on dot
# boundaries grows a dot and closes the one-module space next to it; drawn a quarter dot in from
# each edge, it paints exactly its own dots. (Printers call this bar width reduction.)
BAR_TRIM = DOT / 4


def _whole_dots(mm: float) -> float:
    """`mm` rounded down to whole receipt-printer dots, at least one. An office printer's dots
    (300 or 600 dpi) are small enough that any width prints close to true."""
    return max(1, int(mm / DOT + 1e-9)) * DOT


def _on_dot(mm: float) -> float:
    return round(mm / DOT) * DOT


@dataclass(frozen=True)
class PaperVoucher:
    code: str
    pin: str
    amount_cents: int
    currency: str
    valid_until: Date
    language: str
    title: str = image.TITLE  # the kind's title (vouchers/kinds.py), untranslated


def _font_file(candidates: list[str]) -> str:
    found = next((path for path in candidates if Path(path).is_file()), None)
    if found is None:
        raise RuntimeError(f"no font for the printed voucher; install one of: {', '.join(candidates)}")
    return found


def _document() -> FPDF:
    pdf = FPDF(unit="mm")
    pdf.set_auto_page_break(False)
    pdf.set_creator("Direct Digital Aid")
    pdf.add_font("body", "", _font_file(image.FONT_CANDIDATES))
    pdf.add_font("body", "B", _font_file(image.BOLD_FONT_CANDIDATES))
    pdf.add_font("ethiopic", "", _font_file(image.ETHIOPIC_FONT_CANDIDATES))
    pdf.add_font("ethiopic", "B", _font_file(image.ETHIOPIC_BOLD_FONT_CANDIDATES))
    pdf.set_fallback_fonts(["ethiopic"])
    pdf.set_text_shaping(True)
    return pdf


class _Page:
    """Lays one voucher out from the top of the current page down; `bottom` is where it ended."""

    def __init__(self, pdf: FPDF, paper: Paper, words: VoucherText, note: str, modules: str,
                 qr: list[list[bool]]):
        self.pdf, self.paper, self.words, self.note = pdf, paper, words, note
        self.modules, self.qr = modules, qr
        self.width = paper.width - 2 * paper.margin
        self.align = Align.R if words.right_to_left else Align.L

    def text(self, text: str | None, size: float, *, bold: bool = False, align: Align | None = None) -> None:
        if not text:
            return
        self.pdf.set_font("body", "B" if bold else "", size)
        # fpdf2 2.8.9 forgets that a line which ended in the fallback (Ethiopic) font left that font
        # set in the page's text state, and would draw the next line's Latin glyph ids with it
        # (garbage): make it set the font again for every line.
        self.pdf.current_font_is_set_on_page = False
        self.pdf.set_x(self.paper.margin)
        self.pdf.multi_cell(self.width, size * LINE * POINT, text, align=align or self.align,
                            new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def gap(self, mm: float) -> None:
        self.pdf.set_y(self.pdf.get_y() + mm)

    def bars(self) -> None:
        """The modules as black rectangles, centred, with a light quiet zone each side."""
        count = len(self.modules) + 2 * image.QUIET_MODULES
        module = _whole_dots(min(self.paper.module, self.width / count))
        left = _on_dot(self.paper.margin + (self.width - len(self.modules) * module) / 2)
        top = _on_dot(self.pdf.get_y())
        start = None
        for position, dark in enumerate(self.modules + "0"):
            if dark == "1" and start is None:
                start = position
            elif dark != "1" and start is not None:
                self.pdf.rect(left + start * module + BAR_TRIM, top, (position - start) * module - 2 * BAR_TRIM,
                              self.paper.bar_height, "F")
                start = None
        self.pdf.set_y(top + self.paper.bar_height)

    def qr_code(self) -> None:
        size = len(self.qr)
        module = _whole_dots(self.paper.qr_size / size)
        left = _on_dot(self.paper.margin + (self.width - module * size) / 2)
        top = _on_dot(self.pdf.get_y())
        for row, cells in enumerate(self.qr):
            column = 0
            while column < size:
                if cells[column]:
                    end = column
                    while end < size and cells[end]:
                        end += 1
                    self.pdf.rect(left + column * module, top + row * module, (end - column) * module, module, "F")
                    column = end
                else:
                    column += 1
        self.pdf.set_y(top + module * size)

    def draw(self) -> float:
        program, title, code, details, small = self.paper.sizes
        words = self.words
        self.pdf.set_fill_color(0)
        self.pdf.set_y(self.paper.margin)
        self.text(words.program, program, bold=True)
        self.text(words.title, title)
        self.gap(3)
        self.bars()
        self.gap(2)
        self.text(words.code, code, bold=True, align=Align.C)
        self.gap(2)
        self.text(words.pin, details)
        self.text(words.amount, details, bold=True)
        self.text(words.valid_until, details)
        self.gap(3)
        self.qr_code()
        self.gap(3)
        self.text(words.at_the_till, small)
        self.text(self.note, small)
        return self.pdf.get_y() + self.paper.margin


def render_pdf(vouchers: list[PaperVoucher], *, paper: str = "a4", program: str, translator: Translator,
               symbology: str = "code128") -> bytes:
    """One page per voucher, each in its person's language; ValueError for an unknown paper or a
    code the symbology cannot carry."""
    if paper not in PAPERS:
        raise ValueError(f"unknown paper {paper!r} (known: {', '.join(PAPERS)})")
    if not vouchers:
        raise ValueError("no vouchers to print")
    size = PAPERS[paper]
    pdf = _document()
    measure = _document() if size.height is None else None
    for voucher in vouchers:
        _value, modules, qr = scan_patterns(voucher.code, symbology)
        words = voucher_text(code=voucher.code, pin=voucher.pin, amount_cents=voucher.amount_cents,
                             currency=voucher.currency, valid_until=voucher.valid_until, language=voucher.language,
                             program=program, translator=translator, title=voucher.title)
        note = translator.text(PAPER_NOTE, voucher.language)
        height = size.height
        if measure is not None:  # a receipt is cut where the voucher ends: lay it out once to know where
            measure.add_page(format=(size.width, 1000))
            height = _Page(measure, size, words, note, modules, qr).draw()
        pdf.add_page(format=(size.width, height))
        _Page(pdf, size, words, note, modules, qr).draw()
    return bytes(pdf.output())
