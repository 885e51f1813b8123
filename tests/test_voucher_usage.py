"""Voucher usage, the programme's measure of impact: per kind the share of the value spent within
7, 14 and 28 days of issue and the vouchers never used; payments per store, weekday and week;
small cells suppressed; the same figures on the staff page, in its CSV export and in
`flask vouchers stats --json`."""
import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest

from store.models import LedgerRedemption, LedgerVoucher, Store, Voucher
from tests.test_staff import signed_in
from vouchers.stats import usage_for

ISSUED = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # a Monday


def _voucher(session, kind: str, number: int, amount: int) -> LedgerVoucher:
    reference = f"{kind}:test:{number}"
    session.add(Voucher(period="2026-W49", kind=kind, provider_reference=reference, code=f"DDA-{kind[:3]}-{number}",
                        pin="1234", amount_cents=amount, currency="EUR", valid_until=ISSUED.date() + timedelta(27),
                        created_at=ISSUED))
    ledger = LedgerVoucher(reference=reference, code=f"DDA-{kind[:3]}-{number}", pin="1234", currency="EUR",
                           amount_cents=amount, balance_cents=amount, valid_until=ISSUED.date() + timedelta(27),
                           kind=kind)
    session.add(ledger)
    session.flush()
    return ledger


@pytest.fixture
def spending(runtime):
    """Six supermarket vouchers: five spend 10.00 two days after issue (a Wednesday) and 5.00
    ten days after (a Thursday) at Jumbo; two of them 1.00 at Lidl after twenty days (a Sunday);
    one is never used. Two pharmacy vouchers, one spent once: too few to show."""
    with runtime.session() as session:
        jumbo = Store(name="Jumbo Oost", key_hash="a" * 64)
        lidl = Store(name="Lidl Zuid", key_hash="b" * 64)
        benu = Store(name="BENU West", key_hash="c" * 64, kinds="pharmacy")
        session.add_all([jumbo, lidl, benu])
        session.flush()
        supermarket = [_voucher(session, "supermarket", n, 1750) for n in range(6)]
        pharmacy = [_voucher(session, "pharmacy", n, 2500) for n in range(2)]
        payments = [(v, jumbo, 2, 1000) for v in supermarket[:5]] + [(v, jumbo, 10, 500) for v in supermarket[:5]]
        payments += [(v, lidl, 20, 100) for v in supermarket[:2]] + [(pharmacy[0], benu, 3, 1200)]
        for i, (voucher, store, days, cents) in enumerate(payments):
            session.add(LedgerRedemption(voucher_id=voucher.id, store_id=store.id, transaction_id=f"t{i}",
                                         amount_cents=cents, balance_after_cents=0,
                                         at=ISSUED + timedelta(days=days, hours=2)))
        session.commit()


def test_usage_figures_per_kind_store_weekday_and_week(runtime, spending):
    with runtime.session() as session:
        usage = usage_for(session, runtime.settings)
    assert usage["min_count"] == 5
    supermarket, pharmacy = usage["kinds"]
    assert supermarket["kind"] == "supermarket" and supermarket["count"] == 6
    assert (supermarket["issued_cents"], supermarket["spent_cents"]) == (10500, 7700)
    assert supermarket["share_spent"] == pytest.approx(0.7333)
    within = {days: (cell["count"], cell["spent_cents"], cell["share_of_issued"])
              for days, cell in supermarket["spent_within"].items()}
    assert within == {"7": (5, 5000, 0.4762), "14": (5, 7500, 0.7143), "28": (5, 7700, 0.7333)}
    assert supermarket["never_used"] == {"count": None, "share_of_vouchers": None, "suppressed": True}  # one voucher
    assert pharmacy == {"kind": "pharmacy", "count": None, "issued_cents": None, "spent_cents": None,
                        "share_spent": None, "suppressed": True,
                        "spent_within": {d: {"count": None, "spent_cents": None, "share_of_issued": None,
                                             "suppressed": True} for d in ("7", "14", "28")},
                        "never_used": {"count": None, "share_of_vouchers": None, "suppressed": True}}
    stores = {(r["kind"], r["store"]): (r["count"], r["spent_cents"]) for r in usage["stores"]}
    assert stores == {("supermarket", "Jumbo Oost"): (10, 7500), ("supermarket", "Lidl Zuid"): (None, None),
                      ("pharmacy", "BENU West"): (None, None)}
    days = {(r["kind"], r["weekday"]): r["count"] for r in usage["weekdays"]}
    assert days == {("supermarket", "Wednesday"): 5, ("supermarket", "Thursday"): 5, ("supermarket", "Sunday"): None,
                    ("pharmacy", "Thursday"): None}
    weeks = {(r["kind"], r["week"]): r["count"] for r in usage["weeks"]}
    assert weeks == {("supermarket", "2026-W49"): 5, ("supermarket", "2026-W50"): 5,
                     ("supermarket", "2026-W51"): None, ("pharmacy", "2026-W49"): None}


