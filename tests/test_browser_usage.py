"""The voucher usage page in a real browser (Debian's Chromium through Playwright, with
tests/test_browser.py's fixtures): a supervisor goes from the weekly figures to the usage per kind,
sees the plots drawn (no script, nothing refused by the page's Content-Security-Policy), the
suppressed cells, and downloads the CSV."""
from __future__ import annotations

import csv
import io
import re

from tests.test_browser import SCREENSHOTS, browser, expect, live, page_for, sign_in  # noqa: F401  (fixtures)
from tests.test_browser_staff import add_staff
from tests.test_voucher_usage import spending  # noqa: F401  (a fixture)


def test_a_supervisor_reads_the_usage_plots_and_downloads_the_csv(browser, live, runtime, spending, backend):  # noqa: F811
    add_staff(runtime, "supervisor")
    page = page_for(browser, live)
    problems: list[str] = []
    # what the page itself needs must load and run (the browser's own favicon request aside)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400
            and not r.url.endswith("/favicon.ico") else None)
    page.on("console", lambda message: problems.append(message.text) if message.type == "error"
            and "Failed to load resource" not in message.text else None)
    sign_in(page, "supervisor@example.org")
    expect(page).to_have_url(re.compile(r"/staff/$"))
    page.goto("/staff/vouchers")
    page.click("text=Usage per kind, store and day")
    expect(page).to_have_url(re.compile(r"/staff/vouchers/usage$"))
    row = page.locator("#kind-supermarket td")
    expect(row).to_have_text(["6", "€105.00", "€77.00", "73.3 %", "47.6 %", "71.4 %", "73.3 %", "suppressed (<5)"])
    expect(page.locator("#kind-pharmacy td").first).to_have_text("suppressed (<5)")
    for chart in ("within-supermarket", "weekdays-supermarket", "stores-supermarket", "weeks-supermarket",
                  "within-pharmacy"):
        box = page.locator(f"svg#{chart}").bounding_box()
        assert box and box["width"] > 100 and box["height"] > 50, chart  # drawn, not collapsed
    bars = page.locator("svg#weekdays-supermarket rect.bar")
    expect(bars).to_have_count(7)
    widths = [float(bars.nth(i).get_attribute("width")) for i in range(7)]
    assert widths[2] > 0 and widths[3] > 0 and widths[6] == 0  # Wednesday, Thursday; Sunday suppressed
    expect(page.locator("svg#stores-supermarket")).to_contain_text("suppressed (<5)")

    with page.expect_download() as download:
        page.click("text=CSV")
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
    assert {"figure": "spent within days", "kind": "supermarket", "key": "7", "count": "5", "amount_cents": "5000",
            "share": "0.4762", "suppressed": "False"} in rows
    assert problems == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"voucher-usage-{backend}.png", full_page=True)
