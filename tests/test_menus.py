"""WhatsApp-native menus: reply buttons and list pickers through Twilio's Content API (made once,
kept in the database), numbered text whenever that fails, and taps matched by their payload."""
import json

from sqlalchemy import func, select

from store.models import Contact, Message, WhatsAppContent

PHONE = "+31612345678"
LANGUAGES = "ar en es fr id nl pt tl uk fa ti so tr ru am".split()


def chose_language(whatsapp, number: str = "2", phone: str = PHONE) -> None:
    """A new person who chose a language from the first menu (2 is English, 1 Arabic, 6 Dutch)."""
    whatsapp.send("hello", phone=phone)
    whatsapp.send(number, phone=phone)


def last_sent(twilio, phone: str = PHONE) -> dict:
    return twilio.sent(phone)[-1]


def content_of(twilio, message: dict) -> tuple[str, dict]:
    kind, data = next(iter(twilio.contents[message["ContentSid"]]["types"].items()))
    return kind, data


def test_three_choices_go_as_reply_buttons_with_short_labels(whatsapp, twilio):
    chose_language(whatsapp)
    whatsapp.send("delete my data")
    sent = last_sent(twilio)
    assert "Body" not in sent  # the content carries it
    kind, data = content_of(twilio, sent)
    assert kind == "twilio/quick-reply"
    assert [(a["title"], a["id"]) for a in data["actions"]] == [("Yes, delete all", "delete_data.confirm.1"),
                                                                ("No, keep it", "delete_data.confirm.2")]
    assert all(len(action["title"]) <= 20 for action in data["actions"])
    assert data["body"] == "{{1}}" and twilio.contents[sent["ContentSid"]]["language"] == "en"
    assert json.loads(sent["ContentVariables"]) == {
        "1": "This deletes your messages and everything we know about you. We cannot undo it. Are you sure?"}


def test_four_to_ten_choices_go_as_a_list_in_the_persons_language(whatsapp, twilio):
    chose_language(whatsapp, "1")  # Arabic
    whatsapp.send("menu")
    sent = last_sent(twilio)
    kind, data = content_of(twilio, sent)
    assert kind == "twilio/list-picker"
    assert data["button"] == "اختر" and twilio.contents[sent["ContentSid"]]["language"] == "ar"
    assert [item["id"] for item in data["items"]] == [f"main.menu.{n}" for n in range(1, 8)]
    assert all(len(item["item"]) <= 24 for item in data["items"])
    assert "كيف يمكنني مساعدتك" in json.loads(sent["ContentVariables"])["1"]  # the Arabic menu text, without numbers
    assert "1." not in json.loads(sent["ContentVariables"])["1"]


def test_a_content_is_made_once_and_shared_through_the_database(whatsapp, twilio, runtime):
    chose_language(whatsapp)
    whatsapp.send("menu")
    whatsapp.send("menu")
    chose_language(whatsapp, phone="+31612345679")
    whatsapp.send("menu", phone="+31612345679")
    menus = [m for m in twilio.sent() if m.get("ContentSid") in twilio.contents
             and "twilio/list-picker" in twilio.contents[m["ContentSid"]]["types"]]
    assert len(menus) >= 4 and len({m["ContentSid"] for m in menus}) == 1
    with runtime.session() as session:
        rows = session.scalars(select(WhatsAppContent)).all()
    assert {(row.kind, row.language) for row in rows} == {("list", "en")}
    assert len(twilio.contents) == 1


def test_content_api_failure_sends_the_numbered_text(whatsapp, twilio, runtime):
    chose_language(whatsapp)
    made = len(twilio.contents)
    twilio.fail_content_next(500, 20500)
    whatsapp.send("delete my data")
    sent = last_sent(twilio)
    assert "ContentSid" not in sent
    assert sent["Body"].startswith("This deletes your messages") and "\n1. Yes, delete everything" in sent["Body"]
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(WhatsAppContent)) == made
        failed = session.scalar(select(func.count()).select_from(Message).where(Message.status == "failed"))
    assert failed == 0
    whatsapp.send("delete my data")  # for a while the Content API is left alone: text again, no new attempt
    assert "ContentSid" not in last_sent(twilio) and len(twilio.contents) == made
    runtime.channel.contents._paused_until = 0  # the pause is over
    whatsapp.send("delete my data")
    assert last_sent(twilio)["ContentSid"] in twilio.contents


