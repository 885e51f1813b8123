"""Reading and checking the editors' referral files. Every problem carries `file:line`, and
content with any problem is refused as a whole: a half-checked release could send a person to a
category with no way back, or to an offer nobody can reach."""
from __future__ import annotations

import math
import re
from pathlib import Path

from bot.flows import NAME
from bot.yaml_source import META, in_order, line_of, read_yaml_mapping
from referrals.content import SOURCE, Category, Content, Offer, Question, Region, Subcategory, Text
from referrals.hours import HoursError, parse

TITLE_CHARS = 24      # a WhatsApp list row title
QUESTION_CHARS = 72   # a WhatsApp list row description
SHORT_TEXT_CHARS = 400
NATIONAL_TEXT_CHARS = 120  # national offers are shown together in one message (WhatsApp: 1024 characters)
NATIONAL = "national"
REVIEW = "review: drafted without a native speaker"
_DRAFT = re.compile(r"^\s*([a-z]{2,3}):.*#\s*" + re.escape(REVIEW))
LONG_TEXT_CHARS = 1000
CATEGORY_KEYS = {"id", "intent", "name", "rights", "subcategories", "questions"}
OFFER_KEYS = {"id", "category", "subcategory", "name", "title", "description", "address", "hours", "phone",
              "website", "need_to_know", "location"}
REGION_KEYS = {"version", "region", "name", "location", "offers"}
_PHONE = re.compile(r"^\+[1-9][0-9 ()-]{5,22}$")  # international: the card's number works from any phone
_WEBSITE = re.compile(r"^https?://[^\s/$.?#][^\s]*\.[^\s]+$")


class ContentError(Exception):
    def __init__(self, problems: list[str]):
        problems = in_order(problems)  # one message per problem, in file and line order
        super().__init__("\n".join(problems))
        self.problems = problems


class _Checker:
    def __init__(self, path: Path, program: list[str], served: list[str], problems: list[str]):
        # every language served is required: a person reading English where their own language is
        # missing may not understand their rights at all
        self.path, self.required = path, [*program, *(code for code in served if code not in program)]
        self.known = set(self.required)
        self.problems = problems

    def problem(self, line: int, text: str) -> None:
        self.problems.append(f"{self.path}:{line}: {text}")

    def unknown_keys(self, data: dict, allowed: set[str], what: str) -> None:
        extra = sorted(str(k) for k in data if k not in META and k not in allowed)
        if extra:
            self.problem(data.get("__line__", 1), f"{what}: unknown key(s) {', '.join(extra)} "
                                                  f"(allowed: {', '.join(sorted(allowed))})")

    def identifier(self, data: dict, key: str, what: str) -> str | None:
        value = data.get(key)
        if not isinstance(value, str) or not NAME.match(value):
            self.problem(line_of(data, key), f"{what} needs '{key}': lowercase letters, digits and _, like food_bank")
            return None
        return value

    def text(self, data: dict, key: str, limit: int, what: str, *, required: bool = True,
             same_everywhere: bool = False) -> Text | None:
        """A plain text is English only, except for names that read the same in every language
        (same_everywhere); a mapping gives a text per language."""
        value, line = data.get(key), line_of(data, key)
        if value is None or value == "":
            if required:
                self.problem(line, f"{what} needs '{key}'")
            return None
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            value = str(value).strip()
            by_language = {code: value for code in self.known} if same_everywhere else {SOURCE: value}
        elif isinstance(value, dict):
            by_language, empty = {}, []
            for code, text in value.items():
                if code in META:
                    continue
                if code not in self.known:
                    self.problem(value.get("__keys__", {}).get(code, line),
                                 f"{what}: '{key}' has a text for {code!r}, which is not a language we serve: "
                                 f"use one of {', '.join(sorted(self.known))}, or delete the line")
                elif not isinstance(text, str) or not text.strip():
                    empty.append(code)
                else:
                    by_language[code] = text.strip()
            if empty:
                self.problem(line, f"{what}: '{key}' is empty in {', '.join(empty)}: write the text, "
                                   f"or delete the empty line(s)")
            if SOURCE not in by_language:
                self.problem(line, f"{what}: '{key}' needs the English text: add a line '{SOURCE}: ...' "
                                   f"(English is the source and the fallback)")
        else:
            self.problem(line, f"{what}: '{key}' must be a text, or a text per language (en: ..., nl: ...)")
            return None
        text = Text(by_language)
        missing = text.missing(self.required)
        if missing and by_language:
            self.problem(line, f"{what}: '{key}' is missing in {', '.join(missing)}: add a line per language "
                               f"(every language we serve is required; mark a draft for review, content/README.md)")
        long = {code: len(translated) for code, translated in by_language.items() if len(translated) > limit}
        if long and same_everywhere and len(set(long.values())) == 1 and len(set(by_language.values())) == 1:
            self.problem(line, f"{what}: '{key}' has {max(long.values())} characters; at most {limit} fit: "
                               f"shorten it")
        elif long:
            worst = ", ".join(f"{code} {count}" for code, count in long.items())
            self.problem(line, f"{what}: '{key}' is too long in {', '.join(long)} ({worst} characters); "
                               f"at most {limit} fit: shorten it there")
        return text

    def location(self, data: dict, key: str, what: str) -> tuple[float, float] | None:
        value = data.get(key)
        if value is None:
            return None
        if (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                                  and math.isfinite(v) for v in value)
                and -90 <= value[0] <= 90 and -180 <= value[1] <= 180):
            return float(value[0]), float(value[1])
        self.problem(line_of(data, key), f"{what}: '{key}' must be [latitude, longitude], like [52.3676, 4.9041]")
        return None


