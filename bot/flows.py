"""Flows are content: YAML files an editor can read, checked here before they go live.

A flow file is parsed into plain dataclasses and validated as a whole set (a `goto` may
point into another file). Every problem carries `file:line`, because the person fixing it
is an editor with a text editor, not a developer with a debugger.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.menus import BODY, BUTTON_TITLE, ROW_TITLE, too_long
from bot.yaml_source import META, in_order, read_yaml_mapping

STEP_KINDS = ("say", "ask", "menu", "choose", "branch", "action", "goto", "handoff", "set")
STEP_KEYS = {
    "say": {"say", "next"},
    "ask": {"ask", "save", "expect", "min_length", "max_length", "invalid", "confirm", "next"},
    "menu": {"menu", "options", "save", "next"},
    "choose": {"choose", "from", "save", "empty", "next"},
    "branch": {"branch", "else"},
    "action": {"action", "outcomes", "next"},
    "goto": {"goto"},
    "handoff": {"handoff", "say"},
    "set": {"set", "next"},
}
EXPECT = ("text", "number", "name")
OPTION_KEYS = {"label", "verbatim", "short", "payload", "goto", "value", "action", "intent"}
CONDITION_KEYS = {"slot", "profile", "equals", "in", "present"}
FLOW_KEYS = {"flow", "version", "title", "description", "start", "steps", "keywords", "prefixes", "contains",
             "payloads", "intents", "asked_by",
             "global",
             "when_opted_out", "when_in_handoff"}
NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class FlowError(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Option:
    label: str | None
    verbatim: str | None
    payload: str
    short: str | None = None  # translated like the label; shown on a button or list row when the label is too long
    goto: str | None = None
    value: Any = None
    action: str | None = None
    intent: str | None = None
    line: int = 0


@dataclass
class Step:
    id: str
    kind: str
    data: dict
    line: int
    options: list[Option] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)

    def get(self, key: str, default=None):
        return self.data.get(key, default)

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)


@dataclass
class Flow:
    name: str
    version: int
    start: str
    steps: dict[str, Step]
    path: Path
    line: int
    title: str | None = None
    keywords: list[str] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    contains: list[str] = field(default_factory=list)
    payloads: list[str] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    interrupts: bool = False
    asked_by: str | None = None  # an action: is the yes/no question this flow answers still open?
    when_opted_out: bool = False
    when_in_handoff: bool = False

    def texts(self) -> Iterable[tuple[str, int, str]]:
        """Every text a person may see, with its line and where it is shown."""
        if self.title:
            yield self.title, self.line, f"flow {self.name}: its title, offered in 'Did you mean'"
        for step in self.steps.values():
            for key in ("say", "ask", "menu", "choose", "invalid", "confirm"):
                if isinstance(step.get(key), str):
                    yield step.get(key), step.line, f"flow {self.name}, step {step.id}"
            for option in step.options:
                if option.label:
                    yield option.label, option.line, f"flow {self.name}, step {step.id}: a menu option"
                if option.short:
                    yield option.short, option.line, (f"flow {self.name}, step {step.id}: a menu option's short label "
                                                      f"(a WhatsApp button: {BUTTON_TITLE} characters at most, "
                                                      f"a list row: {ROW_TITLE})")


def read_flow_file(path: Path, text: str | None = None) -> tuple[dict | None, list[str]]:
    return read_yaml_mapping(path, "a flow file must be a mapping with flow, start and steps", text)


def _parse_flow(path: Path, data: dict, problems: list[str]) -> Flow | None:
    def problem(line, text):
        problems.append(f"{path}:{line}: {text}")

    line = data.get("__line__", 1)
    for key in data:
        if key not in META and key not in FLOW_KEYS:
            problem(line, f"unknown flow setting {key!r} (allowed: {', '.join(sorted(FLOW_KEYS))})")
    name = data.get("flow")
    if not isinstance(name, str) or not NAME.match(name):
        problem(line, "'flow' must be a lowercase name like main_menu")
        return None
    steps_data = data.get("steps")
    if not isinstance(steps_data, dict) or len(steps_data) <= 1:
        problem(line, f"flow {name!r} has no steps")
        return None
    version = data.get("version", 1)
    if not isinstance(version, int) or version < 1:
        problem(line, "'version' must be a whole number from 1")
        version = 1
    steps: dict[str, Step] = {}
    for step_id, body in steps_data.items():
        if step_id in META:
            continue
        step_line = body.get("__line__", line) if isinstance(body, dict) else steps_data["__line__"]
        if not isinstance(step_id, str) or not NAME.match(step_id):
            problem(step_line, f"step name {step_id!r} must be lowercase letters, digits and _")
            continue
        if not isinstance(body, dict):
            problem(step_line, f"step {step_id!r} must be a mapping")
            continue
        kinds = ["handoff"] if "handoff" in body else [kind for kind in STEP_KINDS if kind in body]
        if len(kinds) != 1:
            problem(step_line, f"step {step_id!r} must have exactly one of: {', '.join(STEP_KINDS)}")
            continue
        kind = kinds[0]
        extra = set(body) - STEP_KEYS[kind] - META
        if extra:
            problem(step_line, f"step {step_id!r}: unknown key(s) {', '.join(sorted(extra))} for a {kind} step")
        step = Step(step_id, kind, {k: v for k, v in body.items() if k not in META}, step_line,
                    lines=body.get("__keys__", {}))
        _check_step(name, step, problem)
        steps[step_id] = step
    start = data.get("start") or next(iter(steps), None)
    if start not in steps:
        problem(line, f"start step {start!r} is not a step of flow {name!r}")
    title = data.get("title")
    if data.get("intents") and not isinstance(title, str):
        problem(line, f"flow {name!r} starts on intents, so it needs a 'title' to offer in 'Did you mean'")
    return Flow(name=name, version=version, start=str(start), steps=steps, path=path, line=line,
                title=title if isinstance(title, str) else None,
                keywords=[str(k) for k in data.get("keywords") or []],
                prefixes=[normalise(str(p)) for p in data.get("prefixes") or []],
                contains=[normalise(str(c)) for c in data.get("contains") or []],
                payloads=[str(p) for p in data.get("payloads") or []],
                intents=[str(i) for i in data.get("intents") or []],
                interrupts=bool(data.get("global", False)),
                asked_by=str(data["asked_by"]) if data.get("asked_by") else None,
                when_opted_out=bool(data.get("when_opted_out", False)),
                when_in_handoff=bool(data.get("when_in_handoff", False)))


def _check_step(flow: str, step: Step, problem) -> None:
    d = step.data
    if step.kind in ("say", "ask", "menu", "choose") and not isinstance(d[step.kind], str):
        problem(step.line, f"step {step.id!r}: the text of a {step.kind} step must be a text")
    if step.kind == "set" and (not isinstance(d["set"], dict) or
                               not all(NAME.match(str(k)) for k in d["set"] if k not in META)):
        problem(step.line, f"step {step.id!r}: set needs a mapping of names to values")
    if step.kind == "choose" and not isinstance(d.get("save"), str):
        problem(step.line, f"step {step.id!r}: a choose step needs 'save: <name>' for the choice")
    if step.kind == "ask":
        if not isinstance(d.get("save"), str):
            problem(step.line, f"step {step.id!r}: an ask step needs 'save: <name>' for the answer")
        if d.get("expect", "text") not in EXPECT:
            problem(step.line, f"step {step.id!r}: expect must be one of {', '.join(EXPECT)}")
    if step.kind == "menu":
        options = d.get("options")
        if not isinstance(options, list) or not options:
            problem(step.line, f"step {step.id!r}: a menu needs a list of options")
            return
        for number, raw in enumerate(options, 1):
            if not isinstance(raw, dict):
                problem(step.line, f"step {step.id!r}: option {number} must be a mapping")
                continue
            line = raw.get("__line__", step.line)
            extra = set(raw) - OPTION_KEYS - META
            if extra:
                problem(line, f"option {number}: unknown key(s) {', '.join(sorted(extra))}")
            if bool(raw.get("label")) == bool(raw.get("verbatim")):
                problem(line, f"option {number}: give either 'label' (translated) or 'verbatim' (shown as written)")
            short = raw.get("short")
            if "short" in raw and (not isinstance(short, str) or not short.strip() or not raw.get("label")):
                problem(line, f"option {number}: 'short' is a shorter text for a translated 'label'")
            step.options.append(Option(label=raw.get("label"), verbatim=raw.get("verbatim"),
                                       short=raw.get("short") if isinstance(raw.get("short"), str) else None,
                                       payload=str(raw.get("payload") or f"{flow}.{step.id}.{number}"),
                                       goto=raw.get("goto"), value=raw.get("value"),
                                       action=raw.get("action"), intent=raw.get("intent"), line=line))
    if step.kind == "branch":
        rules = d.get("branch")
        if not isinstance(rules, list) or not rules:
            problem(step.line, f"step {step.id!r}: a branch needs a list of rules")
        else:
            for rule in rules:
                if not isinstance(rule, dict) or "goto" not in rule or "when" not in rule:
                    problem(step.line, f"step {step.id!r}: each branch rule needs 'when' and 'goto'")
                    continue
                when = rule["when"]
                if not isinstance(when, dict) or set(when) - CONDITION_KEYS - META or \
                        ("slot" in when) == ("profile" in when):
                    problem(rule.get("__line__", step.line),
                            "a condition names one 'slot' or 'profile' and one of equals, in, present")
        if "else" not in d:
            problem(step.line, f"step {step.id!r}: a branch needs 'else' for when no rule matches")


@dataclass
class FlowSet:
    flows: dict[str, Flow]

    def resolve(self, current: str, target: str) -> tuple[str, str]:
        """`step` in the same flow, `@flow` for another flow's start, `@flow.step` for its step."""
        if target.startswith("@"):
            name, _, step = target[1:].partition(".")
            flow = self.flows[name]
            return name, step or flow.start
        return current, target

    def by_keyword(self) -> dict[str, str]:
        return {normalise(k): f.name for f in self.flows.values() for k in f.keywords}

    def by_phrase(self) -> list[tuple[str, str]]:
        """(phrase, flow) for flows started by a phrase anywhere in a message, longest first."""
        pairs = [(c, f.name) for f in self.flows.values() for c in f.contains]
        return sorted(pairs, key=lambda pair: -len(pair[0]))

    def by_prefix(self) -> dict[str, str]:
        return {p: f.name for f in self.flows.values() for p in f.prefixes}

    def by_payload(self) -> dict[str, str]:
        return {p: f.name for f in self.flows.values() for p in f.payloads}

    def by_option_payload(self) -> dict[str, tuple[str, Step, Option]]:
        """Every menu option by its button payload: (flow, step, option)."""
        return {option.payload: (flow.name, step, option) for flow in self.flows.values()
                for step in flow.steps.values() for option in step.options}

    def by_intent(self) -> dict[str, str]:
        return {i: f.name for f in self.flows.values() for i in f.intents}


