"""One turn of a conversation: (state, what the person sent) -> (new state, replies).

Modelled on an explicit state machine with global fallbacks. `Engine.MATCHERS` lists, in order
of priority, what a message can be: silence after STOP or with a helper, a global keyword that
interrupts anything (menu, human, language, stop, danger), the first contact, an answer to the
step waiting (payload, number, label), a flow named exactly, an intent, "did you mean", and
finally not understood, which reaches a person when it repeats. Exact matches always come before
free-text understanding. Everything with a side effect is a named action supplied by the host,
so this module stays free of storage and transport.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol

from bot.actions import ActionContext, Actions, Choices, H
from bot.flows import Flow, FlowSet, Step, normalise
from bot.flows import Option as FlowOption
from bot.i18n import N_, Translator
from bot.messages import Incoming, Option, Reply

MAX_STEPS_PER_TURN = 50
NOT_UNDERSTOOD = N_("Sorry, I did not understand that.")
DID_YOU_MEAN = N_("Sorry, I am not sure I understood. Did you mean:")
SOMETHING_ELSE = N_("Something else")
MORE = N_("More")
PAGE_SIZE = 10  # WhatsApp shows at most ten rows in a list; a longer list gets nine and "More"
INTENT = "_intent"  # slot: the meaning that started this flow, for flows that serve several
PICK = "pick."  # payload prefix of the options of a `choose` step
SUGGESTING = "did_you_mean"
OUT_OF_SCOPE = "out_of_scope"
ANSWERS = ("affirm", "deny")  # a yes or a no means something only where a question waits for it
SOCIAL = ("greet", "thanks", "goodbye")
CONFIRMING = "_confirming"  # slot: an ask step's answer waits for "is this right?"
CONFIRM_YES, CONFIRM_NO = "confirm.yes", "confirm.no"
YES, NO = N_("Yes"), N_("No")
NAME_SURE_WORDS = 3  # a name of more words than this is asked about; of more than NAME_MAX_WORDS refused
NAME_MAX_WORDS = 6
PENDING = "_pending"  # slot: a flow asked for before the language was known
NOT_READABLE = {
    "media": N_("I can only read text messages. Please write your answer or choose a number."),
    "audio": N_("I cannot listen to voice messages. Please write your answer or choose a number."),
    "empty": N_("Your message was empty. Please write your answer or choose a number."),
    "location": N_("Thank you. I cannot use a location here. Please write your answer or choose a number."),
}
READABLE = ("text", "button", "list")
WELCOME_FLOW = "welcome"
MENU_FLOW = "main"
WAITING_FLOW = "waiting"  # while a person from the team has the chat: tells the person their message arrived
URGENT = "urgent"
_NUMBER = re.compile(r"^\s*(\d{1,3})\s*[.)]?\s*$")
_LETTER = re.compile(r"[^\W\d_]")


@dataclass
class State:
    flow: str | None = None
    step: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    fallbacks: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"flow": self.flow, "step": self.step, "slots": self.slots, "fallbacks": self.fallbacks}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> State:
        data = data or {}
        return cls(flow=data.get("flow"), step=data.get("step"), slots=dict(data.get("slots") or {}),
                   fallbacks=int(data.get("fallbacks") or 0))


@dataclass
class Profile:
    """What the host knows about the person that steers the conversation."""

    language: str | None = None
    opted_out: bool = False
    in_handoff: bool = False


@dataclass
class Understanding:
    intent: str
    confidence: float
    ranking: list[tuple[str, float]] = field(default_factory=list)
    knows_a_word: bool = True  # False: a guess from letter groups alone (a name, a typo), never danger


class Understander(Protocol):
    def __call__(self, text: str, language: str | None) -> Understanding | None: ...


class LanguageGuesser(Protocol):
    def __call__(self, text: str, *, short: bool = False) -> str | None: ...


@dataclass
class Turn:
    state: State
    profile: Profile
    replies: list[Reply] = field(default_factory=list)
    handled_by: str = "bot"  # bot | silent (opted out or with a helper)
    understood: Understanding | None = None  # what the message means, asked of the classifier once
    matched_by: str = ""  # the name of the matcher that answered (Engine.MATCHERS)
    # For editors' statistics (counts only): the steps this turn ran, whether the message counted
    # as not understood, and the reason when the chat went to a person.
    visited: list[tuple[str, str]] = field(default_factory=list)
    misunderstood: bool = False
    handoff: str | None = None


@dataclass
class Received(Generic[H]):
    """One message on its way through the matchers."""

    event: Incoming
    host: H
    trigger: str | None  # the flow the message names exactly (danger included), if any

    @property
    def tap(self) -> bool:
        """A button or list row was tapped: matched by its payload alone, never by its words."""
        return self.event.kind in ("button", "list") and bool(self.event.payload)


Matcher = Callable[["Engine[Any]", Turn, Received[Any]], "Turn | None"]


class Engine(Generic[H]):
    def __init__(self, flows: FlowSet, translator: Translator, actions: Actions[H], *,
                 choices: Choices[H] | None = None, fallback_limit: int = 2, placeholders: dict[str, str] | None = None,
                 understand: Understander | None = None, guess_language: LanguageGuesser | None = None,
                 confidence_threshold: float = 0.5, suggestion_threshold: float = 0.25,
                 urgent_threshold: float = 0.15, out_of_scope_threshold: float = 0.2):
        self.flows = flows
        self.translator = translator
        self.actions = actions
        self.choices: Choices[H] = choices or Choices()
        self.fallback_limit = fallback_limit
        self.placeholders = placeholders or {}
        self.understand = understand
        self.guess_language = guess_language
        self.confidence_threshold = confidence_threshold
        self.suggestion_threshold = suggestion_threshold
        self.urgent_threshold = urgent_threshold
        self.out_of_scope_threshold = out_of_scope_threshold
        self._keywords = flows.by_keyword()
        self._prefixes = flows.by_prefix()
        self._phrases = flows.by_phrase()
        self._payloads = flows.by_payload()
        self._intents = flows.by_intent()
        self._options = flows.by_option_payload()

    # -- the turn ---------------------------------------------------------------------------
    def handle(self, state: State, event: Incoming, profile: Profile, host: H) -> Turn:
        """Try the matchers in MATCHERS, top to bottom; the first that answers owns the turn."""
        turn = Turn(state=State.from_dict(state.to_dict()), profile=Profile(**vars(profile)))
        trigger = self._trigger(event, turn.state)
        if trigger is None and not self._offered(turn, event, host):
            trigger = self._danger(event, turn)
        message = Received(event=event, host=host, trigger=trigger)
        if message.trigger == self._intents.get(URGENT) and turn.profile.language is None and self.guess_language:
            guessed = self.guess_language(event.text, short=True) if event.text else None
            if guessed:  # danger is answered in the words it was written in, before any welcome
                self._act(turn, "set_language", host, guessed)
        for name, matcher in self.MATCHERS:
            answered = matcher(self, turn, message)
            if answered is not None:
                answered.matched_by = name
                return answered
        raise AssertionError("the last matcher always answers")

    # -- the matchers, in the order MATCHERS tries them ------------------------------------
    def _opted_out_or_with_a_helper(self, turn: Turn, message: Received[H]) -> Turn | None:
        """After STOP, or while a person from the team has the chat, the bot keeps quiet except
        for the flows marked when_opted_out / when_in_handoff (start again, delete my data,
        danger…) and the answer to a question such a flow asked."""
        if not (turn.profile.opted_out or turn.profile.in_handoff):
            return None
        if message.trigger and self._allowed(self.flows.flows[message.trigger], turn.profile):
            return self._start(turn, message.trigger, message.host)
        answered = self._answer_while_away(turn, message.event, message.host)
        if answered is None and turn.profile.in_handoff:
            answered = self._while_waiting(turn, message)
        if answered is None:
            turn.handled_by = "silent"
            return turn
        return answered

    def _global_keyword(self, turn: Turn, message: Received[H]) -> Turn | None:
        """Flows marked `global` (menu, human, language, stop, urgent words) interrupt anything."""
        if message.trigger and self.flows.flows[message.trigger].interrupts:
            return self._start(turn, message.trigger, message.host)
        return None

    def _first_contact(self, turn: Turn, message: Received[H]) -> Turn | None:
        """The language is not known yet: a clear first message sets it and gets the welcome,
        otherwise the welcome asks for it; what the message asked for waits until then."""
        if turn.profile.language is not None or WELCOME_FLOW not in self.flows.flows:
            return None
        event, host, trigger = message.event, message.host, message.trigger
        guessed = self.guess_language(event.text) if self.guess_language and event.text else None
        understood = None if trigger else self._confident(event, turn)
        pending = trigger or (self._intents.get(understood.intent) if understood else None)
        if understood and pending and self._at_any_moment(pending):
            if guessed:  # "please stop sending me messages" is answered at once, without the welcome
                self._act(turn, "set_language", host, guessed)
            return self._start(turn, pending, host, intent=understood.intent)
        if pending and pending != MENU_FLOW:
            turn.state.slots[PENDING] = pending
            if understood:
                turn.state.slots[PENDING + INTENT] = understood.intent
        if guessed:
            self._act(turn, "set_language", host, guessed)
            welcome = self.flows.flows[WELCOME_FLOW]
            return self._run(turn, WELCOME_FLOW, "detected" if "detected" in welcome.steps else welcome.start, host)
        if turn.state.flow is None:
            return self._start(turn, WELCOME_FLOW, host)
        return None

    def _unreadable(self, turn: Turn, message: Received[H]) -> Turn | None:
        """A voice message, a picture, a location or nothing: said so, counted as not understood."""
        if message.event.kind in READABLE:
            return None
        return self._not_understood(turn, message.host,
                                    NOT_READABLE.get(message.event.kind, NOT_READABLE["media"]))

    def _did_you_mean_answered(self, turn: Turn, message: Received[H]) -> Turn | None:
        """The answer to "Did you mean": one of the offered flows, or "Something else" (the menu)."""
        if turn.state.step != SUGGESTING:
            return None
        chosen = self._suggestion_chosen(turn, message.event)
        return self._start(turn, chosen[0], message.host, intent=chosen[1]) if chosen else None

    def _menu_option(self, turn: Turn, message: Received[H]) -> Turn | None:
        """An option of the menu waiting for an answer: by button payload, number or label, or by
        the intent an option names when the message is typed and names no flow exactly."""
        step = self._waiting_step(turn.state)
        if step is None or step.kind != "menu":
            return None
        option = self._choose(step, message.event, turn.profile.language)
        if option is None and message.trigger is None and not message.tap and any(o.intent for o in step.options):
            understood = self._understand(message.event, turn)
            if understood and understood.confidence >= self.confidence_threshold:
                option = next((o for o in step.options if o.intent == understood.intent), None)
        return self._chosen(turn, step, option, message.host) if option is not None else None

    def _list_choice(self, turn: Turn, message: Received[H]) -> Turn | None:
        """A row of the list a `choose` step offered (by payload, number or label), or More."""
        step = self._waiting_step(turn.state)
        if step is None or step.kind != "choose":
            return None
        picked = self._picked(turn, step, message.event, message.host)
        if picked is None:
            return None
        turn.state.fallbacks = 0
        if picked == PICK + "more":
            self._prompt(turn, step, message.host, page=int(turn.state.slots.get("_page", 0)) + 1)
            return turn
        turn.state.slots[step.get("save")] = picked
        return self._continue(turn, step.get("next"), message.host)

    def _answer_confirmed(self, turn: Turn, message: Received[H]) -> Turn | None:
        """The answer to "is this right?" about an unsure answer (a long name): yes goes on, no asks
        the question again; anything else is a new answer to the question."""
        step = self._waiting_step(turn.state)
        if step is None or step.kind != "ask" or not turn.state.slots.pop(CONFIRMING, None):
            return None
        confirmed = self._confirmation(turn, message.event)
        if confirmed is None:
            return None
        turn.state.fallbacks = 0
        if confirmed:
            return self._continue(turn, step.get("next"), message.host)
        turn.state.slots.pop(step.get("save"), None)
        self._prompt(turn, step, message.host)
        return turn

    def _question_answered(self, turn: Turn, message: Received[H]) -> Turn | None:
        """A valid answer to the question an `ask` step is waiting on (as flows/README.md says);
        a message that confidently asks for a flow allowed at any moment ("please delete everything
        about me") is not one. An unsure answer is kept once the person confirms it."""
        step = self._waiting_step(turn.state)
        if step is None or step.kind != "ask" or not message.event.text.strip():
            return None
        critical = self._critical(message.event, turn) if message.trigger is None else None
        if critical:
            return self._start(turn, critical[0], message.host, intent=critical[1])
        verdict, answer = self._validate(step, message.event.text, self._understand(message.event, turn))
        if verdict == "no":
            return None
        turn.state.slots[step.get("save")] = answer
        turn.state.fallbacks = 0
        if verdict == "unsure" and step.get("confirm"):
            turn.state.slots[CONFIRMING] = True
            turn.replies.append(Reply(text=self.text(turn, step.get("confirm")), options=[
                Option(payload=CONFIRM_YES, label=self.text(turn, YES)),
                Option(payload=CONFIRM_NO, label=self.text(turn, NO))]))
            return turn
        return self._continue(turn, step.get("next"), message.host)

    def _flow_named(self, turn: Turn, message: Received[H]) -> Turn | None:
        """A flow named exactly: a button payload, a keyword, a prefix word or a phrase."""
        return self._start(turn, message.trigger, message.host) if message.trigger else None

    def _earlier_button(self, turn: Turn, message: Received[H]) -> Turn | None:
        """A tap on a button or row of an earlier message (_tapped), never read as free text."""
        return self._tapped(turn, message.event, message.host) if message.tap else None

    def _intent(self, turn: Turn, message: Received[H]) -> Turn | None:
        """Free text the classifier is confident about starts the flow for its intent."""
        understood = self._understand(message.event, turn)
        if understood and understood.confidence >= self.confidence_threshold:
            if understood.intent in ANSWERS:
                return self._yes_or_no(turn, understood.intent, message.host)
            if understood.intent == OUT_OF_SCOPE and OUT_OF_SCOPE in self.flows.flows:
                return self._out_of_scope(turn, message.host)
            flow = self._intents.get(understood.intent)
            if flow:
                return self._start(turn, flow, message.host, intent=understood.intent)
        return None

    def _did_you_mean(self, turn: Turn, message: Received[H]) -> Turn | None:
        """Unsure: the honest "I cannot help with that" when out of scope is likely enough
        (_abstains); otherwise offer up to two likely flows and "Something else", never a yes/no flow."""
        understood = self._understand(message.event, turn)
        if understood is None:
            return None
        if self._abstains(understood) and OUT_OF_SCOPE in self.flows.flows:
            return self._out_of_scope(turn, message.host)
        if understood.confidence < self.suggestion_threshold:
            return None
        if understood.intent == OUT_OF_SCOPE and understood.confidence >= self.confidence_threshold:
            return None
        candidates: dict[str, str] = {}
        for intent, confidence in understood.ranking[:3]:
            if intent in self._intents and intent not in (*ANSWERS, OUT_OF_SCOPE) and \
                    confidence >= self.suggestion_threshold:
                candidates.setdefault(self._intents[intent], intent)
        if not candidates:
            return None
        return self._suggest(turn, dict(list(candidates.items())[:2]), message.host)

    def _abstains(self, understood: Understanding) -> bool:
        """Unsure, and "out of scope" is a serious reading (`out_of_scope_threshold`): a question the
        training data never saw ("which bus goes to the zoo") spreads its likelihood over
        requests that share a word with it ("where" -> where to use the voucher), so no request wins,
        but out of scope keeps a share. The honest answer (what the bot can do, a person) serves such
        a message better than guessing two flows it likely does not mean. Not for words the
        classifier does not know at all: that is "I did not understand"."""
        return understood.confidence < self.confidence_threshold and understood.knows_a_word and \
            dict(understood.ranking).get(OUT_OF_SCOPE, 0.0) >= self.out_of_scope_threshold

    def _fallback(self, turn: Turn, message: Received[H]) -> Turn | None:
        """Not understood: say so and ask again; `fallback_limit` times in a row reach a person."""
        step = self._waiting_step(turn.state)
        invalid = step.get("invalid") if step is not None and step.kind == "ask" else None
        return self._not_understood(turn, message.host, invalid)

    MATCHERS: ClassVar[tuple[tuple[str, Matcher], ...]] = (
        ("opted out or with a helper", _opted_out_or_with_a_helper),
        ("global keyword", _global_keyword),
        ("first contact", _first_contact),
        ("unreadable", _unreadable),
        ("did you mean answered", _did_you_mean_answered),
        ("menu option", _menu_option),
        ("list choice", _list_choice),
        ("answer confirmed", _answer_confirmed),
        ("question answered", _question_answered),
        ("flow named", _flow_named),
        ("earlier button", _earlier_button),
        ("intent", _intent),
        ("did you mean", _did_you_mean),
        ("fallback", _fallback),
    )

    def _tapped(self, turn: Turn, event: Incoming, host: H) -> Turn:
        """A button or list row of an earlier message (WhatsApp keeps them tappable), matched by
        its payload alone, never by its words. An option that only leads to another flow
        ("Talk to a person") still leads there; an answer to a question no longer asked
        ("Yes, delete everything") is not acted on: the bot asks what it is asking now."""
        found = self._options.get(event.payload or "")
        if found is not None:
            flow, step, option = found
            if option.goto and option.goto.startswith("@") and not option.action and not step.get("save"):
                turn.state.flow, turn.state.step = flow, step.id
                return self._chosen(turn, step, option, host)
        return self._not_understood(turn, host)

    def _suggest(self, turn: Turn, flows: dict[str, str], host: H) -> Turn:
        """Unsure: offer the likeliest meanings as choices (`flows`: each flow offered, with the
        intent that made it likely). Counts as not understood."""
        turn.state.fallbacks += 1
        turn.misunderstood = True
        if turn.state.fallbacks >= self.fallback_limit:
            return self._hand_over(turn, host)
        options = [Option(payload=f"suggest.{flow}", label=self.text(turn, self.flows.flows[flow].title or flow))
                   for flow in flows]
        options.append(Option(payload="suggest.none", label=self.text(turn, SOMETHING_ELSE)))
        turn.replies.append(Reply(text=self.text(turn, DID_YOU_MEAN), options=options))
        turn.state.flow, turn.state.step = None, SUGGESTING
        turn.state.slots["_suggested"] = list(flows)
        turn.state.slots["_suggested_intents"] = list(flows.values())
        return turn

    def _suggestion_chosen(self, turn: Turn, event: Incoming) -> tuple[str, str | None] | None:
        """The flow chosen from "Did you mean", with its intent (None for the menu)."""
        suggested = list(turn.state.slots.pop("_suggested", []) or [])
        intents = list(turn.state.slots.pop("_suggested_intents", []) or [])
        turn.state.step = None
        payloads = [f"suggest.{flow}" for flow in suggested] + ["suggest.none"]
        if event.payload in payloads:
            index = payloads.index(event.payload)
        else:
            number = _NUMBER.match(event.text or "")
            index = int(number.group(1)) - 1 if number else -1
        if 0 <= index < len(suggested):
            return suggested[index], intents[index] if index < len(intents) else None
        if index == len(suggested):
            return MENU_FLOW, None
        return None

    def _confident(self, event: Incoming, turn: Turn) -> Understanding | None:
        """What the message means, if the bot is sure and a flow serves it."""
        understood = self._understand(event, turn) if event.kind in ("text", "button", "list") else None
        if understood and understood.confidence >= self.confidence_threshold and understood.intent in self._intents:
            return understood
        return None

    def _understand(self, event: Incoming, turn: Turn) -> Understanding | None:
        if not self.understand or not event.text.strip():
            return None
        if turn.understood is None:
            turn.understood = self.understand(event.text, turn.profile.language)
        return turn.understood

    def _danger(self, event: Incoming, turn: Turn) -> str | None:
        """The urgent flow when the message may speak of danger in the person's own words: the
        urgent meaning at `urgent_threshold` or above, even where another meaning ranks higher.
        Tuned for recall: a false alarm costs a helper a minute, a missed one costs more."""
        flow = self._intents.get(URGENT)
        if flow is None or event.kind != "text" or not _LETTER.search(event.text or ""):
            return None
        understood = self._understand(event, turn)
        if understood is None or not understood.knows_a_word:
            return None
        confidence = dict(understood.ranking).get(URGENT, 0.0)
        if understood.intent == URGENT:
            confidence = max(confidence, understood.confidence)
        return flow if confidence >= self.urgent_threshold else None

    def _offered(self, turn: Turn, event: Incoming, host: H) -> bool:
        """Whether the message names an option the bot is waiting on ("Questions and answers"
        typed instead of tapped): that is an answer, not words to read danger into."""
        step = self._waiting_step(turn.state)
        if step is None or not (event.text or event.payload):
            return False
        if step.kind == "menu":
            return self._choose(step, event, turn.profile.language) is not None
        return step.kind == "choose" and self._picked(turn, step, event, host) is not None

    def _critical(self, event: Incoming, turn: Turn) -> tuple[str, str] | None:
        """(flow, intent) when a free-text answer confidently asks for a flow that may start even
        during a handoff (stop, delete my data, danger): such a message is never saved as an answer."""
        understood = self._understand(event, turn)
        if understood is None or understood.confidence < self.confidence_threshold:
            return None
        flow = self._intents.get(understood.intent)
        return (flow, understood.intent) if flow and self.flows.flows[flow].when_in_handoff else None

    @staticmethod
    def _allowed(flow: Flow, profile: Profile) -> bool:
        """Whether `flow` may run for a person who opted out or whose chat a helper has."""
        return flow.when_opted_out if profile.opted_out else flow.when_in_handoff

    def _at_any_moment(self, flow: str) -> bool:
        """Flows that work whatever is going on, even with a helper on the chat (stop, delete my
        data, is this safe, danger): their meaning in free text counts like their keyword."""
        return self.flows.flows[flow].interrupts and self.flows.flows[flow].when_in_handoff

    def _while_waiting(self, turn: Turn, message: Received[H]) -> Turn | None:
        """A helper has the chat: free text that means stop, delete my data or is this safe is
        answered; anything else goes to the helper, and the `waiting` flow may tell the person it
        arrived (once, and again after a quiet time). None: nothing to say."""
        understood = self._confident(message.event, turn) if not message.tap else None
        flow = self._intents.get(understood.intent) if understood else None
        if understood and flow and self._at_any_moment(flow):
            return self._start(turn, flow, message.host, intent=understood.intent)
        if WAITING_FLOW not in self.flows.flows:
            return None
        where = turn.state.flow, turn.state.step
        self._run(turn, WAITING_FLOW, self.flows.flows[WAITING_FLOW].start, message.host)
        turn.state.flow, turn.state.step = where
        return turn if turn.replies else None

    def _yes_or_no(self, turn: Turn, intent: str, host: H) -> Turn:
        """A yes or a no that no option took. It answers a question asked outside the chat (like
        "your voucher is ready, answer YES") while that is still open; otherwise, with a question
        waiting here (other than the menu's), it did not fit that question; with none, it starts a
        flow that takes it without asking, or else gets the menu, counted as not understood."""
        flow = self._intents.get(intent)
        asked_by = self.flows.flows[flow].asked_by if flow else None
        if flow and asked_by and self._act(turn, asked_by, host) == "open":
            return self._start(turn, flow, host, intent=intent)
        step = self._waiting_step(turn.state)
        if step is not None and turn.state.flow != MENU_FLOW:
            return self._not_understood(turn, host, step.get("invalid") if step.kind == "ask" else None)
        if flow and asked_by is None:
            return self._start(turn, flow, host, intent=intent)
        return self._not_understood(turn, host, quiet=True)

    def _out_of_scope(self, turn: Turn, host: H) -> Turn:
        """Honest about what the bot cannot do, and counted as not understood: asking twice for
        what it cannot do reaches a person."""
        turn.state.fallbacks += 1
        turn.misunderstood = True
        if turn.state.fallbacks >= self.fallback_limit:
            return self._hand_over(turn, host)
        fallbacks = turn.state.fallbacks
        self._start(turn, OUT_OF_SCOPE, host, intent=OUT_OF_SCOPE)
        turn.state.fallbacks = fallbacks
        return turn

    def _confirmation(self, turn: Turn, event: Incoming) -> bool | None:
        """The answer to "is this right?": True, False, or None for something else (a new answer)."""
        if event.payload in (CONFIRM_YES, CONFIRM_NO):
            return event.payload == CONFIRM_YES
        said = normalise(event.text or "")
        for value, label, number in ((True, YES, "1"), (False, NO, "2")):
            if said in (number, normalise(self.text(turn, label)), normalise(label)):
                return value
        understood = self._understand(event, turn) if len(said.split()) <= NAME_SURE_WORDS else None
        if understood and understood.intent in ANSWERS and understood.confidence >= self.confidence_threshold:
            return understood.intent == "affirm"
        return None

    def _answer_while_away(self, turn: Turn, event: Incoming, host: H) -> Turn | None:
        """The answer to a question a flow allowed in this moment asked ("delete my data" during a
        handoff or after STOP: are you sure?), or None. Anything else goes to the helper (or
        nowhere) and drops the question, so a later "1" meant for the helper erases nothing."""
        step = self._waiting_step(turn.state)
        flow = self.flows.flows.get(turn.state.flow or "")
        if step is None or flow is None or step.kind != "menu" or not self._allowed(flow, turn.profile):
            return None
        option = self._choose(step, event, turn.profile.language)
        if option is None and any(o.intent for o in step.options):
            understood = self._understand(event, turn)
            if understood and understood.confidence >= self.confidence_threshold:
                option = next((o for o in step.options if o.intent == understood.intent), None)
        if option is None:
            turn.state.flow = turn.state.step = None
            return None
        return self._chosen(turn, step, option, host)

    # -- matching ---------------------------------------------------------------------------
    def _trigger(self, event: Incoming, state: State) -> str | None:
        """A flow named exactly: by button payload, keyword, a prefix word ("JOIN AB12CD", whose
        rest is kept in the slot `_argument`), or a phrase anywhere in the message (urgent words)."""
        if event.payload and event.payload in self._payloads:
            return self._payloads[event.payload]
        if not event.text:
            return None
        said = normalise(event.text)
        if said in self._keywords:
            return self._keywords[said]
        first, _, rest = said.partition(" ")
        if first in self._prefixes and rest:
            state.slots["_argument"] = rest
            return self._prefixes[first]
        padded = f" {said} "
        return next((flow for phrase, flow in self._phrases if f" {phrase} " in padded), None)

    def _choose(self, step: Step, event: Incoming, language: str | None) -> FlowOption | None:
        if event.payload:
            for option in step.options:
                if option.payload == event.payload:
                    return option
        number = _NUMBER.match(event.text or "")
        if number and 1 <= int(number.group(1)) <= len(step.options):
            return step.options[int(number.group(1)) - 1]
        said = normalise(event.text or "")
        if said:
            for option in step.options:
                if said in (normalise(self._label(option, language)), normalise(option.verbatim or ""),
                            normalise(option.label or ""), normalise(self._short(option, language))):
                    return option
        return None

    def _validate(self, step: Step, text: str, understood: Understanding | None) -> tuple[str, Any]:
        """("yes", value), ("unsure", value) or ("no", None), as flows/README.md describes: a number
        is digits; a text fits its length and is not a question that asks for something else; a
        name also has no question mark, digits or links and is not a sentence, and a long one, or
        one that reads like a greeting, is confirmed before it is kept."""
        answer = " ".join(text.split())
        expect = step.get("expect", "text")
        if expect == "number":
            return ("yes", int(answer)) if answer.isdigit() else ("no", None)
        if len(answer) < int(step.get("min_length", 1)) or len(answer) > int(step.get("max_length", 200)):
            return "no", None
        meaning = understood.intent if understood and understood.confidence >= self.confidence_threshold else None
        request = meaning is not None and meaning not in (*SOCIAL, OUT_OF_SCOPE)
        if expect == "text":
            return ("no", None) if request and "?" in answer else ("yes", answer)
        words = answer.split()
        if request or "?" in answer or any(c.isdigit() for c in answer) or "@" in answer or "/" in answer \
                or len(words) > NAME_MAX_WORDS:
            return "no", None
        if len(words) > NAME_SURE_WORDS or meaning in (*SOCIAL, OUT_OF_SCOPE):
            return "unsure", answer
        return "yes", answer

    # -- running steps ----------------------------------------------------------------------
    def _start(self, turn: Turn, flow: str, host: H, intent: str | None = None) -> Turn:
        turn.state.fallbacks = 0
        turn.state.slots.pop(INTENT, None)
        if intent:
            turn.state.slots[INTENT] = intent
        turn.state.flow, turn.state.step = flow, None
        return self._run(turn, flow, self.flows.flows[flow].start, host)

    def _continue(self, turn: Turn, target: str | None, host: H) -> Turn:
        if not target:
            turn.state.flow = turn.state.step = None
            return turn
        flow, step = self.flows.resolve(turn.state.flow or "", target)
        return self._run(turn, flow, step, host)

    def _chosen(self, turn: Turn, step: Step, option: FlowOption, host: H) -> Turn:
        turn.state.fallbacks = 0
        if step.get("save"):
            turn.state.slots[step.get("save")] = option.value if option.value is not None else option.payload
        if option.action:
            self._act(turn, option.action, host, option.value)
        return self._continue(turn, option.goto or step.get("next"), host)

    def _run(self, turn: Turn, flow_name: str, step_id: str, host: H) -> Turn:
        for _ in range(MAX_STEPS_PER_TURN):
            flow: Flow = self.flows.flows[flow_name]
            step = flow.steps[step_id]
            turn.state.flow, turn.state.step = flow_name, step_id
            turn.visited.append((flow_name, step_id))
            target: str | None = step.get("next")
            if step.kind == "say":
                self._say(turn, step.get("say"))
            elif step.kind in ("ask", "menu"):
                self._prompt(turn, step, host)
                return turn
            elif step.kind == "choose":
                if self._prompt(turn, step, host):
                    return turn
                target = step.get("empty")
            elif step.kind == "branch":
                target = next((rule["goto"] for rule in step.get("branch") if self._holds(turn, rule["when"])),
                              step.get("else"))
            elif step.kind == "action":
                outcome = self._act(turn, step.get("action"), host)
                target = (step.get("outcomes") or {}).get(outcome, target)
            elif step.kind == "set":
                turn.state.slots.update({k: v for k, v in step.get("set").items() if k != "__line__"})
            elif step.kind == "goto":
                target = step.get("goto")
            elif step.kind == "handoff":
                if step.get("say"):
                    self._say(turn, step.get("say"))
                self._act(turn, "handoff", host, step.get("handoff"))
                target = None
            if not target:
                turn.state.flow = turn.state.step = None
                return turn
            flow_name, step_id = self.flows.resolve(flow_name, target)
        raise RuntimeError(f"flow {flow_name!r} ran more than {MAX_STEPS_PER_TURN} steps in one turn")

    def _holds(self, turn: Turn, when: dict[str, Any]) -> bool:
        value = turn.state.slots.get(when["slot"]) if "slot" in when else getattr(turn.profile, when["profile"], None)
        if "equals" in when:
            return bool(value == when["equals"])
        if "in" in when:
            return value in (when["in"] or [])
        if "present" in when:
            return (value not in (None, "", [], {})) == bool(when["present"])
        return bool(value)

    def _act(self, turn: Turn, name: str, host: H, value: Any = None) -> str | None:
        if name == "handoff":
            turn.handoff = str(value or "asked")
        context = ActionContext(turn=turn, host=host, value=value, say=lambda text, **v: self._say(turn, text, **v))
        return self.actions.run(name, context)

    def _hand_over(self, turn: Turn, host: H) -> Turn:
        turn.state.flow = turn.state.step = None
        turn.state.fallbacks = 0
        turn.state.slots.pop("_suggested", None)
        self._act(turn, "handoff", host, "fallback")
        return turn

    def _not_understood(self, turn: Turn, host: H, text: str | None = None, quiet: bool = False) -> Turn:
        """`quiet`: the menu alone ("What can I do for you?"), without "Sorry, I did not understand"."""
        turn.state.fallbacks += 1
        turn.misunderstood = True
        if turn.state.fallbacks >= self.fallback_limit:
            return self._hand_over(turn, host)
        if not quiet:
            self._say(turn, text or NOT_UNDERSTOOD)
        step = self._waiting_step(turn.state)
        if step is not None and self._prompt(turn, step, host, page=int(turn.state.slots.get("_page", 0))):
            return turn
        fallbacks = turn.state.fallbacks
        self._run(turn, MENU_FLOW, self.flows.flows[MENU_FLOW].start, host)
        turn.state.fallbacks = fallbacks
        return turn

    def _waiting_step(self, state: State) -> Step | None:
        flow = self.flows.flows.get(state.flow or "")
        step = flow.steps.get(state.step or "") if flow else None
        return step if step is not None and step.kind in ("ask", "menu", "choose") else None

    # -- texts ------------------------------------------------------------------------------
    def text(self, turn: Turn, source: str, **values: Any) -> str:
        return self.translator.text(source, turn.profile.language,
                                    **{**self.placeholders, **turn.state.slots, **values})

    def _say(self, turn: Turn, source: str, **values: Any) -> None:
        turn.replies.append(Reply(text=self.text(turn, source, **values)))

    def _label(self, option: FlowOption, language: str | None) -> str:
        return option.verbatim or self.translator.text(option.label or "", language, **self.placeholders)

    def options_of(self, step: Step, language: str | None) -> list[Option]:
        """A menu step's options as a person in `language` sees them."""
        return [Option(payload=o.payload, label=self._label(o, language), short=self._short(o, language) or None)
                for o in step.options]

    def _short(self, option: FlowOption, language: str | None) -> str:
        return self.translator.text(option.short, language, **self.placeholders) if option.short else ""

    def _prompt(self, turn: Turn, step: Step, host: H, page: int = 0) -> bool:
        """Ask again what the step asks. False for a `choose` step with nothing to choose."""
        if step.kind == "ask":
            self._say(turn, step.get("ask"))
            return True
        if step.kind == "choose":
            return self._prompt_choices(turn, step, host, page)
        options = self.options_of(step, turn.profile.language)
        turn.replies.append(Reply(text=self.text(turn, step.get("menu")), options=options))
        return True

    # -- choosing from a list the host supplies ---------------------------------------------
    def _choices(self, turn: Turn, step: Step, host: H) -> list[Option]:
        context = ActionContext(turn=turn, host=host, value=None, say=lambda text, **v: self._say(turn, text, **v))
        return list(self.choices.run(step.get("from"), context) or [])

    def _prompt_choices(self, turn: Turn, step: Step, host: H, page: int) -> bool:
        choices = self._choices(turn, step, host)
        if not choices:
            return False
        per_page = PAGE_SIZE if len(choices) <= PAGE_SIZE else PAGE_SIZE - 1
        page = page if page * per_page < len(choices) else 0
        shown = choices[page * per_page:(page + 1) * per_page]
        options = [Option(payload=PICK + choice.payload, label=choice.label) for choice in shown]
        if len(choices) > (page + 1) * per_page:
            options.append(Option(payload=PICK + "more", label=self.text(turn, MORE)))
        turn.state.slots["_shown"] = [option.payload for option in options]
        turn.state.slots["_page"] = page
        turn.replies.append(Reply(text=self.text(turn, step.get("choose")), options=options))
        return True

    def _picked(self, turn: Turn, step: Step, event: Incoming, host: H) -> str | None:
        """The value chosen (PICK + "more" for the next page), by number, button or label."""
        shown = list(turn.state.slots.get("_shown") or [])
        number = _NUMBER.match(event.text or "")
        said = normalise(event.text or "")
        if event.payload and event.payload.startswith(PICK):
            chosen = event.payload
        elif number and 1 <= int(number.group(1)) <= len(shown):
            chosen = shown[int(number.group(1)) - 1]
        elif said == normalise(self.text(turn, MORE)):
            chosen = PICK + "more"
        elif said:
            chosen = None
        else:
            return None
        if chosen == PICK + "more":
            return chosen
        choices = self._choices(turn, step, host)  # what is chosen must still exist (content may change)
        if chosen is None:
            return next((c.payload for c in choices if normalise(c.label) == said), None)
        value = chosen[len(PICK):]
        return value if any(c.payload == value for c in choices) else None