def check_categories(path: Path, data: dict, program: list[str], served: list[str],
                     problems: list[str]) -> list[Category]:
    check = _Checker(path, program, served, problems)
    check.unknown_keys(data, {"version", "categories"}, "categories.yml")
    raw = data.get("categories")
    if not isinstance(raw, list) or not raw:
        check.problem(data.get("__line__", 1), "categories.yml needs a list 'categories'")
        return []
    categories, seen, intents = [], set(), {}
    for number, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            check.problem(data.get("__line__", 1), f"category {number} must be a mapping")
            continue
        line = item["__line__"]
        check.unknown_keys(item, CATEGORY_KEYS, f"category {number}")
        category_id = check.identifier(item, "id", f"category {number}")
        what = f"category {category_id or number}"
        duplicate = category_id in seen  # only the first counts: offers are checked against it, once
        if duplicate:
            check.problem(line, f"{what} is defined twice: give one of them another id, or delete it")
        seen.add(category_id)
        intent = item.get("intent")
        if intent is not None:
            if not isinstance(intent, str) or not intent.startswith("referral_"):
                check.problem(line_of(item, "intent"), f"{what}: intent must be a referral_… intent")
            elif intent in intents:
                check.problem(line_of(item, "intent"), f"{what}: intent {intent!r} already opens {intents[intent]}")
            intents[intent] = category_id
        subcategories, sub_ids = [], set()
        raw_subs = item.get("subcategories")
        if not isinstance(raw_subs, list) or not raw_subs:
            check.problem(line, f"{what} needs a list 'subcategories' with at least one")
            raw_subs = []
        for sub_number, sub in enumerate(raw_subs, 1):
            if not isinstance(sub, dict):
                check.problem(line, f"{what}: subcategory {sub_number} must be a mapping with id and name")
                continue
            check.unknown_keys(sub, {"id", "name"}, f"{what}, subcategory {sub_number}")
            sub_id = check.identifier(sub, "id", f"{what}, subcategory {sub_number}")
            if sub_id in sub_ids:
                check.problem(sub["__line__"], f"{what}: subcategory {sub_id!r} is defined twice: give one of them "
                                                 f"another id, or delete it")
            sub_ids.add(sub_id)
            name = check.text(sub, "name", TITLE_CHARS, f"{what}, subcategory {sub_id or sub_number}")
            if sub_id and name:
                subcategories.append(Subcategory(sub_id, name))
        questions = []
        raw_questions = item.get("questions") or []
        if not isinstance(raw_questions, list):
            check.problem(line_of(item, "questions"), f"{what}: 'questions' must be a list")
            raw_questions = []
        for q_number, entry in enumerate(raw_questions, 1):
            if not isinstance(entry, dict):
                check.problem(line, f"{what}: question {q_number} needs 'question' and 'answer'")
                continue
            check.unknown_keys(entry, {"question", "answer"}, f"{what}, question {q_number}")
            question = check.text(entry, "question", QUESTION_CHARS, f"{what}, question {q_number}")
            answer = check.text(entry, "answer", LONG_TEXT_CHARS, f"{what}, question {q_number}")
            if question and answer:
                questions.append(Question(question, answer))
        name = check.text(item, "name", TITLE_CHARS, what)
        rights = check.text(item, "rights", LONG_TEXT_CHARS, what, required=False)
        if category_id and name and not duplicate:
            categories.append(Category(category_id, name, intent=intent if isinstance(intent, str) else None,
                                       rights=rights, subcategories=tuple(subcategories),
                                       questions=tuple(questions)))
    return categories


