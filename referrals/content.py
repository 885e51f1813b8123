"""Referral content as the bot uses it: plain data, the same whether it was read from the editors'
files or from a published release in the database (as a JSON bundle)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

SOURCE = "en"


@dataclass(frozen=True)
class Text:
    """One text in several languages; English is the source and the fallback."""

    by_language: dict[str, str]

    def get(self, language: str | None) -> str:
        return self.by_language.get(language or SOURCE) or self.by_language.get(SOURCE, "")

    def missing(self, languages: list[str]) -> list[str]:
        return [code for code in languages if not self.by_language.get(code)]


@dataclass(frozen=True)
class Question:
    question: Text
    answer: Text


@dataclass(frozen=True)
class Subcategory:
    id: str
    name: Text


@dataclass(frozen=True)
class Category:
    id: str
    name: Text
    intent: str | None = None
    rights: Text | None = None
    subcategories: tuple[Subcategory, ...] = ()
    questions: tuple[Question, ...] = ()

    def subcategory(self, subcategory_id: str | None) -> Subcategory | None:
        return next((s for s in self.subcategories if s.id == subcategory_id), None)


@dataclass(frozen=True)
class Offer:
    id: str
    region: str
    category: str
    subcategory: str
    name: Text
    title: Text | None = None
    description: Text | None = None
    address: str | None = None
    hours: str | None = None
    phone: str | None = None
    website: str | None = None
    need_to_know: Text | None = None
    location: tuple[float, float] | None = None

    def menu_title(self, language: str | None) -> str:
        return (self.title or self.name).get(language)


@dataclass(frozen=True)
class Region:
    id: str
    name: Text
    location: tuple[float, float] | None = None


@dataclass(frozen=True)
class Content:
    categories: tuple[Category, ...] = ()
    regions: tuple[Region, ...] = ()
    offers: tuple[Offer, ...] = ()
    national: Region | None = None  # help anywhere in the country, for a person whose region is not listed
    _fingerprint: str = field(default="", compare=False)

    def category(self, category_id: str | None) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)

    def region(self, region_id: str | None) -> Region | None:
        return next((r for r in self.regions if r.id == region_id), None)

    def offer(self, offer_id: str | None) -> Offer | None:
        return next((o for o in self.offers if o.id == offer_id), None)

    def category_for_intent(self, intent: str | None) -> Category | None:
        return next((c for c in self.categories if intent and c.intent == intent), None)

    def offers_for(self, region: str, category: str, subcategory: str) -> list[Offer]:
        """The region's offers, then the national ones for the same need: a phone line that helps
        everywhere is a place to go too when the region has none."""
        regions = [region] if self.national is None or region == self.national.id else [region, self.national.id]
        return [offer for where in regions for offer in self.offers
                if (offer.region, offer.category, offer.subcategory) == (where, category, subcategory)]

    def national_offers(self) -> list[Offer]:
        return [o for o in self.offers if self.national is not None and o.region == self.national.id]

    # -- a published release is this, as JSON -------------------------------------------------
    def to_bundle(self) -> dict:
        return {"categories": [asdict(c) for c in self.categories], "regions": [asdict(r) for r in self.regions],
                "offers": [asdict(o) for o in self.offers],
                "national": asdict(self.national) if self.national is not None else None}

    @property
    def fingerprint(self) -> str:
        return self._fingerprint or hashlib.sha256(
            json.dumps(self.to_bundle(), sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    @classmethod
    def from_bundle(cls, bundle: dict) -> Content:
        def text(value):
            return Text(dict(value["by_language"])) if value else None

        def pair(value):
            return tuple(value) if value else None

        categories = tuple(
            Category(id=c["id"], name=text(c["name"]), intent=c.get("intent"), rights=text(c.get("rights")),
                     subcategories=tuple(Subcategory(s["id"], text(s["name"])) for s in c["subcategories"]),
                     questions=tuple(Question(text(q["question"]), text(q["answer"])) for q in c["questions"]))
            for c in bundle["categories"])
        def region(r):
            return Region(id=r["id"], name=text(r["name"]), location=pair(r.get("location")))

        regions = tuple(region(r) for r in bundle["regions"])
        national = region(bundle["national"]) if bundle.get("national") else None
        offers = tuple(
            Offer(**{**o, **{key: text(o.get(key)) for key in ("name", "title", "description", "need_to_know")},
                     "location": pair(o.get("location"))})
            for o in bundle["offers"])
        return cls(categories, regions, offers, national)
