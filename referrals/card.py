"""An offer as a short WhatsApp card. Symbols instead of words for address, hours and phone:
they read the same in every language and for people who read little."""
from __future__ import annotations

from bot.formats import is_right_to_left, isolate
from referrals.content import Offer
from referrals.hours import describe


def _plain(value: str, language: str | None) -> str:
    """Numbers, addresses and links keep their own direction inside Arabic or Farsi text."""
    return isolate(value) if is_right_to_left(language) else value


def offer_card(offer: Offer, language: str | None) -> str:
    def plain(value: str) -> str:
        return _plain(value, language)

    lines = [f"*{offer.name.get(language)}*"]
    if offer.description is not None:
        lines.append(offer.description.get(language))
    lines.append("")
    if offer.address:
        lines.append(f"📍 {plain(offer.address)}")
    if offer.hours:
        hours = describe(offer.hours, language).splitlines()
        lines += [f"🕒 {plain(hours[0])}"] + [f"     {plain(line)}" for line in hours[1:]]
    if offer.phone:
        lines.append(f"📞 {plain(offer.phone)}")
    if offer.website:
        lines.append(f"🌐 {plain(offer.website)}")
    if offer.need_to_know is not None:
        lines += ["", f"ℹ️ {offer.need_to_know.get(language)}"]
    return "\n".join(lines).strip()


def national_summary(offers: list[Offer], language: str | None) -> str:
    """Organisations that help anywhere, together in one message: name, what they do, how to reach them.
    The content check keeps their descriptions short enough for WhatsApp's 1024 characters."""
    blocks = []
    for offer in offers:
        lines = [f"*{offer.name.get(language)}*"]
        if offer.description is not None:
            lines.append(offer.description.get(language))
        lines += [f"{symbol} {_plain(value, language)}" for symbol, value in
                  (("📞", offer.phone), ("🌐", offer.website), ("📍", offer.address)) if value]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