def check_region(path: Path, data: dict, categories: list[Category], program: list[str], served: list[str],
                 problems: list[str], offer_ids: dict[str, str],
                 description_chars: int = SHORT_TEXT_CHARS) -> tuple[Region | None, list[Offer]]:
    """`offer_ids` collects ids over all regions (id -> where), so a duplicate is caught anywhere."""
    check = _Checker(path, program, served, problems)
    check.unknown_keys(data, REGION_KEYS, "region file")
    region_id = check.identifier(data, "region", "the region file")
    if region_id and path.suffix == ".yml" and region_id != path.stem:
        check.problem(line_of(data, "region"), f"region {region_id!r} must be in a file named {region_id}.yml")
    name = check.text(data, "name", TITLE_CHARS, f"region {region_id}", same_everywhere=True)
    region = Region(region_id, name, check.location(data, "location", f"region {region_id}")) \
        if region_id and name else None
    by_id = {c.id: c for c in categories}
    offers = []
    raw = data.get("offers")
    if not isinstance(raw, list) or not raw:
        check.problem(data.get("__line__", 1), f"region {region_id} needs a list 'offers' with at least one")
        raw = []
    for number, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            check.problem(data.get("__line__", 1), f"offer {number} must be a mapping")
            continue
        offer = _check_offer(check, item, number, region_id, by_id, offer_ids, description_chars)
        if offer is not None:
            offers.append(offer)
    return region, offers


def _check_offer(check: _Checker, item: dict, number: int, region_id: str | None, categories: dict[str, Category],
                 offer_ids: dict[str, str], description_chars: int) -> Offer | None:
    line = item.get("__line__", 1)
    check.unknown_keys(item, OFFER_KEYS, f"offer {number}")
    offer_id = check.identifier(item, "id", f"offer {number}")
    what = f"offer {offer_id or number}"
    if offer_id in offer_ids:
        check.problem(line, f"{what} is also defined at {offer_ids[offer_id]}: every offer needs its own id; "
                                 f"rename one of them")
    elif offer_id:
        offer_ids[offer_id] = f"{check.path}:{line}"
    category = categories.get(item.get("category"))
    if category is None:
        check.problem(line_of(item, "category"), f"{what}: category {item.get('category')!r} is not in "
                                                 f"categories.yml ({', '.join(sorted(categories))})")
    elif category.subcategory(item.get("subcategory")) is None:
        known = ", ".join(s.id for s in category.subcategories)
        check.problem(line_of(item, "subcategory"), f"{what}: subcategory {item.get('subcategory')!r} is not one of "
                                                    f"{category.id}'s ({known})")
    name = check.text(item, "name", 200, what, same_everywhere=True)
    title = check.text(item, "title", TITLE_CHARS, what, required=False, same_everywhere=True)
    if name and title is None:
        long = {code: len(text) for code, text in name.by_language.items() if len(text) > TITLE_CHARS}
        if long:
            check.problem(line_of(item, "name"), f"{what}: the name has {max(long.values())} characters; menus show "
                                                 f"at most {TITLE_CHARS}: add a shorter 'title'")
    description = check.text(item, "description", description_chars, what)
    need_to_know = check.text(item, "need_to_know", SHORT_TEXT_CHARS, what, required=False)
    fields = {}
    for key in ("address", "hours", "phone", "website"):
        value = item.get(key)
        if value in (None, ""):
            continue
        if not isinstance(value, str):
            check.problem(line_of(item, key), f"{what}: '{key}' must be a text")
            continue
        fields[key] = value.strip()
    if "hours" in fields:
        try:
            parse(fields["hours"])
        except HoursError as error:
            check.problem(line_of(item, "hours"), f"{what}: opening hours: {error}")
    if "phone" in fields and not _PHONE.match(fields["phone"]):
        check.problem(line_of(item, "phone"), f"{what}: {fields['phone']!r} is not a phone number in international "
                                              f"format: write it with + and the country code, like +31 20 555 0142")
    if "website" in fields and not _WEBSITE.match(fields["website"]):
        check.problem(line_of(item, "website"), f"{what}: {fields['website']!r} is not a web address: write it "
                                                f"in full, starting with https://")
    if not {"phone", "address", "website"} & set(fields):
        check.problem(line, f"{what}: give at least a phone number, an address or a website, so people can reach it")
    location = check.location(item, "location", what)
    if not (offer_id and region_id and category and name and description):
        return None
    return Offer(id=offer_id, region=region_id, category=category.id, subcategory=str(item.get("subcategory")),
                 name=name, title=title, description=description, need_to_know=need_to_know,
                 location=location, **fields)