def test_a_refused_content_falls_back_to_text_and_is_made_again(whatsapp, twilio, runtime):
    chose_language(whatsapp)
    whatsapp.send("menu")
    first = last_sent(twilio)["ContentSid"]
    twilio.fail_next(400, 21656)  # Twilio: the ContentVariables are not valid for this content
    whatsapp.send("menu")
    sent = last_sent(twilio)
    assert "ContentSid" not in sent and "\n7. Find help near you" in sent["Body"]
    whatsapp.send("menu")
    assert last_sent(twilio)["ContentSid"] not in (None, first)


def test_the_local_channel_keeps_numbered_text(whatsapp, runtime):
    from channels.local import LocalChannel
    from channels.twilio_payload import read_inbound
    from inbox.receive import receive

    for sid, text in (("LOCAL1", "hello"), ("LOCAL2", "2")):
        received = read_inbound({"MessageSid": sid, "From": "sim:menus", "Body": text}, "NL", 1000,
                                from_test_person=True)
        runtime.tasks.process_contact.send(receive(runtime, received).contact_id)
        whatsapp.wait()
    replies = LocalChannel(runtime.redis).received("sim:menus")
    menu = replies[-1]
    assert menu["content_sid"] is None and "\n2. Talk to a person" in menu["body"]
    assert menu["options"][1] == {"payload": "main.menu.2", "label": "Talk to a person"}


# -- taps ---------------------------------------------------------------------------------------
def tap(whatsapp, payload: str, text: str, phone: str = PHONE, kind: str = "button"):
    fields = {"ButtonPayload": payload, "ButtonText": text, "MessageType": "button"} if kind == "button" else \
        {"ListId": payload, "ListTitle": text, "MessageType": "interactive"}
    before = len(whatsapp.replies(phone))
    whatsapp.send(text, phone=phone, **fields)
    return whatsapp.replies(phone)[before:]


def test_a_tap_is_matched_by_its_payload_not_its_words(whatsapp):
    chose_language(whatsapp)
    whatsapp.send("menu")
    # the text says "Stop messages", the payload is the second row: "Talk to a person"
    replies = tap(whatsapp, "main.menu.2", "Stop messages", kind="list")
    assert any("I have asked a person" in reply for reply in replies)
    assert not any("You will not get any more messages" in reply for reply in replies)


def test_a_tap_on_an_earlier_menu_still_leads_where_it_says(whatsapp):
    chose_language(whatsapp, "6")  # Dutch
    whatsapp.send("menu")
    whatsapp.send("verwijder mijn gegevens")  # now the delete question is waiting
    replies = tap(whatsapp, "main.menu.7", "Hulp zoeken", kind="list")  # "Find help near you" from the menu
    assert replies and not any("verwijderd" in reply.lower() for reply in replies)


def test_an_old_yes_is_not_acted_on_when_the_question_is_gone(whatsapp, runtime):
    chose_language(whatsapp)
    whatsapp.send("delete my data")
    whatsapp.send("2")  # no, keep my data
    replies = tap(whatsapp, "delete_data.confirm.1", "Yes, delete all")
    assert not any("has been deleted" in reply for reply in replies)
    with runtime.session() as session:
        assert session.scalar(select(Contact.language)) == "en"  # nothing was erased
    assert any("did not understand" in reply for reply in replies)


def test_tapping_yes_on_the_open_question_in_arabic(whatsapp, runtime):
    chose_language(whatsapp, "1")
    whatsapp.send("احذف بياناتي")
    replies = tap(whatsapp, "delete_data.confirm.1", "نعم، احذف الكل")
    assert replies and "حذف" in replies[-1]
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Contact).where(Contact.language.is_not(None))) == 0


# -- made ahead of time -------------------------------------------------------------------------
def test_whatsapp_sync_makes_every_menu_in_every_language_once(runner, runtime, twilio):
    result = runner.invoke(args=["whatsapp", "sync", "--json"])
    assert result.exit_code == 0, result.output
    first = json.loads(result.output)
    languages = runtime.settings.languages.all
    menus = [content for content in twilio.contents.values() if content["variables"] == {"1": "menu"}]
    assert first["made"] == len(menus) >= 10 * len(languages) and first["failed"] == []
    assert first["numbered"] == len(languages)  # the language menu: fifteen options
    assert {content["language"] for content in menus} == set(languages)
    again = json.loads(runner.invoke(args=["whatsapp", "sync", "--json"]).output)
    assert again["made"] == 0 and again["existing"] == first["made"] + first["existing"]


def test_whatsapp_sync_reports_what_twilio_refused(runner, twilio):
    twilio.fail_content_next(400, 20001)
    result = runner.invoke(args=["whatsapp", "sync"])
    assert result.exit_code == 1
    assert "Twilio refused (20001)" in result.output and "1 failed" in result.output


