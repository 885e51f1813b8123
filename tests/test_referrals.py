"""Referral information: finding help by region and need in the chat, through signed webhooks;
content files checked with file:line, published without a restart, imported from CSV; and the
"was this helpful?" answers editors see."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from referrals.actions import NATIONAL_INTRO
from referrals.card import national_summary
from referrals.release import ReferralContent
from settings import ROOT
from store.models import Contact, ContentRelease, ReferralFeedback, Ticket
from tests.test_staff import signed_in

PHONE = "+31612345678"
PROGRAM = ("ar", "en", "es", "fr", "id", "nl", "pt", "tl", "uk")
SERVED = ("fa", "ti", "so", "tr", "ru", "am")
LANGUAGES = PROGRAM + SERVED


def every_language(text: str) -> dict:
    return {code: text if code == "en" else f"{text} ({code})" for code in LANGUAGES}


def write_content(folder: Path, offers: int = 12) -> Path:
    """A small content folder: one category with a subcategory of `offers` offers, in one region."""
    (folder / "regions").mkdir(parents=True)
    categories = {"version": 1, "categories": [
        {"id": "health", "intent": "referral_health", "name": every_language("Health care"),
         "rights": every_language("You have the right to medically necessary care."),
         "subcategories": [{"id": "doctor", "name": every_language("Doctor (GP)")},
                           {"id": "dentist", "name": every_language("Dentist")}],
         "questions": [{"question": every_language("Do I have to pay?"),
                        "answer": every_language("No, not if you cannot.")}]},
        {"id": "food", "intent": "referral_food", "name": every_language("Food"),
         "subcategories": [{"id": "meals", "name": every_language("Free meals")}]}]}
    region = {"version": 1, "region": "testtown", "name": "Testtown", "offers": [
        {"id": f"doc_{n:02d}", "category": "health", "subcategory": "doctor", "name": f"Practice {n:02d}",
         "description": every_language(f"General practice number {n}."), "phone": f"+31 20 555 01{n:02d}",
         "address": f"Hoofdstraat {n}, 1011 AB Testtown", "hours": "Mo-Fr 09:00-17:00; Sa 10:00-12:00",
         "location": [52.37, 4.89]}
        for n in range(1, offers + 1)] + [
        {"id": "soup", "category": "food", "subcategory": "meals", "name": "Soup kitchen",
         "description": every_language("A hot meal every evening."), "website": "https://soup.example.org"}]}
    (folder / "categories.yml").write_text(yaml.safe_dump(categories, allow_unicode=True, sort_keys=False))
    (folder / "regions" / "testtown.yml").write_text(yaml.safe_dump(region, allow_unicode=True, sort_keys=False))
    return folder


@pytest.fixture
def content(tmp_path, runtime):
    folder = write_content(tmp_path / "content")
    runtime.settings.content.referrals = folder
    runtime.referrals.forget()
    return folder


def start_in(whatsapp, language_number: str = "2", phone: str = PHONE) -> None:
    """A new person who chose a language from the first menu (2 is English)."""
    whatsapp.send("hello", phone=phone)
    whatsapp.send(language_number, phone=phone)


def numbered(reply: str) -> dict[str, str]:
    """The options of a menu: label -> the number that chooses it. Read from numbered text, or
    from a list picker (`- title — label` rows) or buttons (`[title]`) as the stand-in shows them."""
    found = {}
    for line in reply.splitlines():
        number, dot, label = line.partition(". ")
        if dot and number.isdigit():
            found[label.strip()] = number
        elif line.startswith("- "):
            title, _, description = line[2:].partition(" — ")
            found[description or title] = str(len(found) + 1)
        elif line.startswith("[") and line.endswith("]"):
            found.update({title: str(len(found) + number) for number, title in enumerate(line[1:-1].split("] ["), 1)})
    return found


# -- the shipped content --------------------------------------------------------------------
def test_shipped_content_is_valid_and_complete(runner):
    result = runner.invoke(args=["content", "check", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["valid"] and summary["regions"] >= 2 and summary["offers"] >= 20
    assert set(summary["languages"]) == set(LANGUAGES)
    assert all(counts["missing"] == 0 for counts in summary["languages"].values())  # every language served
    assert all(summary["languages"][code]["review"] > 100 for code in SERVED)  # drafts, marked for a speaker


def test_from_the_menu_to_an_offer_card_with_a_map_pin(whatsapp, runtime, twilio):
    start_in(whatsapp)
    menu = whatsapp.conversation("menu")[-1]
    regions = whatsapp.conversation(numbered(menu)["Find help near you"])[-1]
    assert regions.startswith("Where do you live or stay?")
    categories = whatsapp.conversation(numbered(regions)["Amsterdam"])[-1]
    assert "What do you need help with?" in categories and "Change region" in categories
    health = whatsapp.conversation(numbered(categories)["Health care"])
    assert "papers" in health[0]  # rights first
    subcategories = health[-1]
    offers = whatsapp.conversation(numbered(subcategories)["Doctor (GP)"])[-1]
    assert offers.startswith("These places can help.")
    before = len(twilio.sent(PHONE))
    whatsapp.send("1")
    sent = twilio.sent(PHONE)[before:]
    card = sent[0]["Body"]
    assert "📞 +31 20 555" in card and "📍 " in card and "Monday" in card
    pins = [m for m in sent if m.get("PersistentAction")]
    assert pins and pins[0]["PersistentAction"].startswith("geo:52.")
    assert twilio.shown(sent[-1]).startswith("Was this helpful?")
    with runtime.session() as session:
        assert session.scalar(select(Contact.region)) == "amsterdam"


@pytest.mark.parametrize("language, words, expected_rights, expected_menu", [
    ("2", "I need a doctor, I am sick", "papers", "Doctor (GP)"),
    ("4", "j'ai besoin d'un avocat", "avocat", "Choisissez"),
    ("6", "ik zoek een slaapplek voor vannacht", "", "Nachtopvang"),
])
def test_free_text_goes_straight_to_the_category(whatsapp, runtime, language, words, expected_rights, expected_menu):
    start_in(whatsapp, language)
    with runtime.session() as session:
        for contact in session.scalars(select(Contact)):
            contact.region = "amsterdam"  # through the ORM: the region is sealed under the person's key
        session.commit()
    replies = whatsapp.conversation(words)
    assert expected_rights in replies[0]
    assert expected_menu in replies[-1]


def test_first_message_asking_for_a_lawyer_gets_there_after_the_welcome(whatsapp):
    replies = whatsapp.conversation("Bonjour, j'ai besoin d'un avocat pour mes papiers s'il vous plaît")
    assert any("Amsterdam" in reply for reply in replies[-1:])  # the region comes first for a new person
    legal = whatsapp.conversation(numbered(replies[-1])["Amsterdam"])
    assert "avocat" in legal[0]  # the rights of the legal category, in French


def test_arabic_card_reads_right_to_left_with_arabic_day_names(whatsapp, runtime, twilio):
    start_in(whatsapp, "1")
    with runtime.session() as session:
        for contact in session.scalars(select(Contact)):
            contact.region = "amsterdam"  # through the ORM: the region is sealed under the person's key
        session.commit()
    whatsapp.send("cmd.referral", MessageType="button", ButtonPayload="cmd.referral")
    categories = whatsapp.replies()[-1]
    whatsapp.send("1")  # health care
    subcategories = whatsapp.replies()[-1]
    whatsapp.send("1")  # the doctor
    whatsapp.send("1")  # the first practice
    card = next(body for body in reversed(whatsapp.replies()) if "📞" in body)
    assert "\u2068+31" in card  # the phone number isolated from the Arabic text around it
    assert any(day in card for day in ("الاثنين", "الإثنين"))
    assert categories != subcategories


# -- a region that is not listed ----------------------------------------------------------
def test_a_person_whose_region_is_not_listed_gets_national_help_and_a_person(whatsapp, runtime):
    start_in(whatsapp)
    regions = whatsapp.conversation("find help")[-1]
    national = whatsapp.conversation(numbered(regions)["My region is not listed"])
    assert "anywhere in the Netherlands" in national[0] and "Call 112" in national[0]
    assert "*Het Juridisch Loket*" in national[0] and "📞 +31 900 8020" in national[0]
    assert "Talk to a person" in national[-1]
    whatsapp.send(numbered(national[-1])["Talk to a person"])
    with runtime.session() as session:
        contact = session.scalar(select(Contact))
        assert contact.region is None  # asked again next time: the region may be listed by then
        assert session.scalar(select(func.count()).select_from(Ticket).where(Ticket.contact_id == contact.id)) == 1


def test_national_help_by_topic_and_next_to_a_regions_own_places(whatsapp):
    start_in(whatsapp)
    regions = whatsapp.conversation("find help")[-1]
    national = whatsapp.conversation(numbered(regions)["My region is not listed"])[-1]
    categories = whatsapp.conversation(numbered(national)["Help by topic"])[-1]
    subcategories = whatsapp.conversation(numbered(categories)["Legal help"])[-1]
    offers = whatsapp.conversation(numbered(subcategories)["Free legal advice"])[-1]
    assert list(numbered(offers)) == ["Het Juridisch Loket"]

    regions = whatsapp.conversation("find help")[-1]
    categories = whatsapp.conversation(numbered(regions)["Amsterdam"])[-1]
    subcategories = whatsapp.conversation(numbered(categories)["Legal help"])[-1]
    offers = list(numbered(whatsapp.conversation(numbered(subcategories)["Free legal advice"])[-1]))
    assert offers[-1] == "Het Juridisch Loket" and len(offers) >= 2  # the region's own places first


@pytest.mark.parametrize("language", ["ar", "en", "es", "fr", "id", "nl", "pt", "tl", "uk",
                                      "fa", "ti", "so", "tr", "ru", "am"])
def test_national_help_fits_one_whatsapp_message_in_every_language(runtime, language):
    content = runtime.referrals.current()
    intro = runtime.translator.text(NATIONAL_INTRO, language)
    message = f"{intro}\n\n{national_summary(content.national_offers(), language)}"
    assert len(content.national_offers()) >= 3 and len(message) <= 1024
    assert intro != NATIONAL_INTRO or language == "en"
    assert all(offer.description.by_language.get(language) for offer in content.national_offers())


def test_without_national_content_a_region_not_listed_still_reaches_a_person(whatsapp, runtime, content):
    region = yaml.safe_load((content / "regions" / "testtown.yml").read_text(encoding="utf-8"))
    region.update(region="othertown", name="Othertown", offers=[{**region["offers"][-1], "id": "soup_other"}])
    (content / "regions" / "othertown.yml").write_text(yaml.safe_dump(region, allow_unicode=True))
    runtime.referrals.forget()
    start_in(whatsapp)
    regions = whatsapp.conversation("find help")[-1]
    assert list(numbered(regions)) == ["Othertown", "Testtown", "My region is not listed"]
    replies = whatsapp.conversation(numbered(regions)["My region is not listed"])
    assert "Call 112" in replies[0] and "Juridisch Loket" not in replies[0]
    whatsapp.send(numbered(replies[-1])["Talk to a person"])
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_national_help_in_a_region_file_or_too_long_is_refused(runner, content):
    (content / "national.yml").write_text(yaml.safe_dump({
        "version": 1, "region": "national", "name": "The Netherlands", "offers": [
            {"id": "line", "category": "food", "subcategory": "meals", "name": "Food line", "phone": "+31 800 1234",
             "description": every_language("A phone line that finds food near you. " * 4)}]}))
    result = runner.invoke(args=["content", "check"])
    assert result.exit_code == 1 and "national.yml:" in result.output and "at most 120 fit" in result.output
    (content / "national.yml").unlink()
    shutil.copy(content / "regions" / "testtown.yml", content / "regions" / "national.yml")
    edit(content / "regions" / "national.yml", "region: testtown", "region: national")
    result = runner.invoke(args=["content", "check"])
    assert result.exit_code == 1 and "it goes in national.yml" in result.output


# -- choosing, paging, feedback -------------------------------------------------------------
def test_long_lists_show_nine_and_more(whatsapp, content):
    start_in(whatsapp)
    whatsapp.send("find help")  # one region: it is not asked
    whatsapp.send("1")  # health care
    offers = whatsapp.conversation("1")[-1]  # doctor
    options = numbered(offers)
    assert len(options) == 10 and options["More"] == "10"
    assert "Practice 09" in options and "Practice 10" not in options
    second = whatsapp.conversation("10")[-1]
    assert numbered(second) == {"Practice 10": "1", "Practice 11": "2", "Practice 12": "3"}
    card = whatsapp.conversation("2")[0]
    assert card.startswith("*Practice 11*") and "+31 20 555 0111" in card


def test_the_more_label_and_an_offer_name_can_be_typed(whatsapp, content):
    start_in(whatsapp)
    whatsapp.send("find help")
    whatsapp.send("Health care")
    whatsapp.send("doctor (gp)")
    assert "Practice 12" in whatsapp.conversation("more")[-1]
    assert whatsapp.conversation("practice 12")[0].startswith("*Practice 12*")


def test_a_subcategory_without_offers_offers_a_person(whatsapp, content):
    start_in(whatsapp)
    whatsapp.send("find help")
    whatsapp.send("1")
    reply = whatsapp.conversation("2")[-1]  # dentist: nobody in Testtown
    assert reply.startswith("We do not know a place for this in your region yet.")
    assert "person" in whatsapp.conversation("1")[-1]


def test_questions_and_answers(whatsapp, content):
    start_in(whatsapp)
    whatsapp.send("find help")
    whatsapp.send("1")
    questions = whatsapp.conversation("Questions and answers")[-1]
    assert "Do I have to pay?" in questions
    (answer,) = whatsapp.conversation("1")  # the answer, then what next, as buttons under it
    assert answer.startswith("No, not if you cannot.\n\nAnything else?")


def test_feedback_is_counted_per_offer_and_shown_to_editors(whatsapp, runtime, content, client, runner):
    start_in(whatsapp)
    for answer in ("1", "2", "2", "2"):
        whatsapp.send("find help")
        whatsapp.send("1")
        whatsapp.send("1")
        whatsapp.send("1")  # Practice 01
        whatsapp.send(answer)  # yes / no
    with runtime.session() as session:
        answers = [row.helpful for row in session.scalars(select(ReferralFeedback))]
        assert sorted(answers) == [False, False, False, True]
        assert session.scalar(select(ReferralFeedback.offer).distinct()) == "doc_01"
    result = runner.invoke(args=["content", "feedback", "--json"])
    assert json.loads(result.output)[0] | {} == {"offer": "doc_01", "region": "testtown", "name": "Practice 01",
                                                  "helpful": 1, "not_helpful": 3, "needs_a_look": True}
    signed_in(client, runner, role="editor")
    page = client.get("/staff/content/").get_data(as_text=True)
    assert "1 offer(s) need a look" in page and 'id="offer-doc_01" class="needs-a-look"' in page


def test_the_feedback_buttons_carry_payloads(whatsapp, runtime, content):
    start_in(whatsapp)
    whatsapp.send("find help")
    whatsapp.send("1")
    whatsapp.send("1")
    whatsapp.send("1")
    whatsapp.send("Yes", MessageType="button", ButtonPayload="referral.helpful", ButtonText="Yes")
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(ReferralFeedback)
                              .where(ReferralFeedback.helpful.is_(True))) == 1


# -- checking and publishing ----------------------------------------------------------------
def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    found = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line]
    return found[occurrence - 1]


@pytest.mark.parametrize("file, old, new, needle, problem", [
    ("regions/testtown.yml", "subcategory: doctor", "subcategory: surgeon", "subcategory: surgeon",
     "subcategory 'surgeon' is not one of health's"),
    ("regions/testtown.yml", "hours: Mo-Fr 09:00-17:00; Sa 10:00-12:00", "hours: Mo-Fr 9-5",
     "hours: Mo-Fr 9-5", "opening hours: '9-5' after Mo-Fr is not a time span"),
    ("regions/testtown.yml", "phone: +31 20 555 0101", "phone: call us", "phone: call us",
     "'call us' is not a phone number"),
    ("regions/testtown.yml", "name: Practice 01", "name: Practice 01 for everyone in the whole town",
     "name: Practice 01 for", "add a shorter 'title'"),
    ("categories.yml", "  nl: Health care (nl)", "  xx: Health care (nl)", ("  name:", 1), "is missing in nl"),
    ("categories.yml", "  ti: Health care (ti)", "  xx: Health care (ti)", ("  name:", 1), "is missing in ti"),
    ("categories.yml", "  nl: Health care (nl)", "  xx: Health care (nl)", ("xx: Health care", 1),
     "'xx', which is not a language we serve"),
    ("categories.yml", "- id: food", "- id: health", ("- id: health", 2), "defined twice"),
    ("regions/testtown.yml", "category: food", "category: foood", "category: foood",
     "category 'foood' is not in categories.yml"),
    ("regions/testtown.yml", "offers:", "offers: [", "offers: [", "not valid YAML"),
])
def test_each_content_mistake_is_reported_with_file_and_line(runner, content, file, old, new, needle, problem):
    path = content / file
    edit(path, old, new)
    result = runner.invoke(args=["content", "check"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if problem in line]
    assert lines, result.output
    if "YAML" not in problem:
        expected = line_of(path, *needle) if isinstance(needle, tuple) else line_of(path, needle)
        assert lines[0].startswith(f"{path}:{expected}: "), (lines[0], result.output)


def test_publishing_reaches_running_processes_and_invalid_content_never_goes_live(whatsapp, runtime, content,
                                                                                  runner):
    elsewhere = ReferralContent(runtime.settings, runtime.session)  # another worker on the same database
    runtime.settings.content.refresh_seconds = 0
    assert runner.invoke(args=["content", "reload"]).exit_code == 0
    assert elsewhere.current().offer("doc_01").name.get("en") == "Practice 01"

    region = content / "regions" / "testtown.yml"
    edit(region, "name: Practice 01", "name: Practice One")
    assert elsewhere.current().offer("doc_01").name.get("en") == "Practice 01"  # files are a draft
    assert runner.invoke(args=["content", "reload"]).exit_code == 0
    assert elsewhere.current().offer("doc_01").name.get("en") == "Practice One"

    edit(region, "category: food", "category: nonsense")
    result = runner.invoke(args=["content", "reload"])
    assert result.exit_code == 1 and "nothing was published" in result.output
    start_in(whatsapp)
    whatsapp.send("find help")
    whatsapp.send("Food")  # still the last good release
    assert whatsapp.conversation("1")[-1].startswith("These places can help.")
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(ContentRelease)
                              .where(ContentRelease.kind == "referrals")) == 2


def test_editors_see_per_language_what_is_missing_or_waits_for_review(client, runner):
    signed_in(client, runner, role="editor", email="editor@example.org")
    page = client.get("/staff/content/").get_data(as_text=True)
    row = page.split('id="language-ti"')[1].split("</tr>")[0]
    cells = [cell.split(">")[1].split("<")[0] for cell in row.split('<td class="num"')[1:]]
    assert cells[0] == "0" and int(cells[1]) > 100  # complete, drafted without a native speaker
    assert "Het Juridisch Loket" in page  # national offers get "was it helpful?" counts too


def test_staff_publish_button_and_roles(app, client, runner, runtime, content):
    agent = app.test_client()
    signed_in(agent, runner, role="agent", email="agent@example.org")
    assert agent.get("/staff/content/").status_code == 403
    signed_in(client, runner, role="editor", email="editor@example.org")
    page = client.get("/staff/content/").get_data(as_text=True)
    assert "not live yet" in page
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    published = client.post("/staff/content/publish", data={"csrf_token": token}, follow_redirects=True)
    assert "Published release 1" in published.get_data(as_text=True)
    edit(content / "regions" / "testtown.yml", "category: food", "category: nonsense")
    refused = client.post("/staff/content/publish", data={"csrf_token": token}, follow_redirects=True)
    text = refused.get_data(as_text=True)
    assert "Not published" in text and "testtown.yml:" in text
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(ContentRelease)
                              .where(ContentRelease.kind == "referrals")) == 1


# -- importing a spreadsheet ----------------------------------------------------------------
CSV_HEADER = "id,category,subcategory,name,description,description:nl,address,hours,phone,website,latitude,longitude\n"


def csv_rows(*rows: str) -> str:
    return CSV_HEADER + "".join(row + "\n" for row in rows)


def full_description(text: str) -> str:
    """A description cell and its Dutch column (other languages go in more columns)."""
    return f"{text},{text} (nl)"


def test_csv_import_writes_a_region_that_checks_out(runner, content, tmp_path):
    languages = "".join(f",description:{code}" for code in LANGUAGES if code not in ("en", "nl"))
    header = CSV_HEADER.replace("description:nl,", "description:nl" + languages + ",")
    extra = "".join(f",Soep ({code})" for code in LANGUAGES if code not in ("en", "nl"))
    source = tmp_path / "offers.csv"
    source.write_text(header + f'soup2,food,meals,Soep & Brood,Free soup,Gratis soep{extra},"Dam 1, 1012 JS Amsterdam",'
                      f"Mo-Fr 12:00-14:00,+31 20 555 0199,,52.373,4.893\n", encoding="utf-8")
    result = runner.invoke(args=["content", "import", str(source), "--region", "newtown", "--name", "Newtown"])
    assert result.exit_code == 0, result.output
    written = yaml.safe_load((content / "regions" / "newtown.yml").read_text(encoding="utf-8"))
    assert written["offers"][0]["description"]["nl"] == "Gratis soep"
    assert written["offers"][0]["location"] == [52.373, 4.893]
    assert runner.invoke(args=["content", "check"]).exit_code == 0


def test_broken_csv_rows_are_reported_by_line_and_nothing_is_written(runner, content, tmp_path):
    source = tmp_path / "offers.csv"
    source.write_text(csv_rows(
        "ok1,food,meals,Soup,Soup,Soep,Dam 1,,,,,",
        "bad1,food,dinner,Soup,Soup,Soep,Dam 1,,,,,",
        "bad2,food,meals,Soup,Soup,Soep,,Mo-Fr 9-5,,,,",
        "bad3,food,meals,Soup,Soup,Soep,Dam 1,,,,north,east",
        "bad4,food,meals,Soup,Soup,Soep,Dam 1,,,,,,,,too many"), encoding="utf-8")
    before = (content / "regions" / "testtown.yml").read_text(encoding="utf-8")
    result = runner.invoke(args=["content", "import", str(source), "--region", "testtown"])
    assert result.exit_code == 1
    assert f"{source}:3: offer bad1: subcategory 'dinner'" in result.output
    assert f"{source}:4: offer bad2: opening hours" in result.output
    assert f"{source}:5: latitude and longitude must both be numbers" in result.output
    assert f"{source}:6: this row has more cells" in result.output
    assert "nothing was written" in result.output
    assert (content / "regions" / "testtown.yml").read_text(encoding="utf-8") == before


def test_csv_with_unknown_columns_or_not_utf8_is_refused(runner, content, tmp_path):
    source = tmp_path / "offers.csv"
    source.write_text("id,naam\nx,y\n", encoding="utf-8")
    result = runner.invoke(args=["content", "import", str(source), "--region", "testtown"])
    assert result.exit_code == 1 and f"{source}:1: unknown column(s) naam" in result.output
    source.write_bytes(CSV_HEADER.encode() + "x,food,meals,Café,Caf\xe9\n".encode("latin-1"))
    result = runner.invoke(args=["content", "import", str(source), "--region", "testtown"])
    assert result.exit_code == 1 and "not UTF-8" in result.output


def test_content_survives_a_copy_of_the_shipped_files(tmp_path):
    """The seeded regions parse with the same loader the CSV import and publishing use."""
    from referrals.check import load_content

    copy = tmp_path / "content"
    shutil.copytree(ROOT / "content", copy)
    content = load_content(copy, list(PROGRAM), ["fa", "ti", "so", "tr", "ru", "am"])
    assert {region.id for region in content.regions} >= {"amsterdam", "utrecht"}
    for category in ("health", "legal"):
        assert content.category(category).rights is not None