def load_content(folder: Path, program: list[str], served: list[str]) -> Content:
    """Every file in the folder, checked together; ContentError lists every problem."""
    problems: list[str] = []
    categories_path = folder / "categories.yml"
    categories: list[Category] = []
    if not categories_path.exists():
        problems.append(f"{categories_path}:1: the file with the categories is missing")
    else:
        data, errors = read_yaml_mapping(categories_path, "categories.yml must be a mapping with 'categories'")
        problems += errors
        if data is not None:
            categories = check_categories(categories_path, data, program, served, problems)
    regions, offers, offer_ids = [], [], {}
    files = sorted((folder / "regions").glob("*.yml"))
    if not files:
        problems.append(f"{folder / 'regions'}:1: no region files (regions/<region>.yml)")
    for path in files:
        region, region_offers = _read_region(path, categories, program, served, problems, offer_ids)
        if region is not None and region.id == NATIONAL:
            problems.append(f"{path}:1: '{NATIONAL}' is the help for the whole country: it goes in {NATIONAL}.yml, "
                            f"next to categories.yml")
        elif region is not None:
            regions.append(region)
        offers += region_offers
    national = None
    if (folder / f"{NATIONAL}.yml").exists():
        national, national_offers = _read_region(folder / f"{NATIONAL}.yml", categories, program, served, problems,
                                                 offer_ids, NATIONAL_TEXT_CHARS)
        offers += national_offers
    if problems:
        raise ContentError(problems)
    return Content(tuple(categories), tuple(regions), tuple(offers), national)


def _read_region(path: Path, categories: list[Category], program: list[str], served: list[str], problems: list[str],
                 offer_ids: dict[str, str],
                 description_chars: int = SHORT_TEXT_CHARS) -> tuple[Region | None, list[Offer]]:
    data, errors = read_yaml_mapping(path, "a region file must be a mapping with region, name and offers")
    problems += errors
    if data is None:
        return None, []
    return check_region(path, data, categories, program, served, problems, offer_ids, description_chars)


def texts(content: Content) -> list[Text]:
    """Every text a person can read in the content."""
    found: list[Text | None] = []
    for category in content.categories:
        found += [category.name, category.rights, *(s.name for s in category.subcategories)]
        found += [text for q in category.questions for text in (q.question, q.answer)]
    found += [region.name for region in (*content.regions, content.national) if region is not None]
    found += [text for o in content.offers for text in (o.name, o.title, o.description, o.need_to_know)]
    return [text for text in found if text is not None]


def missing(content: Content, languages: list[str]) -> dict[str, int]:
    """Per language, how many texts people would read in English instead."""
    every = texts(content)
    return {code: sum(1 for text in every if not text.by_language.get(code)) for code in languages}


def drafts(folder: Path) -> dict[str, int]:
    """Per language, how many texts carry the marker `# review: drafted without a native speaker`
    (content/README.md): translations a speaker of the language still has to read."""
    counts: dict[str, int] = {}
    for path in sorted(folder.rglob("*.yml")):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = _DRAFT.match(line)
            if match:
                counts[match.group(1)] = counts.get(match.group(1), 0) + 1
    return counts