_SPACES = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)


def normalise(text: str) -> str:
    """Case, accents, punctuation and spacing do not change a keyword (Turkish dotted and
    dotless i included: KAYIT, kayıt and kayit are one word)."""
    folded = unicodedata.normalize("NFKD", text.casefold().replace("ı", "i"))
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return _SPACES.sub(" ", _PUNCT.sub(" ", folded)).strip()


def load_flows(directory: Path | Mapping[str, str], actions: Iterable[str], known_texts: Set[str] | None = None,
               intents: Iterable[str] | None = None, placeholders: Iterable[str] = (),
               choices: Iterable[str] = (), translate: Callable[[str, str], str] | None = None,
               languages: Iterable[str] = ()) -> FlowSet:
    """Load and validate every flow file of a folder, or of {file name: text} (a release), or
    raise FlowError listing every problem. With `translate(text, language)`, menus are also
    checked in each of `languages` against WhatsApp's limits."""
    problems: list[str] = []
    flows: dict[str, Flow] = {}
    files: dict[Path, str | None] = {path: None for path in sorted(directory.glob("*.yml"))} \
        if isinstance(directory, Path) else {Path(name): text for name, text in sorted(directory.items())}
    if not files:
        raise FlowError([f"{directory}: no flow files (*.yml)"])
    for path, text in files.items():
        data, errors = read_flow_file(path, text)
        problems += errors
        if data is None:
            continue
        flow = _parse_flow(path, data, problems)
        if flow is None:
            continue
        if flow.name in flows:
            problems.append(f"{path}:{flow.line}: flow {flow.name!r} is also defined in {flows[flow.name].path}; "
                            "give one of them another name")
            continue
        flows[flow.name] = flow
    flow_set = FlowSet(flows)
    _check_links(flow_set, set(actions), set(choices), problems)
    _check_triggers(flow_set, set(intents) if intents is not None else None, problems)
    if known_texts is not None:
        for flow in flows.values():
            for text, line, _where in flow.texts():
                if text not in known_texts:
                    problems.append(f"{flow.path}:{line}: text not in the translation catalogs: {text[:60]!r}; "
                                    "run `make translations` so it can be translated")
    allowed = set(placeholders) | {s.get("save") for f in flows.values() for s in f.steps.values() if s.get("save")}
    for flow in flows.values():
        for text, line, _where in flow.texts():
            for name in re.findall(r"\{(\w+)\}", text):
                if name not in allowed:
                    problems.append(f"{flow.path}:{line}: unknown placeholder {{{name}}}; use one of "
                                    f"{', '.join('{' + n + '}' for n in sorted(allowed))}, or save an answer "
                                    f"under that name first")
    if translate is not None:
        _check_lengths(flow_set, translate, languages, problems)
    if problems:
        raise FlowError(in_order(problems))
    return flow_set