def test_the_minimum_count_comes_from_config(runtime, spending, monkeypatch):
    monkeypatch.setattr(runtime.settings.vouchers, "stats_min_count", 2)
    with runtime.session() as session:
        usage = usage_for(session, runtime.settings)
    stores = {(r["kind"], r["store"]): r["count"] for r in usage["stores"]}
    assert stores[("supermarket", "Lidl Zuid")] == 2 and stores[("pharmacy", "BENU West")] is None
    assert usage["kinds"][1]["count"] == 2  # two pharmacy vouchers are now enough to show


def test_the_cli_prints_the_same_figures(runner, runtime, spending):
    result = runner.invoke(args=["vouchers", "stats", "--json"])
    assert result.exit_code == 0, result.output
    with runtime.session() as session:
        assert json.loads(result.output)["usage"] == usage_for(session, runtime.settings)
    text = runner.invoke(args=["vouchers", "stats"]).output
    assert "supermarket: 6 vouchers, 73% of the value spent (within 7 days 48%, 14 days 71%, 28 days 73%)" in text
    assert "pharmacy: fewer than 5 vouchers (suppressed)" in text


def test_the_csv_export_has_every_figure_and_leaves_suppressed_cells_empty(client, runner, runtime, spending):
    signed_in(client, runner, "supervisor")
    response = client.get("/staff/vouchers/usage.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    found = {(r["figure"], r["kind"], r["key"]): r for r in rows}
    assert found[("spent within days", "supermarket", "14")] | {} == {
        "figure": "spent within days", "kind": "supermarket", "key": "14", "count": "5", "amount_cents": "7500",
        "share": "0.7143", "suppressed": "False"}
    assert found[("payments per store", "supermarket", "Lidl Zuid")]["count"] == ""
    assert found[("payments per store", "supermarket", "Lidl Zuid")]["suppressed"] == "True"
    assert found[("issued", "pharmacy", "")]["amount_cents"] == ""
    assert found[("payments per week", "supermarket", "2026-W50")]["count"] == "5"
    assert "DDA-" not in response.text


def test_the_usage_page_shows_a_plot_per_kind_and_suppressed_cells(client, runner, runtime, spending):
    signed_in(client, runner, "admin")
    page = client.get("/staff/vouchers/usage").text.replace("\u00a0", " ")
    row = re.search(r'<tr class="kind-row" id="kind-supermarket">(.*?)</tr>', page, re.S).group(1)
    cells = [c.strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
    assert cells == ["supermarket", "6", "€105.00", "€77.00", "73.3 %", "47.6 %", "71.4 %", "73.3 %",
                     "suppressed (&lt;5)"]
    assert 'id="within-supermarket"' in page and 'id="within-pharmacy"' in page
    assert 'id="stores-supermarket"' in page and 'id="weeks-supermarket"' in page
    assert "Lidl Zuid: suppressed (&lt;5)" in page
    for svg in re.findall(r"<svg.*?</svg>", page, re.S):
        ElementTree.fromstring(svg)
    assert "<script" not in page and "DDA-" not in page
    assert client.get("/staff/vouchers/usage?locale=nl").text.replace("\u00a0", " ").count("€ 105,00") == 1


@pytest.mark.parametrize("role", ["agent", "editor"])
def test_only_managers_see_usage(client, runner, role):
    signed_in(client, runner, role)
    for path in ("/staff/vouchers/usage", "/staff/vouchers/usage.csv", "/staff/vouchers/usage.json"):
        assert client.get(path).status_code == 403


def test_not_signed_in_goes_to_the_sign_in_page(client):
    response = client.get("/staff/vouchers/usage.csv")
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]


def test_empty_usage_is_friendly(client, runner):
    signed_in(client, runner, "supervisor")
    page = client.get("/staff/vouchers/usage").text
    assert "No vouchers issued yet" in page and "<svg" not in page
