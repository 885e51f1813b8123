"""Kinds of voucher (vouchers.kinds in config.yml): what each is called, its period, who gets it.

Config chooses a kind's amount, period, stores and eligibility; what a person reads about it
(the title on the image, the voucher message, "your voucher is ready", the balance line) is a
set of texts here, because every text must be translated into all the program's languages
before it can go out, and an editor typing a sentence into config.yml would skip that.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, literal

from bot.i18n import N_
from privacy.audit import record
from settings import KIND_TEXTS, VoucherKind

ONCE = "once"  # the period of a one-off kind: a person gets it once


@dataclass(frozen=True)
class KindTexts:
    title: str     # on the voucher image and in the balance answer
    voucher: str   # the message carrying the voucher: {amount}, {date}, {code}, {pin}
    ready: str     # "your voucher is ready" with the button: {amount}
    reminder: str  # the reminder of a voucher not received yet: {amount}
    # "where can I use it", for a person who has this kind beside the default one: {stores}
    # (the default kind's answer is the voucher_where flow's own text)
    where: str | None = None


TEXTS = {
    "supermarket": KindTexts(
        # NOTE: printed at the top of the voucher image, under the program's name; also in the balance answer.
        title=N_("Supermarket voucher"),
        voucher=N_("Your supermarket voucher of {amount}, valid until {date}.\nCode: {code}\nPIN: {pin}\n"
                   "Show the barcode at the till. If the picture does not open, the cashier can type the code."),
        ready=N_("Your supermarket voucher of {amount} is ready. Tap the button or answer YES to receive it."),
        reminder=N_("You still have a supermarket voucher of {amount} waiting. Tap the button or answer YES to "
                    "receive it."),
    ),
    "pharmacy": KindTexts(
        # NOTE: printed at the top of the voucher image; for medicines and hygiene products at a pharmacy.
        title=N_("Pharmacy voucher"),
        voucher=N_("Your pharmacy voucher of {amount}, valid until {date}. It is for medicines and hygiene "
                   "products.\nCode: {code}\nPIN: {pin}\nShow the barcode at the pharmacy. If the picture does not "
                   "open, the pharmacist can type the code."),
        ready=N_("Your pharmacy voucher of {amount} is ready. Tap the button or answer YES to receive it."),
        reminder=N_("You still have a pharmacy voucher of {amount} waiting. Tap the button or answer YES to "
                    "receive it."),
        where=N_("You can use your pharmacy voucher in these pharmacies: {stores}. It is for medicines and "
                 "hygiene products."),
    ),
}
assert set(TEXTS) == set(KIND_TEXTS), "settings.KIND_TEXTS names the sets of texts defined here"


def kind_of(settings, name: str) -> VoucherKind:
    """A kind's settings; a voucher of a kind since removed from config reads as the default kind
    (its own amount and currency are on the voucher), so old vouchers still show and scan."""
    kinds = settings.vouchers.kinds
    return kinds.get(name) or kinds[settings.vouchers.default_kind]


def texts_of(settings, name: str) -> KindTexts:
    return TEXTS[kind_of(settings, name).texts or "supermarket"]


def current_period(kind: VoucherKind, today: date) -> str:
    """The period a kind's voucher issued today belongs to."""
    if kind.period == "weekly":
        year, week, _ = today.isocalendar()
        return f"{year}-W{week:02d}"
    if kind.period == "monthly":
        return f"{today.year}-{today.month:02d}"
    return ONCE


def period_start(kind: VoucherKind, period: str, today: date) -> date:
    """The first day of `period`, a ValueError naming the expected form when it does not fit the
    kind; a one-off voucher's validity starts the day it is issued."""
    if kind.period == "one-off":
        if period != ONCE:
            raise ValueError(f"a one-off kind has no period to choose (got {period!r})")
        return today
    try:
        if kind.period == "weekly":
            year, week = period.split("-W")
            return date.fromisocalendar(int(year), int(week), 1)
        year, month = period.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        example = "an ISO week like 2026-W49" if kind.period == "weekly" else "a month like 2026-12"
        raise ValueError(f"period {period!r} is not {example}") from None


def fits(kind: VoucherKind, period: str) -> bool:
    try:
        period_start(kind, period, date.today())
    except ValueError:
        return False
    return True


def valid_until(kind: VoucherKind, period: str, today: date) -> date:
    start = period_start(kind, period, today)
    days = kind.valid_days or 28
    if kind.period == "monthly" and days < calendar.monthrange(start.year, start.month)[1]:
        days = calendar.monthrange(start.year, start.month)[1]  # a monthly voucher lasts at least its month
    return start + timedelta(days=days - 1)


def eligible(kind: VoucherKind, flags_column):
    """A SQL condition on the registration's flags: every flag the kind asks for is set."""
    padded = literal(",") + flags_column + literal(",")
    return and_(True, *(padded.like(f"%,{flag},%") for flag in kind.eligibility.flags))


def known_flags(settings) -> list[str]:
    """The flags some kind's eligibility asks for: the only ones staff can set."""
    return sorted({flag for kind in settings.vouchers.kinds.values() for flag in kind.eligibility.flags})


def set_flag(session, settings, registration, flag: str, on: bool, *, actor: str) -> None:
    """Set or clear one of `known_flags` on a registration, audited (the CLI and the staff page);
    ValueError naming the flags in use for any other word."""
    known = known_flags(settings)
    if flag not in known:
        raise ValueError(f"no kind of voucher asks for {flag!r}; flags in use: {', '.join(known) or 'none'}")
    words = {word for word in registration.flags.split(",") if word}
    changed = ",".join(sorted(words | {flag} if on else words - {flag}))
    if changed != registration.flags:
        registration.flags = changed
        record(session, actor, "set flag" if on else "cleared flag", f"registration:{registration.id}", flag)
