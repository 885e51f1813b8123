"""Voucher figures for staff: per ISO week a table and charts, aggregates only.

The charts are SVG drawn here on the server (no scripts, no libraries), so they pass the staff
pages' Content-Security-Policy. Nothing on this page names or numbers a person: every figure
comes from vouchers.stats.weekly_stats, which only counts and sums.
"""
from __future__ import annotations

from babel.numbers import format_decimal, format_percent
from flask import Blueprint, current_app, jsonify, render_template, request

from bot.formats import money
from staff.auth import role_required
from vouchers.stats import weekly_stats

MANAGERS = ("admin", "supervisor")
LOCALES = ("en", "nl")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SERIES = (("issued", "Issued"), ("delivered", "Delivered"), ("claimed", "Claimed"))

# Chart geometry, in SVG user units (the viewBox scales it to the page).
LEFT, RIGHT, TOP, BOTTOM = 76, 12, 12, 40
PLOT_HEIGHT = 180
GROUP_WIDTH = 72
BAR_HEIGHT, BAR_GAP, LABEL_WIDTH, HBAR_WIDTH = 20, 8, 170, 360

blueprint = Blueprint("vouchers", __name__)


def _runtime():
    return current_app.extensions["dda"]


def _locale() -> str:
    chosen = request.args.get("locale", "en")
    return chosen if chosen in LOCALES else "en"


def _nice_max(value: float) -> float:
    """A round top for the axis at or above `value` (1, 2, 5 × a power of ten)."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _ticks(top: int) -> list[int]:
    """Whole-number ticks: top is 1, 2 or a multiple of 5 (see _nice_max)."""
    count = min(top, 5)
    return [top * i // count for i in range(count + 1)]


def _vertical_chart(weeks: list[dict], series: list[tuple[str, str]], *, label) -> dict:
    """Grouped vertical bars: one group per week, one bar per series."""
    top = _nice_max(max((w[key] for w in weeks for key, _ in series), default=0))
    per_bar = (GROUP_WIDTH - 16) / len(series)
    width = LEFT + GROUP_WIDTH * len(weeks) + RIGHT
    height = TOP + PLOT_HEIGHT + BOTTOM
    base = TOP + PLOT_HEIGHT
    groups = []
    for i, week in enumerate(weeks):
        x0 = LEFT + i * GROUP_WIDTH + 8
        bars = []
        for j, (key, name) in enumerate(series):
            value = week[key]
            h = round(PLOT_HEIGHT * value / top, 1)
            bars.append({"key": key, "name": name, "value": value, "text": label(value),
                         "x": round(x0 + j * per_bar, 1), "y": round(base - h, 1), "width": round(per_bar - 2, 1),
                         "height": h})
        groups.append({"period": week["period"], "center": x0 + (GROUP_WIDTH - 16) / 2, "bars": bars})
    ticks = [{"y": round(base - PLOT_HEIGHT * t / top, 1), "text": label(t)} for t in _ticks(top)]
    return {"width": width, "height": height, "left": LEFT, "right": width - RIGHT, "base": base,
            "label_y": base + 18, "groups": groups, "ticks": ticks, "series": series}


def _horizontal_chart(rows: list[tuple[str, int]], *, label) -> dict:
    top = _nice_max(max((value for _, value in rows), default=0))
    bars = []
    for i, (name, value) in enumerate(rows):
        y = TOP + i * (BAR_HEIGHT + BAR_GAP)
        w = round(HBAR_WIDTH * value / top, 1)
        bars.append({"name": name, "value": value, "text": label(value), "y": y, "width": w,
                     "text_y": y + BAR_HEIGHT / 2 + 5, "value_x": LABEL_WIDTH + w + 6})
    height = TOP + len(rows) * (BAR_HEIGHT + BAR_GAP) + TOP
    return {"width": LABEL_WIDTH + HBAR_WIDTH + 60, "height": height, "x0": LABEL_WIDTH,
            "label_x": LABEL_WIDTH - 6, "bar_height": BAR_HEIGHT, "bars": bars}


def figures(stats: dict, currency: str, locale: str) -> dict:
    """Everything the page shows, formatted and laid out."""
    weeks = stats["weeks"]

    def count(value) -> str:
        return format_decimal(int(value), locale=locale)

    def amount(cents) -> str:
        return money(int(round(cents)), currency, locale)

    rows = [{**week, "issued_text": count(week["issued"]), "delivered_text": count(week["delivered"]),
             "claimed_text": count(week["claimed"]), "issued_amount": amount(week["issued_cents"]),
             "spent_amount": amount(week["spent_cents"]),
             "share_text": format_percent(week["share_used"], "#,##0.0 %", locale=locale)} for week in weeks]
    stores = sorted(stats["redemptions_per_store"].items(), key=lambda item: (-item[1], item[0]))
    per_day = stats["redemptions_per_weekday"]
    days = [(day[:3], per_day.get(day, 0)) for day in WEEKDAYS]
    totals = {key: sum(w[key] for w in weeks) for key in ("issued", "delivered", "claimed", "issued_cents",
                                                          "spent_cents")}
    return {
        "rows": rows,
        "totals": {"issued": count(totals["issued"]), "delivered": count(totals["delivered"]),
                   "claimed": count(totals["claimed"]), "issued_amount": amount(totals["issued_cents"]),
                   "spent_amount": amount(totals["spent_cents"]),
                   "share_text": format_percent(totals["spent_cents"] / totals["issued_cents"]
                                                if totals["issued_cents"] else 0, "#,##0.0 %", locale=locale)},
        "counts_chart": _vertical_chart(weeks, list(SERIES), label=count),
        "spent_chart": _vertical_chart(weeks, [("spent_cents", "Amount spent")], label=amount),
        "stores_chart": _horizontal_chart(stores, label=count) if stores else None,
        "days_chart": _horizontal_chart(days, label=count) if stores or any(v for _, v in days) else None,
    }


@blueprint.get("/vouchers")
@role_required(*MANAGERS)
def index():
    runtime = _runtime()
    locale = _locale()
    with runtime.session() as session:
        stats = weekly_stats(session)
    currency = runtime.settings.vouchers.currency
    return render_template("staff/vouchers.html", empty=not stats["weeks"], locale=locale, locales=LOCALES,
                           currency=currency, **figures(stats, currency, locale))


@blueprint.get("/vouchers.json")
@role_required(*MANAGERS)
def as_json():
    """Exactly vouchers.stats.weekly_stats, for scripts; amounts are in cents."""
    with _runtime().session() as session:
        return jsonify(weekly_stats(session))