def _check_links(flow_set: FlowSet, actions: set[str], choices: set[str], problems: list[str]) -> None:
    for flow in flow_set.flows.values():
        _check_flow_links(flow, flow_set, actions, choices, problems)


def _check_flow_links(flow: Flow, flow_set: FlowSet, actions: set[str], choices: set[str],
                      problems: list[str]) -> None:
    def target_ok(target, line, what):
        if not isinstance(target, str) or not target:
            problems.append(f"{flow.path}:{line}: {what} must name a step")
            return
        if target.startswith("@"):
            name, _, step = target[1:].partition(".")
            other = flow_set.flows.get(name)
            if other is None:
                problems.append(f"{flow.path}:{line}: {what} goes to unknown flow {name!r}; the flows are "
                                f"{', '.join(sorted(flow_set.flows))}")
            elif step and step not in other.steps:
                problems.append(f"{flow.path}:{line}: {what} goes to unknown step {step!r} of flow {name!r}; its "
                                f"steps are {', '.join(other.steps)}")
        elif target not in flow.steps:
            problems.append(f"{flow.path}:{line}: {what} goes to unknown step {target!r}; write one of this flow's "
                            f"steps ({', '.join(flow.steps)}), or @flow.step for a step of another flow")

    def action_ok(name, line):
        if name not in actions:
            problems.append(f"{flow.path}:{line}: unknown action {name!r} "
                            f"(known: {', '.join(sorted(actions))})")

    if flow.asked_by:
        action_ok(flow.asked_by, flow.line)
    for step in flow.steps.values():
        if "next" in step.data:
            target_ok(step.data["next"], step.line_of("next"), "next")
        if step.kind == "goto":
            target_ok(step.data["goto"], step.line_of("goto"), "goto")
        if step.kind == "branch":
            for rule in step.data.get("branch") or []:
                if isinstance(rule, dict) and "goto" in rule:
                    target_ok(rule["goto"], rule.get("__line__", step.line), "branch")
            if "else" in step.data:
                target_ok(step.data["else"], step.line_of("else"), "else")
        if step.kind == "choose":
            if step.data.get("from") not in choices:
                problems.append(f"{flow.path}:{step.line_of('from')}: 'from' must name a list of choices "
                                f"(known: {', '.join(sorted(choices)) or 'none'})")
            if "empty" in step.data:
                target_ok(step.data["empty"], step.line_of("empty"), "empty")
        if step.kind == "action":
            action_ok(step.data["action"], step.line_of("action"))
            outcomes = step.data.get("outcomes") or {}
            for outcome, target in outcomes.items():
                if outcome not in META:
                    target_ok(target, step.line, f"outcome {outcome!r}")
        for option in step.options:
            if option.goto:
                target_ok(option.goto, option.line, "option")
            if option.action:
                action_ok(option.action, option.line)
        if step.kind == "handoff" and not isinstance(step.data["handoff"], str):
            problems.append(f"{flow.path}:{step.line}: handoff needs a reason, like 'asked'")


