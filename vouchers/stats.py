"""Figures for staff: aggregates only, never a name or a number; usage figures with small cells
suppressed."""
from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from store.models import LedgerRedemption, LedgerVoucher, Store, Voucher


def weekly_stats(session) -> dict:
    weeks = defaultdict(lambda: {"issued": 0, "delivered": 0, "claimed": 0, "issued_cents": 0, "spent_cents": 0})
    rows = session.execute(select(Voucher.period, func.count(), func.count(Voucher.delivered_at),
                                  func.count(Voucher.claimed_at), func.sum(Voucher.amount_cents))
                           .group_by(Voucher.period))
    for period, issued, delivered, claimed, cents in rows:
        weeks[period].update(issued=issued, delivered=delivered, claimed=claimed, issued_cents=int(cents or 0))
    spent = session.execute(select(Voucher.period, func.sum(LedgerRedemption.amount_cents))
                            .join(LedgerVoucher, LedgerVoucher.reference == Voucher.provider_reference)
                            .join(LedgerRedemption, LedgerRedemption.voucher_id == LedgerVoucher.id)
                            .group_by(Voucher.period))
    for period, cents in spent:
        weeks[period]["spent_cents"] = int(cents or 0)
    per_store = dict(session.execute(select(Store.name, func.count()).join(LedgerRedemption)
                                     .group_by(Store.name)).all())
    per_weekday = defaultdict(int)
    for (at,) in session.execute(select(LedgerRedemption.at)):
        per_weekday[at.strftime("%A")] += 1
    return {
        "weeks": [{"period": period, **row, "share_used": round(row["spent_cents"] / row["issued_cents"], 4)
                   if row["issued_cents"] else 0.0} for period, row in sorted(weeks.items())],
        "redemptions_per_store": per_store,
        "redemptions_per_weekday": dict(per_weekday),
    }


WITHIN_DAYS = (7, 14, 28)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _cell(count: int, min_count: int, **values) -> dict:
    """A figure built from `count` vouchers or payments: shown, or (from 1 to min_count - 1)
    suppressed, its count and values None, so a small cell never points at a few people."""
    if 0 < count < min_count:
        return {"count": None, **dict.fromkeys(values), "suppressed": True}
    return {"count": count, **values, "suppressed": False}


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite gives back naive UTC


