"""An offer as a short WhatsApp card. Symbols instead of words for address, hours and phone:
they read the same in every language and for people who read little."""
from __future__ import annotations

from bot.formats import is_right_to_left, isolate
from referrals.content import Offer
from referrals.hours import describe


def offer_card(offer: Offer, language: str | None) -> str:
    def plain(value: str) -> str:
        """Numbers, addresses and links keep their own direction inside Arabic or Farsi text."""
        return isolate(value) if is_right_to_left(language) else value

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
