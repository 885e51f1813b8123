"""Vouchers on paper: `flask vouchers print` and the PDF it writes.

What the desk and the till notice: each page, rendered to an image as a printer would, has a
barcode and a QR code that scan as that voucher's code; the words are in the person's language
and readable (Arabic joined and right to left, Tigrinya in an Ethiopic font, no empty boxes); a
receipt page is 80 mm wide; people served on paper get no WhatsApp notice; each print is in the
audit log and the voucher counts as handed out in person.
"""
from __future__ import annotations

import ctypes
import random
from datetime import date
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
import pytest
import zxingcpp
from fontTools.ttLib import TTFont
from sqlalchemy import select

from bot.i18n import Translator
from store.models import AuditEntry, Voucher
from tests.test_staff import create_user, csrf, signed_in
from tests.test_voucher_glyphs import LANGUAGES
from vouchers import image
from vouchers.image import voucher_text
from vouchers.paper import PAPER_NOTE, PaperVoucher, render_pdf
from vouchers.provider import CODE_ALPHABET

PERIOD = "2026-W49"
ARABIC, TIGRINYA, DUTCH = "+31612350001", "+31612350002", "+31612350003"
TRANSLATOR = Translator()
VOUCHER = dict(code="DDA-7K3Q-9XPL", pin="4821", amount_cents=1750, currency="EUR", valid_until=date(2026, 12, 13))
DPI = 200
MM = 72 / 25.4  # PDF points per millimetre


def pages(pdf: bytes, dpi: float = DPI) -> list[tuple[object, str, tuple[float, float]]]:
    """Each page as an image (as printed at `dpi`), its text, and its size in millimetres."""
    document = pdfium.PdfDocument(pdf)
    found = []
    for page in document:
        width, height = page.get_size()
        text = page.get_textpage().get_text_range()
        found.append((page.render(scale=dpi / 72).to_pil(), text, (width / MM, height / MM)))
    return found


def scanned(picture) -> list[str]:
    return sorted(result.text for result in zxingcpp.read_barcodes(picture))


def drawn_with(pdf: bytes, page: int = 0) -> list[tuple[str, str]]:
    """Each character on the page with the font pdfium draws it with (subset prefix dropped)."""
    textpage = pdfium.PdfDocument(pdf)[page].get_textpage()
    found = []
    for index in range(textpage.count_chars()):
        name = ctypes.create_string_buffer(128)
        pdfium_raw.FPDFText_GetFontInfo(textpage, index, name, 128, ctypes.byref(ctypes.c_int()))
        character = chr(pdfium_raw.FPDFText_GetUnicode(textpage, index))
        if name.value and not character.isspace():
            found.append((character, name.value.decode().split("+", 1)[-1]))
    return found


def ethiopic(character: str) -> bool:
    return any(low <= ord(character) <= high for low, high in image.ETHIOPIC)


def wrong_fonts(pdf: bytes, page: int = 0) -> list[tuple[str, str]]:
    """Characters drawn with the wrong font: Ethiopic letters not with Noto Sans Ethiopic (tofu),
    anything else not with the main font (Latin glyph numbers looked up in the Ethiopic font
    print as garbage)."""
    return [(c, font) for c, font in drawn_with(pdf, page) if ethiopic(c) != font.startswith("NotoSansEthiopic")]


def covered(text: str) -> list[str]:
    """The characters of `text` that neither the main font nor the Ethiopic font has (tofu)."""
    maps = [TTFont(path).getBestCmap() for path in (image.FONT_CANDIDATES[0], image.ETHIOPIC_FONT_CANDIDATES[0])]
    return [c for c in dict.fromkeys(text) if not c.isspace() and ord(c) not in maps[0] and ord(c) not in maps[1]
            and not 0x2066 <= ord(c) <= 0x2069]


# --- the PDF itself -----------------------------------------------------------------------------