def usage_stats(session, kinds: list[str], min_count: int, timezone: str = "UTC") -> dict:
    """Where and how soon vouchers are spent, the programme's measure of impact (it cannot see
    what people buy): per kind, the value issued and spent, the share of it spent within 7, 14
    and 28 days of issue, the vouchers never used; payments per kind and store, weekday (in the
    programme's `timezone`) and ISO week. Counts and sums only; a cell of fewer than
    `min_count` vouchers or payments is suppressed. `kinds` orders the kinds (config order);
    a kind found only in old vouchers comes after them."""
    zone = ZoneInfo(timezone)
    vouchers = session.execute(
        select(Voucher.kind, Voucher.amount_cents, Voucher.created_at, LedgerVoucher.id)
        .join(LedgerVoucher, LedgerVoucher.reference == Voucher.provider_reference)).all()
    payments = session.execute(
        select(LedgerRedemption.voucher_id, LedgerRedemption.amount_cents, LedgerRedemption.at, Store.name)
        .join(Store, Store.id == LedgerRedemption.store_id)).all()
    by_ledger = {row.id: row for row in vouchers}
    order = list(kinds) + sorted({row.kind for row in vouchers} - set(kinds))

    issued: dict[str, list[int]] = defaultdict(lambda: [0, 0])          # kind -> vouchers, cents
    spent: dict[str, int] = defaultdict(int)
    within = {days: defaultdict(lambda: [set(), 0]) for days in WITHIN_DAYS}  # kind -> vouchers, cents
    used: dict[str, set[int]] = defaultdict(set)
    stores: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])  # payments, cents
    weekdays: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    weeks: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in vouchers:
        issued[row.kind][0] += 1
        issued[row.kind][1] += row.amount_cents
    for payment in payments:
        voucher = by_ledger.get(payment.voucher_id)
        if voucher is None:  # a ledger voucher the program did not issue (a test, another system)
            continue
        kind, at = voucher.kind, _aware(payment.at)
        spent[kind] += payment.amount_cents
        used[kind].add(payment.voucher_id)
        age = at - _aware(voucher.created_at)
        for days in WITHIN_DAYS:
            if age <= timedelta(days=days):
                within[days][kind][0].add(payment.voucher_id)
                within[days][kind][1] += payment.amount_cents
        local = at.astimezone(zone)
        year, week, _ = local.isocalendar()
        for table, key in ((stores, payment.name), (weekdays, WEEKDAYS[local.weekday()]),
                           (weeks, f"{year}-W{week:02d}")):
            table[(kind, key)][0] += 1
            table[(kind, key)][1] += payment.amount_cents

    per_kind = []
    for kind in order:
        count, cents = issued[kind]
        if not count:
            continue
        never = count - len(used[kind])
        per_kind.append({
            "kind": kind,
            **_cell(count, min_count, issued_cents=cents, spent_cents=spent[kind],
                    share_spent=_share(spent[kind], cents)),
            "spent_within": {str(days): _cell(len(within[days][kind][0]), min_count,
                                              spent_cents=within[days][kind][1],
                                              share_of_issued=_share(within[days][kind][1], cents))
                             for days in WITHIN_DAYS},
            "never_used": _cell(never, min_count, share_of_vouchers=_share(never, count)),
        })

    def rows(table, name: str, keys) -> list[dict]:
        return [{"kind": kind, name: key, **_cell(table[(kind, key)][0], min_count,
                                                  spent_cents=table[(kind, key)][1])}
                for kind in order for key in keys(kind) if (kind, key) in table]

    return {
        "min_count": min_count,
        "timezone": timezone,
        "kinds": per_kind,
        "stores": rows(stores, "store", lambda kind: sorted(s for k, s in stores if k == kind)),
        "weekdays": rows(weekdays, "weekday", lambda kind: WEEKDAYS),
        "weeks": rows(weeks, "week", lambda kind: sorted(w for k, w in weeks if k == kind)),
    }


CSV_COLUMNS = ("figure", "kind", "key", "count", "amount_cents", "share", "suppressed")


def usage_rows(usage: dict) -> list[dict]:
    """The usage figures as flat rows (the CSV export): one per figure, kind and key."""
    found = []
    for row in usage["kinds"]:
        found.append({"figure": "issued", "kind": row["kind"], "key": "", "count": row["count"],
                      "amount_cents": row["issued_cents"], "share": "", "suppressed": row["suppressed"]})
        found.append({"figure": "spent", "kind": row["kind"], "key": "", "count": row["count"],
                      "amount_cents": row["spent_cents"], "share": row["share_spent"], "suppressed": row["suppressed"]})
        for days, cell in row["spent_within"].items():
            found.append({"figure": "spent within days", "kind": row["kind"], "key": days, "count": cell["count"],
                          "amount_cents": cell["spent_cents"], "share": cell["share_of_issued"],
                          "suppressed": cell["suppressed"]})
        never = row["never_used"]
        found.append({"figure": "never used", "kind": row["kind"], "key": "", "count": never["count"],
                      "amount_cents": "", "share": never["share_of_vouchers"], "suppressed": never["suppressed"]})
    for figure, name in (("payments per store", "store"), ("payments per weekday", "weekday"),
                         ("payments per week", "week")):
        for row in usage[f"{name}s"]:
            found.append({"figure": figure, "kind": row["kind"], "key": row[name], "count": row["count"],
                          "amount_cents": row["spent_cents"], "share": "", "suppressed": row["suppressed"]})
    return [{key: "" if value is None else value for key, value in row.items()} for row in found]


def usage_for(session, settings) -> dict:
    """usage_stats with the program's kinds, minimum count and time zone."""
    return usage_stats(session, list(settings.vouchers.kinds), settings.vouchers.stats_min_count,
                       settings.helpdesk.timezone)
