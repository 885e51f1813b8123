"""What the chat can ask about vouchers: send the waiting ones, resend, balance, where, how."""
from __future__ import annotations

from bot.actions import ActionContext, Actions, Choices
from bot.formats import long_date, money
from bot.i18n import N_
from store.conversation import Conversation
from vouchers.delivery import voucher_replies, with_balance
from vouchers.kinds import kind_of, texts_of

# NOTE: one line per voucher in the answer to "how much is left"; {kind} is the kind's name,
# e.g. "Supermarket voucher" or "Pharmacy voucher".
BALANCE_LINE = N_("{kind}: {left} left of {amount}, valid until {date}.")
NO_BALANCE = N_("You have no voucher with money left at the moment.")


def _send(context: ActionContext[Conversation], *, unclaimed_only: bool) -> str:
    host = context.host
    vouchers = with_balance(host.session, host.runtime, host.contact.id, unclaimed_only=unclaimed_only)
    if not vouchers:
        return "none"
    context.turn.replies.extend(voucher_replies(host.runtime, host.contact, vouchers))
    return "sent"


def vouchers_send_unclaimed(context: ActionContext[Conversation]) -> str:
    """The tap on "your voucher is ready", or a clear yes. Outcome: sent, or none."""
    return _send(context, unclaimed_only=True)


def vouchers_waiting(context: ActionContext[Conversation]) -> str:
    """Whether "your voucher is ready, answer YES" is still an open question: open or closed."""
    host = context.host
    waiting = with_balance(host.session, host.runtime, host.contact.id, unclaimed_only=True)
    return "open" if waiting else "closed"


def vouchers_resend(context: ActionContext[Conversation]) -> str:
    """Lost the picture: every voucher with money left, received before or not."""
    return _send(context, unclaimed_only=False)


def vouchers_balance(context: ActionContext[Conversation]) -> str:
    """Every voucher with money left, kind by kind (supermarket, then pharmacy…), each with what
    is left of it and until when."""
    host = context.host
    runtime, session = host.runtime, host.session
    locale = context.profile.language or runtime.settings.languages.source
    vouchers = with_balance(session, runtime, host.contact.id, unclaimed_only=False)
    if not vouchers:
        context.say(NO_BALANCE)
        return "none"
    order = list(runtime.settings.vouchers.kinds)
    for voucher in sorted(vouchers, key=lambda v: (order.index(v.kind) if v.kind in order else len(order), v.id)):
        left = runtime.vouchers.balance(session, voucher.code)
        kind = runtime.translator.text(texts_of(runtime.settings, voucher.kind).title, locale)
        context.say(BALANCE_LINE, kind=kind, amount=money(voucher.amount_cents, voucher.currency, locale),
                    left=money(left, voucher.currency, locale), date=long_date(voucher.valid_until, locale))
    return "ok"


def vouchers_where_other_kinds(context: ActionContext[Conversation]) -> str:
    """After "where can I use it" (the supermarket voucher's shops): where each other kind the
    person has with money left is spent, e.g. the pharmacies. Outcome: ok, or none."""
    host = context.host
    settings = host.runtime.settings
    kinds = {v.kind for v in with_balance(host.session, host.runtime, host.contact.id, unclaimed_only=False)}
    said = "none"
    for name in settings.vouchers.kinds:
        where = texts_of(settings, name).where
        if name in kinds and where:
            context.say(where, stores=kind_of(settings, name).stores)
            said = "ok"
    return said


def register(actions: Actions[Conversation], choices: Choices[Conversation]) -> None:
    actions.add("vouchers_send_unclaimed", vouchers_send_unclaimed)
    actions.add("vouchers_waiting", vouchers_waiting)
    actions.add("vouchers_resend", vouchers_resend)
    actions.add("vouchers_balance", vouchers_balance)
    actions.add("vouchers_where_other_kinds", vouchers_where_other_kinds)
