"""The dialogue engine on its own: the flows in flows/, the real catalogs and the built-in
actions, with the service's actions replaced by in-memory ones and the classifier by a table.
No Flask, no database, no threads: the whole module runs in about a second, so the order of
priority (opted out, handoff, global keywords, payloads, numbers, intents, did you mean,
fallback to a person) is pinned down here and the end-to-end suites cover the service around it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

import bot.builtin_actions
from bot.actions import ActionContext, Actions, Choices
from bot.engine import MENU_FLOW, Engine, Profile, State, Turn, Understanding
from bot.flows import load_flows
from bot.i18n import Translator
from bot.messages import Incoming, Option
from settings import ROOT

CONFIDENT, UNSURE = 0.9, 0.35


@dataclass
class Person:
    """The host the service would pass: here it only remembers what the actions were asked."""

    calls: list[tuple[str, Any]] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)
    regions: list[str] = field(default_factory=list)
    erase: bool = False


def recorded(name: str, default: str | None = "ok"):
    def action(context: ActionContext[Person]) -> str | None:
        context.host.calls.append((name, context.value))
        return context.host.outcomes.get(name, default)
    return action


def handoff(context: ActionContext[Person]) -> str:
    context.host.calls.append(("handoff", context.value))
    context.profile.in_handoff = True
    return "ok"


def regions(context: ActionContext[Person]) -> list[Option]:
    return [Option(payload=name.lower(), label=name) for name in context.host.regions]


DOMAIN_ACTIONS = ("registration_start", "registration_consent", "registration_no_consent", "registration_save",
                  "registration_complete", "vouchers_send_unclaimed", "vouchers_resend", "vouchers_balance",
                  "privacy_report", "referral_begin", "referral_remember_region", "referral_rights", "referral_card",
                  "referral_feedback", "referral_answer", "referral_national", "vouchers_waiting",
                  "handoff_acknowledge", "vouchers_where_other_kinds")
DOMAIN_CHOICES = ("referral_categories", "referral_subcategories", "referral_offers", "referral_questions")
# What the classifier would say, by message: (intent, confidence, the ranking after it).
MEANINGS = {
    "how much money do i have": ("voucher_balance", CONFIDENT, []),
    "i need someone to talk to": ("human", CONFIDENT, []),
    "yes please": ("affirm", CONFIDENT, []),
    "hmm vouchers maybe": ("voucher_balance", UNSURE, [("voucher_resend", 0.3), ("human", 0.28)]),
    "what is the weather": ("out_of_scope", CONFIDENT, [("voucher_balance", 0.3)]),
    "blorp": ("human", 0.1, []),
    "hallo, ik wil me aanmelden": ("register", CONFIDENT, []),
    "please tell me": ("voucher_balance", UNSURE, []),
    "yes": ("affirm", UNSURE, []),
    "i am scared of him": ("human", 0.5, [("urgent", 0.35)]),
    "please delete everything about me": ("delete_data", CONFIDENT, []),
    "please stop sending me messages": ("stop", CONFIDENT, []),
    "is this safe, will the police see this?": ("safety", CONFIDENT, []),
    "hello": ("greet", CONFIDENT, []),
}
LANGUAGES = {"hallo, ik wil me aanmelden": "nl", "bonjour je voudrais de l'aide": "fr"}


def understand(text: str, language: str | None) -> Understanding | None:
    intent, confidence, rest = MEANINGS.get(text.lower(), ("out_of_scope", 0.05, []))
    return Understanding(intent, confidence, [(intent, confidence), *rest])


@pytest.fixture(scope="module")
def engine() -> Engine[Person]:
    actions: Actions[Person] = Actions()
    choices: Choices[Person] = Choices()
    bot.builtin_actions.register(actions, choices)
    actions.add("handoff", handoff)
    for name in DOMAIN_ACTIONS:
        actions.add(name, recorded(name, "continue" if name == "registration_start" else "ok"))
    choices.add("referral_regions", regions)
    for name in DOMAIN_CHOICES:
        choices.add(name, lambda context: [])
    placeholders = {"program": "Direct Digital Aid", "organisation": "DDA", "stores": "the shop", "message_days": "30"}
    flows = load_flows(ROOT / "flows", actions.names(), choices=choices.names(), placeholders=placeholders)
    return Engine(flows, Translator(), actions, choices=choices, fallback_limit=2, placeholders=placeholders,
                  understand=understand, guess_language=LANGUAGES.get, confidence_threshold=0.5,
                  suggestion_threshold=0.25)


class Chat:
    """One person talking to the engine: keeps the state and profile between turns."""

    def __init__(self, engine: Engine[Person], language: str | None = "en", **profile: bool):
        self.engine = engine
        self.state = State()
        self.profile = Profile(language=language, **profile)
        self.person = Person()
        self.turn: Turn | None = None

    def send(self, event: Incoming) -> Turn:
        self.turn = self.engine.handle(self.state, event, self.profile, self.person)
        self.state, self.profile = self.turn.state, self.turn.profile
        return self.turn

    def say(self, text: str) -> Turn:
        return self.send(Incoming(kind="text", text=text))

    def tap(self, payload: str, text: str = "") -> Turn:
        return self.send(Incoming(kind="button", text=text, payload=payload))

    @property
    def replies(self) -> str:
        assert self.turn is not None
        return "\n".join(reply.rendered() for reply in self.turn.replies)

    def at(self, flow: str | None, step: str | None = None) -> bool:
        return self.state.flow == flow and (step is None or self.state.step == step)


@pytest.fixture
def chat(engine) -> Chat:
    return Chat(engine)


# -- the order itself ---------------------------------------------------------------------

def test_the_matchers_are_tried_in_the_documented_order():
    assert [name for name, _ in Engine.MATCHERS] == [
        "opted out or with a helper", "global keyword", "first contact", "unreadable", "did you mean answered",
        "menu option", "list choice", "answer confirmed", "question answered", "flow named", "earlier button",
        "intent", "did you mean", "fallback"]


def test_a_turn_leaves_the_state_it_was_given_untouched(engine):
    before = State(flow="register", step="ask_name", slots={"consented": True})
    engine.handle(before, Incoming(text="Amina"), Profile(language="en"), Person())
    assert before == State(flow="register", step="ask_name", slots={"consented": True})


# -- opted out -----------------------------------------------------------------------------

def test_after_stop_the_bot_stays_silent(engine):
    chat = Chat(engine, opted_out=True)
    turn = chat.say("hello, anyone there?")
    assert turn.replies == [] and turn.handled_by == "silent"
    assert turn.matched_by == "opted out or with a helper"


def test_after_stop_even_the_menu_keyword_stays_silent(engine):
    assert Chat(engine, opted_out=True).say("menu").replies == []


def test_after_stop_start_opts_in_again(engine):
    chat = Chat(engine, opted_out=True)
    chat.say("START")
    assert chat.profile.opted_out is False
    assert "Welcome back" in chat.replies and "What can I do for you?" in chat.replies


# -- with a helper -------------------------------------------------------------------------

def test_with_a_helper_the_bot_does_not_answer(engine):
    chat = Chat(engine, in_handoff=True)
    assert chat.say("are you still there").handled_by == "silent"
    assert chat.person.calls == [("handoff_acknowledge", None)]  # the host decides if "it arrived" is due


def test_with_a_helper_stop_and_the_safety_question_in_free_text_still_work(engine):
    chat = Chat(engine, in_handoff=True)
    chat.say("is this safe, will the police see this?")
    assert "never give it to the police" in chat.replies
    chat.say("please stop sending me messages")
    assert chat.profile.opted_out is True


def test_with_a_helper_stop_still_works(engine):
    chat = Chat(engine, in_handoff=True)
    chat.say("stop")
    assert chat.profile.opted_out is True
    assert "You will not get any more messages" in chat.replies


def test_with_a_helper_urgent_words_still_reach_the_top_of_the_queue(engine):
    chat = Chat(engine, in_handoff=True)
    chat.say("please help, he hits me every night")
    assert chat.person.calls == [("handoff", "urgent")]


# -- global keywords -----------------------------------------------------------------------

def test_menu_interrupts_a_question_and_is_not_taken_as_the_answer(chat):
    chat.state = State(flow="register", step="ask_name", slots={"consented": True})
    chat.say("menu")
    assert "What can I do for you?" in chat.replies
    assert "reg_name" not in chat.state.slots
    assert chat.turn is not None and chat.turn.matched_by == "global keyword"


def test_stop_interrupts_any_flow(chat):
    chat.state = State(flow="register", step="ask_partner")
    chat.say("STOP")
    assert chat.profile.opted_out is True


def test_an_urgent_phrase_anywhere_in_a_message_hands_over_as_urgent(chat):
    chat.state = State(flow="register", step="ask_name")
    chat.say("i think this is an emergency, my child")
    assert chat.person.calls == [("handoff", "urgent")]
    assert chat.profile.in_handoff is True


def test_keywords_work_in_every_language_whatever_the_case_and_accents(chat):
    chat.say("TAAL")
    assert "Choose your language" in chat.replies
    chat.say("Menú")
    assert "What can I do for you?" in chat.replies


def test_danger_in_the_persons_own_words_wins_even_when_another_meaning_ranks_higher(chat):
    chat.state = State(flow="register", step="ask_name")
    chat.say("i am scared of him")
    assert chat.person.calls == [("handoff", "urgent")]


def test_a_request_to_delete_everything_is_not_taken_as_a_name(chat):
    chat.state = State(flow="register", step="ask_name", slots={"consented": True})
    chat.say("please delete everything about me")
    assert "reg_name" not in chat.state.slots
    assert chat.state.flow == "delete_data"


# -- first contact -------------------------------------------------------------------------

def test_a_first_message_in_an_unclear_language_gets_the_language_menu(engine):
    chat = Chat(engine, language=None)
    chat.say("hi")
    assert "Choose your language" in chat.replies and "Nederlands" in chat.replies
    assert chat.at("language", "choose")


def test_the_language_is_chosen_by_its_number(engine):
    chat = Chat(engine, language=None)
    chat.say("hi")
    chat.say("6")
    assert chat.profile.language == "nl"
    assert chat.turn is not None and chat.turn.matched_by == "menu option"


def test_a_clear_first_message_sets_the_language_and_goes_on_to_what_it_asked_for(engine):
    chat = Chat(engine, language=None)
    chat.say("hallo, ik wil me aanmelden")
    assert chat.profile.language == "nl"
    assert chat.at("register", "consent")
    assert ("registration_start", None) in chat.person.calls
    assert "Choose your language" not in chat.replies


def test_a_first_message_naming_a_flow_keeps_it_for_after_the_welcome(engine):
    chat = Chat(engine, language=None)
    chat.say("register")
    assert chat.state.slots["_pending"] == "register"
    chat.say("2")  # English
    assert chat.at("register", "consent")


# -- payloads and numbers ------------------------------------------------------------------

def test_a_button_payload_starts_its_flow(chat):
    chat.tap("cmd.human", text="Talk to a person")
    assert chat.person.calls == [("handoff", "asked")]


def test_a_number_chooses_that_menu_option(chat):
    chat.say("menu")
    chat.say("1")
    assert ("registration_start", None) in chat.person.calls
    assert chat.at("register", "consent")


def test_a_number_with_a_dot_or_bracket_still_counts(chat):
    chat.say("menu")
    chat.say(" 7) ")
    assert ("referral_begin", None) in chat.person.calls


def test_a_number_outside_the_menu_is_not_understood_and_the_menu_comes_again(chat):
    chat.say("menu")
    chat.say("42")
    assert "did not understand" in chat.replies and "What can I do for you?" in chat.replies
    assert chat.state.fallbacks == 1


def test_an_option_can_be_written_out_as_its_label(chat):
    chat.say("menu")
    chat.say("talk to a person")
    assert chat.person.calls == [("handoff", "asked")]


def test_an_option_can_be_written_out_in_the_persons_language(engine):
    chat = Chat(engine, language="nl")
    chat.say("menu")
    label = engine.translator.text("My vouchers", "nl")
    assert label != "My vouchers"
    chat.say(label.upper())
    assert chat.at("vouchers", "menu")


def test_a_button_of_an_earlier_menu_still_leads_where_it_said(chat, engine):
    payload = next(option.payload for option in engine.flows.flows[MENU_FLOW].steps["menu"].options
                   if option.goto == "@register")
    chat.state = State(flow="vouchers", step="menu")
    chat.tap(payload, text="Register for the program")
    assert ("registration_start", None) in chat.person.calls
    assert chat.turn is not None and chat.turn.matched_by == "earlier button"


def test_a_prefix_word_starts_its_flow_and_keeps_the_rest(chat):
    chat.say("JOIN ab12cd")
    assert chat.state.slots["_argument"] == "ab12cd"
    assert ("registration_start", None) in chat.person.calls


# -- answers to the waiting step -----------------------------------------------------------

def test_a_clear_yes_chooses_the_option_with_that_intent(chat):
    chat.state = State(flow="register", step="consent")
    chat.say("yes please")
    assert ("registration_consent", None) in chat.person.calls
    assert chat.at("register", "ask_name")


def test_an_unsure_yes_does_not_choose_anything(chat):
    chat.state = State(flow="register", step="consent")
    chat.say("yes")
    assert ("registration_consent", None) not in chat.person.calls


def test_an_answer_is_saved_and_the_flow_goes_on(chat):
    chat.state = State(flow="register", step="ask_name", slots={"consented": True})
    chat.say("  Amina   Yusuf ")
    assert chat.state.slots["reg_name"] == "Amina Yusuf"
    assert ("registration_save", None) in chat.person.calls
    assert chat.turn is not None and chat.turn.matched_by == "question answered"


def test_an_invalid_answer_gets_the_steps_own_explanation_and_the_question_again(chat):
    chat.state = State(flow="register", step="ask_name", slots={"consented": True})
    chat.say("A")
    assert "Please write only your name" in chat.replies and "What is your name?" in chat.replies
    assert chat.at("register", "ask_name") and chat.state.fallbacks == 1


def test_a_list_from_content_is_numbered_and_a_number_picks_from_it(chat):
    chat.person.regions = ["Amsterdam", "Utrecht"]
    chat.person.outcomes["referral_begin"] = "no_region"
    chat.say("find help")
    assert "1. Amsterdam" in chat.replies and "2. Utrecht" in chat.replies
    chat.say("2")
    assert chat.state.slots["region"] == "utrecht"
    assert ("referral_remember_region", None) in chat.person.calls


def test_a_long_list_shows_ten_rows_at_a_time_with_more(chat):
    chat.person.regions = [f"Region {n:02d}" for n in range(1, 15)]
    chat.person.outcomes["referral_begin"] = "no_region"
    chat.say("find help")
    assert "9. Region 09" in chat.replies and "10. More" in chat.replies and "Region 10" not in chat.replies
    chat.say("10")
    assert "1. Region 10" in chat.replies and "5. Region 14" in chat.replies
    chat.say("5")
    assert chat.state.slots["region"] == "region 14"


# -- intents -------------------------------------------------------------------------------

def test_a_confident_intent_starts_its_flow_and_is_remembered(chat):
    chat.say("how much money do I have")
    assert ("vouchers_balance", None) in chat.person.calls
    assert chat.turn is not None and chat.turn.matched_by == "intent"


def test_an_exact_keyword_wins_over_the_classifier(chat):
    chat.state = State(flow="vouchers", step="menu")
    chat.say("register")
    assert chat.turn is not None and chat.turn.matched_by == "flow named"
    assert ("registration_start", None) in chat.person.calls


def test_an_intent_reaches_a_person_when_asked_in_free_text(chat):
    chat.say("I need someone to talk to")
    assert chat.person.calls == [("handoff", "asked")]


# -- did you mean --------------------------------------------------------------------------

def test_an_unsure_meaning_is_offered_as_did_you_mean(chat):
    chat.say("hmm vouchers maybe")
    assert "Did you mean" in chat.replies
    assert "1. How much is left" in chat.replies and "2. Send my voucher again" in chat.replies
    assert "3. Something else" in chat.replies
    assert chat.state.fallbacks == 1


def test_did_you_mean_answered_by_number_starts_that_flow(chat):
    chat.say("hmm vouchers maybe")
    chat.say("2")
    assert ("vouchers_resend", None) in chat.person.calls
    assert chat.state.fallbacks == 0
    assert chat.turn is not None and chat.turn.matched_by == "did you mean answered"


def test_did_you_mean_something_else_shows_the_menu(chat):
    chat.say("hmm vouchers maybe")
    chat.tap("suggest.none")
    assert "What can I do for you?" in chat.replies
    assert chat.at(MENU_FLOW, "menu")


def test_out_of_scope_is_answered_honestly_never_as_did_you_mean(chat):
    chat.say("what is the weather")
    assert "Did you mean" not in chat.replies and "I cannot help with that here" in chat.replies
    assert "Talk to a person" in chat.replies and chat.at("out_of_scope")


def test_out_of_scope_twice_reaches_a_person(chat):
    chat.say("what is the weather")
    chat.say("what is the weather")
    assert chat.person.calls[-1] == ("handoff", "fallback")


# -- yes and no ----------------------------------------------------------------------------

def test_a_yes_with_no_question_waiting_gets_the_menu_and_counts_as_not_understood(chat):
    chat.say("yes please")
    assert chat.replies.startswith("What can I do for you?") and "did not understand" not in chat.replies
    assert ("vouchers_send_unclaimed", None) not in chat.person.calls
    chat.say("yes please")
    assert chat.person.calls[-1] == ("handoff", "fallback")


def test_a_yes_while_a_voucher_waits_for_one_sends_it(chat):
    chat.person.outcomes["vouchers_waiting"] = "open"
    chat.say("yes please")
    assert ("vouchers_send_unclaimed", None) in chat.person.calls


def test_a_yes_that_does_not_fit_the_question_asks_it_again(engine):
    chat = Chat(engine, language=None)
    chat.say("hi there")  # the language menu
    chat.say("yes please")
    assert "did not understand" in chat.replies and "Choose your language" in chat.replies


# -- names ---------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", ["wait, can the police see this chat?", "+31 6 1234 5678",
                                    "i do not know what you mean by that at all"])
def test_what_is_not_a_name_is_not_saved_as_one(chat, answer):
    chat.state = State(flow="register", step="ask_name", slots={"consented": True})
    chat.say(answer)
    assert "reg_name" not in chat.state.slots and chat.at("register", "ask_name")
    assert "Please write only your name" in chat.replies


def test_a_long_name_is_kept_only_once_confirmed(chat):
    chat.state = State(flow="register", step="ask_name", slots={"consented": True})
    chat.say("Amina Yusuf Hassan Ali")
    assert "Should we call you Amina Yusuf Hassan Ali?" in chat.replies
    assert ("registration_save", None) not in chat.person.calls
    chat.tap("confirm.no", "No")
    assert "What is your name?" in chat.replies and "reg_name" not in chat.state.slots
    chat.say("Amina Yusuf Hassan Ali")
    chat.tap("confirm.yes", "Yes")
    assert chat.state.slots["reg_name"] == "Amina Yusuf Hassan Ali"
    assert ("registration_save", None) in chat.person.calls


# -- first contact -------------------------------------------------------------------------

def test_stop_in_free_text_on_first_contact_opts_out_without_a_welcome(engine):
    chat = Chat(engine, language=None)
    chat.say("please stop sending me messages")
    assert chat.profile.opted_out is True
    assert "Choose your language" not in chat.replies and "START" in chat.replies


# -- not understood and the fallback to a person -------------------------------------------

def test_not_understood_says_so_and_shows_the_menu(chat):
    chat.say("blorp")
    assert "did not understand" in chat.replies and "What can I do for you?" in chat.replies
    assert chat.turn is not None and chat.turn.matched_by == "fallback"


def test_not_understood_twice_in_a_row_reaches_a_person(chat):
    chat.say("blorp")
    chat.say("blorp")
    assert chat.person.calls == [("handoff", "fallback")]
    assert chat.profile.in_handoff is True and chat.state.fallbacks == 0


def test_an_understood_message_between_two_misses_starts_the_count_again(chat):
    chat.say("blorp")
    chat.say("menu")
    chat.say("blorp")
    assert ("handoff", "fallback") not in chat.person.calls


def test_a_voice_message_is_explained_and_counts_as_not_understood(chat):
    chat.send(Incoming(kind="audio", media_types=("audio/ogg",)))
    assert "cannot listen to voice messages" in chat.replies
    assert chat.turn is not None and chat.turn.matched_by == "unreadable"
    chat.send(Incoming(kind="image", media_types=("image/jpeg",)))
    assert ("handoff", "fallback") in chat.person.calls


def test_a_location_is_thanked_for_but_not_used(chat):
    chat.send(Incoming(kind="location", location=(52.37, 4.89)))
    assert "cannot use a location" in chat.replies


def test_the_replies_are_in_the_persons_language(engine):
    chat = Chat(engine, language="nl")
    chat.say("blorp")
    assert engine.translator.text("Sorry, I did not understand that.", "nl") in chat.replies
    assert "did not understand" not in chat.replies
