"""An offer as the information pages show it: the same facts as the chat's card (referrals/card.py),
laid out for a screen, with a phone link that dials and a map link. The staff preview shows the
same card, so editors see what people will see."""
from __future__ import annotations

from dataclasses import dataclass

from referrals.content import Offer
from referrals.hours import describe


@dataclass(frozen=True)
class Card:
    id: str
    name: str
    description: str | None
    address: str | None
    hours: list[str]
    phone: str | None
    dial: str | None  # tel: link
    website: str | None
    need_to_know: str | None
    map_url: str | None


def card(offer: Offer, language: str) -> Card:
    location = offer.location
    return Card(
        id=offer.id, name=offer.name.get(language),
        description=offer.description.get(language) if offer.description is not None else None,
        address=offer.address, hours=describe(offer.hours, language).splitlines() if offer.hours else [],
        phone=offer.phone, dial="tel:" + "".join(c for c in offer.phone if c.isdigit() or c == "+")
        if offer.phone else None,
        website=offer.website,
        need_to_know=offer.need_to_know.get(language) if offer.need_to_know is not None else None,
        map_url=(f"https://www.openstreetmap.org/?mlat={location[0]}&mlon={location[1]}"
                 f"#map=17/{location[0]}/{location[1]}") if location else None)