def test_sync_after_sending_reuses_what_was_made_on_demand(whatsapp, runner, twilio):
    chose_language(whatsapp)
    made_on_demand = len(twilio.contents)
    result = json.loads(runner.invoke(args=["whatsapp", "sync", "--json"]).output)
    assert made_on_demand >= 1 and result["existing"] >= made_on_demand


# -- the simulator shows what WhatsApp shows ----------------------------------------------------
def test_simulator_shows_buttons_and_lists_and_a_tap_sends_the_payload(client, runtime, twilio, simulator_on):
    from tests.test_helpdesk_web import chat, sign_in, simulate

    sign_in(client, runtime, "editor")
    simulate(client, "hello")
    first = [m for m in chat(client, runtime) if m["sender"] == "bot"][-1]
    assert first["menu"] is None and "\n1. العربية" in first["text"]  # fifteen languages: numbered text
    simulate(client, "1")  # Arabic
    menu = [m for m in chat(client, runtime) if m["sender"] == "bot"][-1]["menu"]
    assert menu["kind"] == "list" and menu["button"] == "اختر" and "1." not in menu["text"]
    row = menu["items"][6]
    assert row["payload"] == "main.menu.7"
    simulate(client, payload=row["payload"], label=row["title"], kind="list")  # picked from the list
    messages = chat(client, runtime)
    picked = [m for m in messages if m["direction"] == "in"][-1]
    assert (picked["kind"], picked["text"]) == ("list", row["title"])
    regions = [m for m in messages if m["sender"] == "bot"][-1]["menu"]
    # "My region is not listed" is too long for a button in Arabic: a list of three
    assert regions["kind"] == "list" and [item["payload"] for item in regions["items"]][:2] == \
        ["pick.amsterdam", "pick.utrecht"]
    simulate(client, payload="pick.amsterdam", label="Amsterdam", kind="list")
    assert [m for m in chat(client, runtime) if m["sender"] == "bot"][-1]["menu"]["kind"] == "list"  # categories
    simulate(client, "احذف بياناتي")
    confirm = [m for m in chat(client, runtime) if m["sender"] == "bot"][-1]["menu"]
    assert confirm["kind"] == "buttons" and [item["title"] for item in confirm["items"]] == \
        ["نعم، احذف الكل", "لا، احتفظ بها"]
    assert twilio.requests == [] and twilio.contents == {}  # a local phone: nothing left the service


# -- the form of a menu (bot/menus.py) ----------------------------------------------------------
def test_a_long_name_from_content_is_cut_on_its_row_and_shown_whole_below():
    from bot.menus import layout

    name = "Huisartsenpraktijk Amsterdam-Noord, inloopspreekuur"
    menu = layout("These places can help.", [{"payload": "pick.a", "label": name},
                                             {"payload": "pick.b", "label": "Practice 2"}])
    assert menu.kind == "list"  # too long for a button, so a list even with two choices
    first, second = menu.items
    assert len(first.title) == 24 and first.title.endswith("…") and first.description == name
    assert (second.title, second.description) == ("Practice 2", "")


def test_two_buttons_with_one_title_become_a_list():
    from bot.menus import layout

    same = [{"payload": "pick.1", "label": "Huisarts"}, {"payload": "pick.2", "label": "Huisarts"}]
    assert layout("Which one?", same).kind == "list"


def test_numbered_text_when_a_menu_cannot_be_buttons_or_a_list():
    from bot.menus import layout

    eleven = [{"payload": str(n), "label": f"Choice {n}"} for n in range(11)]
    assert layout("Choose", eleven) is None
    assert layout("x" * 1025, eleven[:2]) is None and layout("", eleven[:2]) is None


def test_texts_from_code_on_buttons_and_rows_fit_in_every_language():
    """Flows are checked by `flask flows check`; these texts come from code: the list's own button
    (20 characters), "Something else" under "Did you mean" (a button, 20) and the rows the
    referral lists add (24)."""
    from bot.engine import MORE, SOMETHING_ELSE
    from bot.i18n import Translator
    from bot.menus import BUTTON_TITLE, LIST_BUTTON, ROW_TITLE
    from referrals.actions import CHANGE_REGION, NOT_LISTED, QUESTIONS

    translator = Translator()
    limits = {LIST_BUTTON: BUTTON_TITLE, SOMETHING_ELSE: BUTTON_TITLE, MORE: ROW_TITLE, CHANGE_REGION: ROW_TITLE,
              NOT_LISTED: ROW_TITLE, QUESTIONS: ROW_TITLE}
    too_long = [(language, text) for text, limit in limits.items() for language in LANGUAGES
                if len(translator.text(text, language)) > limit]
    assert too_long == []
