"""Figures for staff: aggregates only, never a name or a number."""
from __future__ import annotations

from collections import defaultdict

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
