"""Voucher figures for staff: per ISO week a table and charts, and the usage per kind, store,
weekday and week (with a CSV export); aggregates only.

The charts are SVG drawn here on the server (no scripts, no libraries), so they pass the staff
pages' Content-Security-Policy. Nothing on this page names or numbers a person: every figure
comes from vouchers.stats (weekly_stats, usage_stats), which only counts and sums; usage cells
of fewer than vouchers.stats_min_count vouchers or payments are shown as suppressed.
"""
from __future__ import annotations

import csv
import io

from babel.numbers import format_decimal, format_percent
from flask import Blueprint, Response, current_app, jsonify, render_template, request

from bot.formats import money
from staff.auth import role_required
from vouchers.stats import CSV_COLUMNS, WEEKDAYS, usage_for, usage_rows, weekly_stats

MANAGERS = ("admin", "supervisor")
LOCALES = ("en", "nl")
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
            text = week.get(f"{key}_text") or label(value)  # e.g. "suppressed" instead of a number
            bars.append({"key": key, "name": name, "value": value, "text": text,
                         "x": round(x0 + j * per_bar, 1), "y": round(base - h, 1), "width": round(per_bar - 2, 1),
                         "height": h})
        groups.append({"period": week["period"], "center": x0 + (GROUP_WIDTH - 16) / 2, "bars": bars})
    ticks = [{"y": round(base - PLOT_HEIGHT * t / top, 1), "text": label(t)} for t in _ticks(top)]
    return {"width": width, "height": height, "left": LEFT, "right": width - RIGHT, "base": base,
            "label_y": base + 18, "groups": groups, "ticks": ticks, "series": series}


def _horizontal_chart(rows: list[tuple], *, label) -> dict:
    """One bar per (name, value) row; a row's third item, if any, is its text instead of label(value)."""
    top = _nice_max(max((row[1] for row in rows), default=0))
    bars = []
    for i, (name, value, *text) in enumerate(rows):
        y = TOP + i * (BAR_HEIGHT + BAR_GAP)
        w = round(HBAR_WIDTH * value / top, 1)
        bars.append({"name": name, "value": value, "text": text[0] if text else label(value), "y": y, "width": w,
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


def _suppressed(min_count: int) -> str:
    return f"suppressed (<{min_count})"


def usage_figures(usage: dict, settings, locale: str) -> list[dict]:
    """Per kind: its summary row and its charts (spent within 7/14/28 days, payments per
    weekday, store and week), formatted; a suppressed cell reads "suppressed (<N)"."""
    hidden = _suppressed(usage["min_count"])

    def count(value) -> str:
        return format_decimal(int(value), locale=locale)

    def percent(value) -> str:
        return format_percent(value, "#,##0.0 %", locale=locale)

    kinds = []
    for row in usage["kinds"]:
        kind = row["kind"]
        currency = settings.vouchers.kinds[kind].currency if kind in settings.vouchers.kinds else \
            settings.vouchers.currency

        def amount(cents, currency=currency) -> str:
            return money(int(round(cents)), currency, locale)

        def cell(cell, text) -> str:
            return hidden if cell["suppressed"] else text(cell)

        within = [{"period": f"{days} days", "share": round(100 * (c["share_of_issued"] or 0), 1),
                   "share_text": cell(c, lambda c: percent(c["share_of_issued"]))}
                  for days, c in row["spent_within"].items()]
        days = {r["weekday"]: r for r in usage["weekdays"] if r["kind"] == kind}
        weekday_rows = [(day[:3], days[day]["count"] or 0, cell(days[day], lambda c: count(c["count"])))
                        if day in days else (day[:3], 0) for day in WEEKDAYS]
        store_rows = [(r["store"], r["count"] or 0, cell(r, lambda c: count(c["count"])))
                      for r in usage["stores"] if r["kind"] == kind]
        weeks = [{"period": r["week"], "payments": r["count"] or 0,
                  "payments_text": cell(r, lambda c: count(c["count"]))} for r in usage["weeks"] if r["kind"] == kind]
        kinds.append({
            "kind": kind,
            "vouchers": cell(row, lambda c: count(c["count"])),
            "issued": cell(row, lambda c: amount(c["issued_cents"])),
            "spent": cell(row, lambda c: amount(c["spent_cents"])),
            "share": cell(row, lambda c: percent(c["share_spent"])),
            "within": {w["period"]: w["share_text"] for w in within},
            "never_used": cell(row["never_used"], lambda c: f"{count(c['count'])} ({percent(c['share_of_vouchers'])})"),
            "within_chart": _vertical_chart(within, [("share", "Share of the value issued")],
                                            label=lambda v: f"{v:g} %"),
            "weekday_chart": _horizontal_chart(weekday_rows, label=count),
            "store_chart": _horizontal_chart(store_rows, label=count) if store_rows else None,
            "week_chart": _vertical_chart(weeks, [("payments", "Payments")], label=count) if weeks else None,
        })
    return kinds


@blueprint.get("/vouchers/usage")
@role_required(*MANAGERS)
def usage():
    """Where and how soon vouchers are spent, per kind: the programme's measure of impact."""
    runtime = _runtime()
    locale = _locale()
    with runtime.session() as session:
        figures = usage_for(session, runtime.settings)
    return render_template("staff/voucher_usage.html", locale=locale, locales=LOCALES, usage=figures,
                           kinds=usage_figures(figures, runtime.settings, locale))


@blueprint.get("/vouchers/usage.json")
@role_required(*MANAGERS)
def usage_json():
    """Exactly vouchers.stats.usage_stats (what `flask vouchers stats --json` shows under "usage")."""
    runtime = _runtime()
    with runtime.session() as session:
        return jsonify(usage_for(session, runtime.settings))


@blueprint.get("/vouchers/usage.csv")
@role_required(*MANAGERS)
def usage_csv():
    """The usage figures as one CSV row per figure, kind and key; suppressed cells are empty."""
    runtime = _runtime()
    with runtime.session() as session:
        figures = usage_for(session, runtime.settings)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(usage_rows(figures))
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="voucher-usage.csv"',
                             "Cache-Control": "no-store"})