@pytest.mark.parametrize("paper", ["a4", "receipt"])
def test_every_language_prints_a_page_that_scans_and_reads(paper):
    pdf = render_pdf([PaperVoucher(language=language, **VOUCHER) for language in LANGUAGES], paper=paper,
                     program="Direct Digital Aid", translator=TRANSLATOR)
    printed = pages(pdf)
    assert len(printed) == len(LANGUAGES)
    for language, (picture, text, (width, height)) in zip(LANGUAGES, printed, strict=True):
        assert scanned(picture) == [VOUCHER["code"]] * 2, language  # the bars and the QR code
        assert round(width) == (210 if paper == "a4" else 80), language
        assert height < 297 if paper == "receipt" else round(height) == 297
        words = voucher_text(language=language, translator=TRANSLATOR, program="Direct Digital Aid", **VOUCHER)
        note = TRANSLATOR.text(PAPER_NOTE, language)
        if language != "en":
            assert words.title != "Supermarket voucher" and note != PAPER_NOTE, f"not translated into {language}"
        for line in (words.title, words.amount, note):
            assert covered(line) == [], f"{language}: {line!r} has characters no font draws"
        assert words.title.replace(" ", "") in text.replace(" ", "").replace("\n", ""), language
    assert [wrong_fonts(pdf, page) for page in range(len(LANGUAGES))] == [[]] * len(LANGUAGES)


def test_any_code_scans_on_a_receipt_as_receipt_and_office_printers_print_it():
    """Receipt printers have 8 dots a millimetre (203 dpi); bars a fraction of a dot wide printed
    some a dot wider than others, and nearly every receipt failed to scan at the till."""
    alphabet = random.Random(49)
    codes = ["DDA-83V7-WHCN-3VAH"] + ["DDA-" + "-".join("".join(alphabet.choice(CODE_ALPHABET) for _ in range(4))
                                                        for _ in range(3)) for _ in range(24)]
    pdf = render_pdf([PaperVoucher(language="en", **{**VOUCHER, "code": code}) for code in codes], paper="receipt",
                     program="Direct Digital Aid", translator=TRANSLATOR)
    for dpi in (203.2, 300):
        unreadable = [code for code, (picture, _text, _size) in zip(codes, pages(pdf, dpi), strict=True)
                      if scanned(picture) != [code] * 2]
        assert unreadable == [], f"at {dpi} dpi"


def test_ethiopic_comes_from_the_shipped_font_and_arabic_is_shaped():
    for language in ("ti", "am"):
        pdf = render_pdf([PaperVoucher(language=language, **VOUCHER)], paper="receipt", program="Direct Digital Aid",
                         translator=TRANSLATOR)
        fonts = {font for c, font in drawn_with(pdf) if ethiopic(c)}
        assert fonts == {"NotoSansEthiopic", "NotoSansEthiopicBold"} and wrong_fonts(pdf) == [], language
    arabic = render_pdf([PaperVoucher(language="ar", **VOUCHER)], paper="a4", program="Direct Digital Aid",
                        translator=TRANSLATOR)
    assert {font for _c, font in drawn_with(arabic)} == {"DejaVuSansBook", "DejaVuSansBold"}
    [(picture, text, _size)] = pages(arabic)
    title = voucher_text(language="ar", translator=TRANSLATOR, program="x", **VOUCHER).title
    assert title in text  # letters kept in reading order, joined by the shaper
    # right to left: the title ends at the right margin, so the left half of its line is blank
    gray = picture.convert("L")
    top = int(20 * DPI / 25.4) + int(14 * DPI / 25.4)  # below the programme name
    band = gray.crop((0, top, gray.width, top + int(8 * DPI / 25.4)))
    left, right = band.crop((0, 0, band.width // 2, band.height)), band.crop((band.width // 2, 0, band.width,
                                                                            band.height))
    assert min(left.getextrema()) > 200 and min(right.getextrema()) < 100


def test_unknown_paper_and_bad_codes_are_refused():
    with pytest.raises(ValueError, match="unknown paper"):
        render_pdf([PaperVoucher(language="en", **VOUCHER)], paper="letter", program="x", translator=TRANSLATOR)
    with pytest.raises(ValueError, match="printable ASCII"):
        render_pdf([PaperVoucher(language="en", **{**VOUCHER, "code": "DDA-ሀ"})], program="x", translator=TRANSLATOR)


