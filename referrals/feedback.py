"""What people answered to "was this helpful?", counted per offer for editors."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select

from store.models import ReferralFeedback

# An offer needs this many answers before a majority of "no" marks it for a look.
ENOUGH_ANSWERS = 3


@dataclass(frozen=True)
class Counts:
    helpful: int = 0
    not_helpful: int = 0

    @property
    def total(self) -> int:
        return self.helpful + self.not_helpful

    @property
    def needs_a_look(self) -> bool:
        return self.total >= ENOUGH_ANSWERS and self.not_helpful > self.helpful


def counts(session) -> dict[str, Counts]:
    rows = session.execute(
        select(ReferralFeedback.offer,
               func.sum(case((ReferralFeedback.helpful.is_(True), 1), else_=0)),
               func.sum(case((ReferralFeedback.helpful.is_(True), 0), else_=1)))
        .group_by(ReferralFeedback.offer))
    return {offer: Counts(int(yes or 0), int(no or 0)) for offer, yes, no in rows}
