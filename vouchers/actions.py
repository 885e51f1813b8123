"""What the chat can ask about vouchers: send the waiting ones, resend, balance, where, how."""
from __future__ import annotations

from bot.actions import ActionContext, Actions, Choices
from bot.formats import long_date, money
from bot.i18n import N_
from store.conversation import Conversation
from vouchers.delivery import voucher_replies, with_balance

BALANCE_LINE = N_("Voucher of {amount}: {left} left, valid until {date}.")
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
    host = context.host
    runtime, session = host.runtime, host.session
    locale = context.profile.language or runtime.settings.languages.source
    vouchers = with_balance(session, runtime, host.contact.id, unclaimed_only=False)
    if not vouchers:
        context.say(NO_BALANCE)
        return "none"
    for voucher in vouchers:
        left = runtime.vouchers.balance(session, voucher.code)
        context.say(BALANCE_LINE, amount=money(voucher.amount_cents, voucher.currency, locale),
                    left=money(left, voucher.currency, locale), date=long_date(voucher.valid_until, locale))
    return "ok"


def register(actions: Actions[Conversation], choices: Choices[Conversation]) -> None:
    actions.add("vouchers_send_unclaimed", vouchers_send_unclaimed)
    actions.add("vouchers_waiting", vouchers_waiting)
    actions.add("vouchers_resend", vouchers_resend)
    actions.add("vouchers_balance", vouchers_balance)