# --- flask vouchers print -----------------------------------------------------------------------

def run(runner, *args):
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def people(runner, runtime):
    """Two people registered at the desk without WhatsApp (Arabic, Tigrinya), one with (Dutch),
    all included and given this week's voucher."""
    create_user(runner, "desk@example.org", "agent")
    for phone, language, whatsapp in ((ARABIC, "ar", "--no-whatsapp"), (TIGRINYA, "ti", "--no-whatsapp"),
                                      (DUTCH, "nl", "--whatsapp")):
        run(runner, "registrations", "add", "--phone", phone, "--name", "Amina", "--language", language,
            "--consent-by", "desk@example.org", whatsapp)
        for status in ("verified", "included"):
            run(runner, "registrations", "set-status", "--phone", phone, "--status", status, "--reason", "ok")
    run(runner, "vouchers", "issue", "--period", PERIOD)
    runtime.tasks.drain()


def codes(runtime) -> dict[int, Voucher]:
    with runtime.session() as session:
        return {v.contact.phone: v for v in session.scalars(select(Voucher).order_by(Voucher.id))
                if v.contact is not None}


def test_all_paper_prints_a_scannable_page_per_person_on_paper_and_marks_them(runner, runtime, people, twilio,
                                                                             tmp_path: Path):
    assert twilio.sent(ARABIC) == [] and twilio.sent(TIGRINYA) == []  # no WhatsApp: no notices, ever
    out = tmp_path / "desk.pdf"
    output = run(runner, "vouchers", "print", "--period", PERIOD, "--all-paper", "--out", str(out))
    assert "2 voucher(s) of 2026-W49 written" in output
    vouchers = codes(runtime)
    printed = pages(out.read_bytes())
    assert [scanned(picture) for picture, _text, _size in printed] == [
        [vouchers[ARABIC].code] * 2, [vouchers[TIGRINYA].code] * 2]
    assert "قسيمة" in printed[0][1] and "ኩፖን" in printed[1][1]
    assert wrong_fonts(out.read_bytes(), 0) == wrong_fonts(out.read_bytes(), 1) == []
    for phone in (ARABIC, TIGRINYA):
        assert vouchers[phone].handed_out_at is not None and vouchers[phone].handed_out_by == "cli"
        assert vouchers[phone].claimed_at is not None
    assert vouchers[DUTCH].handed_out_at is None
    with runtime.session() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "printed voucher")))
    assert sorted(e.subject for e in entries) == sorted(f"voucher:{vouchers[p].id}" for p in (ARABIC, TIGRINYA))
    assert all("handed out in person" in e.detail and "+316" not in e.detail for e in entries)


def test_one_person_on_a_receipt_printer_and_a_reprint_is_audited_again(runner, runtime, people, tmp_path):
    out = tmp_path / "receipt.pdf"
    run(runner, "vouchers", "print", "--period", PERIOD, "--phone", "06 1235 0003", "--paper", "receipt",
        "--out", str(out))
    [(picture, _text, (width, _height))] = pages(out.read_bytes())
    assert round(width) == 80 and scanned(picture) == [codes(runtime)[DUTCH].code] * 2
    first = codes(runtime)[DUTCH].handed_out_at
    run(runner, "vouchers", "print", "--period", PERIOD, "--phone", DUTCH, "--out", str(out))
    assert codes(runtime)[DUTCH].handed_out_at == first
    with runtime.session() as session:
        details = [e.detail for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "printed voucher"))]
    assert details == ["2026-W49 on receipt paper; handed out in person",
                       "2026-W49 on a4 paper; handed out in person again"]


