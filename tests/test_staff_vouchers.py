"""The staff page of voucher figures: who may see it, what it shows, and what it never shows."""
import re
from xml.etree import ElementTree

import pytest

from tests.test_staff import signed_in
from tests.test_vouchers import PERIOD, PHONE, include, redeem, run, vouchers
from vouchers.stats import weekly_stats


@pytest.fixture
def store_key(runner):
    result = runner.invoke(args=["vouchers", "add-store", "Albert Heijn Centrum"])
    assert result.exit_code == 0
    return result.output.strip()


def spend_one(whatsapp, runner, runtime, client, store_key):
    include(whatsapp, runner, runtime)
    run(runner, runtime, "vouchers", "issue", "--period", PERIOD, "--no-notify")
    assert redeem(client, store_key, vouchers(runtime)[0].code, 700, "till-1").status_code == 200


def bar_values(page: str, series: str) -> list[int]:
    return [int(v) for v in re.findall(rf'class="bar bar-{series}"[^>]*data-value="(\d+)"', page)]


@pytest.mark.parametrize("role", ["agent", "editor", "partner"])
def test_other_roles_are_refused(client, runner, role):
    signed_in(client, runner, role, partner="Stichting Hulp" if role == "partner" else None)
    assert client.get("/staff/vouchers").status_code == 403
    assert client.get("/staff/vouchers.json").status_code == 403
    assert 'href="/staff/vouchers"' not in client.get("/staff/").text


def test_not_signed_in_goes_to_the_sign_in_page(client):
    response = client.get("/staff/vouchers")
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]


def test_empty_state_is_friendly(client, runner):
    signed_in(client, runner, "supervisor")
    page = client.get("/staff/vouchers")
    assert page.status_code == 200
    assert "No vouchers issued yet" in page.text and "<svg" not in page.text
    assert client.get("/staff/vouchers.json").json["weeks"] == []


def test_supervisor_sees_the_week_and_the_charts(client, runner, runtime, whatsapp, store_key):
    spend_one(whatsapp, runner, runtime, client, store_key)
    signed_in(client, runner, "supervisor")
    response = client.get("/staff/vouchers")
    assert response.status_code == 200
    page = response.text.replace("\u00a0", " ")
    row = re.search(rf'<tr class="week-row" id="week-{PERIOD}">(.*?)</tr>', page, re.S).group(1)
    cells = [c.strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
    assert cells == [PERIOD, "1", "0", "0", "€17.50", "€7.00", "40.0 %"]
    assert page.count("<svg") == 4
    assert bar_values(page, "issued") == [1] and bar_values(page, "claimed") == [0]
    assert bar_values(page, "delivered") == [0] and bar_values(page, "spent_cents") == [700]
    assert bar_values(page, "stores") == [1]
    assert re.search(r'data-name="Albert Heijn Centrum">.*?data-value="1"', page, re.S)
    days = re.findall(r'<g class="row" data-name="(\w+)">.*?data-value="(\d+)"', page.split('id="weekdays"')[1], re.S)
    assert [d for d, _ in days] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert sum(int(v) for _, v in days) == 1
    assert "style=" not in page and "<script" not in page
    assert '<a href="/staff/vouchers">Voucher figures</a>' in page  # the navigation links here
    for svg in re.findall(r"<svg.*?</svg>", page, re.S):
        ElementTree.fromstring(svg)  # well-formed


def test_amounts_follow_the_locale(client, runner, runtime, whatsapp, store_key):
    spend_one(whatsapp, runner, runtime, client, store_key)
    signed_in(client, runner, "admin")
    page = client.get("/staff/vouchers?locale=nl").text.replace("\u00a0", " ")
    assert "€ 17,50" in page and "€ 7,00" in page


def test_the_page_never_names_the_person(client, runner, runtime, whatsapp, store_key):
    spend_one(whatsapp, runner, runtime, client, store_key)
    signed_in(client, runner, "admin")
    for path in ("/staff/vouchers", "/staff/vouchers?locale=nl", "/staff/vouchers.json"):
        text = client.get(path).get_data(as_text=True)
        assert "Amina" not in text
        assert PHONE not in text and PHONE[1:] not in text and "612000001" not in text
        assert vouchers(runtime)[0].code not in text


def test_json_matches_the_stats(client, runner, runtime, whatsapp, store_key):
    spend_one(whatsapp, runner, runtime, client, store_key)
    signed_in(client, runner, "supervisor")
    response = client.get("/staff/vouchers.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    with runtime.session() as session:
        assert response.json == weekly_stats(session)
    assert response.json["weeks"][0]["spent_cents"] == 700