def _check_lengths(flow_set: FlowSet, translate: Callable[[str, str], str], languages: Iterable[str],
                   problems: list[str]) -> None:
    """What people see on WhatsApp, in each language, within its limits (bot/menus.py): an editor
    learns here, not from a cut-off button, that a translation needs a `short:` label. A text too
    long in several languages is one problem naming them, not one per language."""
    found: dict[tuple[str, str, str], list[tuple[str, str]]] = {}  # (where, what, fix) -> [(language, text)]

    def too_long_in(language: str, where: str, what: str, fix: str, text: str) -> None:
        found.setdefault((where, what, fix), []).append((language, text))

    for language in languages:
        for flow in flow_set.flows.values():
            title = translate(flow.title, language) if flow.title else ""
            if len(title) > ROW_TITLE:
                too_long_in(language, f"{flow.path}:{flow.line}", f"the title, offered in 'Did you mean' as a list "
                            f"row, is longer than {ROW_TITLE} characters", "shorten it", title)
            for step in flow.steps.values():
                if step.kind != "menu":
                    continue
                body = translate(step.get("menu"), language)
                if len(body) > BODY:
                    too_long_in(language, f"{flow.path}:{step.line}", "the menu text is longer than WhatsApp shows "
                                f"above buttons or a list ({BODY} characters)", "shorten it", body)
                for option in step.options:
                    label = option.verbatim or translate(option.label or "", language)
                    title = translate(option.short, language) if option.short else label
                    broken = too_long(len(step.options), title, label)
                    if broken:
                        what, limit = broken
                        fix = "shorten it" if option.verbatim else \
                            ("shorten the translation of 'short'" if option.short and "title" in what
                             else "shorten the translation" if option.short else "give the option a 'short:' label")
                        too_long_in(language, f"{flow.path}:{option.line}", f"{what} longer than {limit} characters",
                                    fix, label if "description" in what else title)
    for (where, what, fix), texts in found.items():
        names = ", ".join(language for language, _text in texts)
        if len({text for _language, text in texts}) == 1:  # one language, or a verbatim text in all
            text = texts[0][1]
            shown = f" ({len(text)}): {text[:80]!r}"
        else:
            shown = ": " + ", ".join(f"{language} ({len(text)}) {text[:40]!r}" for language, text in texts)
        problems.append(f"{where}: [{names}] {what}{shown}; {fix}")


def _check_triggers(flow_set: FlowSet, intents: set[str] | None, problems: list[str]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for flow in flow_set.flows.values():
        for kind, values in (("keyword", [normalise(k) for k in flow.keywords]), ("prefix", flow.prefixes),
                             ("payload", flow.payloads), ("intent", flow.intents)):
            for value in values:
                if (kind, value) in seen and seen[kind, value] != flow.name:
                    problems.append(f"{flow.path}:{flow.line}: {kind} {value!r} also starts flow "
                                    f"{seen[kind, value]!r}")
                seen[kind, value] = flow.name
                if kind == "intent" and intents is not None and value not in intents:
                    problems.append(f"{flow.path}:{flow.line}: unknown intent {value!r}; the intents are "
                                    f"{', '.join(sorted(intents))}")
        for step in flow.steps.values():
            for option in step.options:
                if option.intent and intents is not None and option.intent not in intents:
                    problems.append(f"{flow.path}:{option.line}: unknown intent {option.intent!r}; the intents are "
                                    f"{', '.join(sorted(intents))}")