def test_print_refuses_clearly(runner, runtime, people, tmp_path):
    out = str(tmp_path / "x.pdf")
    cases = [
        (["--period", PERIOD, "--out", out], "give either --phone or --all-paper"),
        (["--period", PERIOD, "--phone", DUTCH, "--all-paper", "--out", out], "give either --phone or --all-paper"),
        (["--period", "week 49", "--all-paper", "--out", out], "is no voucher period"),
        (["--period", "2026-12", "--all-paper", "--out", out], "Nobody served on paper has a voucher"),  # a month
        (["--period", "2026-W48", "--phone", DUTCH, "--out", out], "no voucher to print for 2026-W48"),
        (["--period", "2026-W48", "--all-paper", "--out", out], "Nobody served on paper has a voucher"),
        (["--period", PERIOD, "--phone", "+31612359999", "--out", out], "no one is registered with that number"),
        (["--period", PERIOD, "--phone", "12", "--out", out], "Invalid value for --phone"),
    ]
    for args, message in cases:
        result = runner.invoke(args=["vouchers", "print", *args])
        assert result.exit_code != 0 and message in result.output, (args, result.output)
    assert not Path(out).exists()


# --- the buttons on the staff pages -------------------------------------------------------------

def registration_id(runtime, phone) -> int:
    return codes(runtime)[phone].registration_id


def test_print_voucher_button_on_the_persons_page_gives_a_scannable_pdf(client, runner, runtime, people):
    signed_in(client, runner, "supervisor")
    rid = registration_id(runtime, TIGRINYA)
    page = client.get(f"/staff/registrations/{rid}").text
    assert 'id="print-voucher"' in page
    response = client.post(f"/staff/desk/{rid}/print", data={"csrf_token": csrf(client, f"/staff/registrations/{rid}"),
                                                            "paper": "receipt", "back": "registration"})
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    [(picture, text, (width, _height))] = pages(response.data)
    assert scanned(picture) == [codes(runtime)[TIGRINYA].code] * 2 and round(width) == 80 and "ኩፖን" in text
    assert codes(runtime)[TIGRINYA].handed_out_by == "staff:supervisor@example.org"
    desk = client.get(f"/staff/desk/{rid}").text
    assert "€17.50" in desk and "received" in desk  # the balance, and handed out counts as received


def test_the_desk_shows_the_balance_and_sends_vouchers_again(client, runner, runtime, people, twilio):
    signed_in(client, runner, "agent")
    rid = registration_id(runtime, DUTCH)
    page = client.get(f"/staff/desk/{rid}").text
    assert "€17.50" in page and 'id="resend"' in page and 'id="print"' in page
    token = csrf(client, f"/staff/desk/{rid}")
    sent = client.post(f"/staff/desk/{rid}/resend", data={"csrf_token": token}, follow_redirects=True)
    assert "1 voucher queued: the 24-hour window is closed" in sent.text
    again = client.post(f"/staff/desk/{rid}/resend", data={"csrf_token": token}, follow_redirects=True)
    assert "nothing sent twice" in again.text
    with runtime.session() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "resent voucher"))
        assert entry.actor == "staff:agent@example.org" and entry.detail == "desk"


def test_partners_cannot_print(client, runner, runtime, people):
    signed_in(client, runner, "partner", partner="Partner A")
    rid = registration_id(runtime, TIGRINYA)
    response = client.post(f"/staff/desk/{rid}/print", data={"csrf_token": csrf(client, "/staff/")})
    assert response.status_code == 403
    assert codes(runtime)[TIGRINYA].handed_out_at is None


def test_a_monthly_pharmacy_voucher_prints_with_its_own_title(runner, runtime, people, tmp_path):
    run(runner, "registrations", "flag", "--phone", ARABIC, "--flag", "pharmacy")
    run(runner, "vouchers", "issue", "--kind", "pharmacy", "--period", "2026-12")
    out = tmp_path / "pharmacy.pdf"
    assert "1 voucher(s) of 2026-12" in run(runner, "vouchers", "print", "--period", "2026-12", "--all-paper",
                                            "--out", str(out))
    with runtime.session() as session:
        pharmacy = session.scalar(select(Voucher).where(Voucher.kind == "pharmacy"))
    [(picture, text, _size)] = pages(out.read_bytes())
    assert scanned(picture) == [pharmacy.code] * 2
    title = TRANSLATOR.text("Pharmacy voucher", "ar")
    assert title != "Pharmacy voucher" and title in text
