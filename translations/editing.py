"""Every text the bot says, as editors see and change it: by flow and step, in every language.

The web editor (staff/texts.py) writes to the very files developers use: the flow files in
flows/ and the catalogs in translations/ (read and written with Babel; the .mo compiled too, for
gettext tools, though the service reads the .po), so there is one source of truth and
`make translations` finds nothing to undo.

Rewording an English text makes a new msgid. Its earlier translations are not dropped: each
language gets the new msgid with the old translation marked fuzzy ("needs review"), as gettext's
fuzzy matching does, and the bot keeps serving it until a speaker saves the language again
(bot/i18n.py, releases/flows.py). The old English is not written as a `#| msgid` line (Babel
reads it back as a comment); the audit log keeps it.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from bot.flows import Flow, _parse_flow, read_flow_file
from bot.menus import BODY, BUTTON_TITLE, MAX_BUTTONS, MAX_ROWS, ROW_DESCRIPTION, ROW_TITLE, layout
from translations.catalogs import TEMPLATE, catalog_path
from translations.status import placeholders

TRANSLATED, REVIEW, MISSING, SOURCE = "translated", "needs review", "missing", "source"
STATES = (TRANSLATED, REVIEW, MISSING)
PROGRAM_GROUP = "program"  # texts written in Python code: their English is changed by a developer
WIDTH = 76  # as pybabel writes the catalogs, so a save changes only the lines it must
BRACE = "python-brace-format"
_KEY = re.compile(r"^[0-9a-f]{16}$")


class EditRefused(ValueError):
    """A save that would break what people see; the text says why, in an editor's words."""


@dataclass(frozen=True)
class Place:
    """Where a text is shown: a flow's step (and option), with WhatsApp's limit there."""

    flow: str
    step: str  # "" for a flow's title
    field: str  # say, ask, menu, choose, invalid, confirm, title, label, short
    option: int | None  # the option's place in its menu, from 0
    line: int
    limit: int | None  # most characters WhatsApp shows here; None: no limit (numbered text)
    limit_what: str = ""

    @property
    def id(self) -> str:
        return f"{self.flow}.{self.step}.{self.field}" + ("" if self.option is None else f".{self.option}")

    @property
    def where(self) -> str:
        if not self.flow:
            return "written in the program"
        if not self.step:
            return f"{self.flow}: title (offered in 'Did you mean')"
        what = {"label": "option", "short": "option's short label"}.get(self.field, self.field)
        number = "" if self.option is None else f" {self.option + 1}"
        return f"{self.flow} › {self.step}: {what}{number}"


@dataclass
class Translation:
    language: str
    text: str
    state: str


@dataclass
class Text:
    source: str
    place: Place
    translations: dict[str, Translation] = field(default_factory=dict)
    # A translation serves every place the same English is shown: it must fit the tightest of them.
    limit: int | None = None
    limit_what: str = ""
    places: int = 1

    @property
    def key(self) -> str:
        return text_key(self.source)

    @property
    def editable_source(self) -> bool:
        return bool(self.place.flow)


def text_key(source: str) -> str:
    import hashlib

    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def valid_key(key: str) -> bool:
    return bool(_KEY.match(key or ""))


# -- reading -------------------------------------------------------------------------------------

def _option_limits(count: int, has_short: bool) -> dict[str, tuple[int | None, str]]:
    """The limit of an option's label and short label in a menu of `count` options (bot/menus.py)."""
    if count > MAX_ROWS:
        return {"label": (None, ""), "short": (None, "")}
    title = (BUTTON_TITLE, "button title") if count <= MAX_BUTTONS else (ROW_TITLE, "list row title")
    if not has_short:
        return {"label": title, "short": (None, "")}
    label = (None, "") if count <= MAX_BUTTONS else (ROW_DESCRIPTION, "list row description")
    return {"label": label, "short": title}


def flow_places(flow: Flow) -> Iterator[tuple[str, Place]]:
    """(text, place) for every text of `flow`, in the order of the file."""
    if flow.title:
        yield flow.title, Place(flow.name, "", "title", None, flow.line, ROW_TITLE, "'Did you mean' list row")
    for step in flow.steps.values():
        for key in ("say", "ask", "menu", "choose", "invalid", "confirm"):
            if isinstance(step.get(key), str):
                yield step.get(key), Place(flow.name, step.id, key, None, step.line_of(key), BODY, "message body")
        for number, option in enumerate(step.options):
            limits = _option_limits(len(step.options), bool(option.short))
            if option.label:
                limit, what = limits["label"]
                yield option.label, Place(flow.name, step.id, "label", number, option.line, limit, what)
            if option.short:
                limit, what = limits["short"]
                yield option.short, Place(flow.name, step.id, "short", number, option.line, limit, what)


def read_flows(directory: Path) -> dict[str, Flow]:
    """The flows as written, without the whole-set checks: an editor may fix a text in a set
    that has another problem. Read again only when a file changed (a page asks many times)."""
    files = tuple((path, path.stat().st_mtime_ns, path.stat().st_size) for path in sorted(directory.glob("*.yml")))
    return _read_flows(files)


@lru_cache(maxsize=8)
def _read_flows(files: tuple[tuple[Path, int, int], ...]) -> dict[str, Flow]:
    flows: dict[str, Flow] = {}
    for path, _mtime, _size in files:
        data, _errors = read_flow_file(path)
        flow = _parse_flow(path, data, []) if data is not None else None
        if flow is not None:
            flows.setdefault(flow.name, flow)
    return flows


@lru_cache(maxsize=64)
def _catalog(path: Path, mtime_ns: int, size: int) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def load_catalog(path: Path) -> Catalog:
    """A catalog, read again only when its file changed (the page reads 16 of them)."""
    stat = path.stat()
    return _catalog(path, stat.st_mtime_ns, stat.st_size)


def translation_of(catalog: Catalog | None, source: str, language: str) -> Translation:
    message = catalog.get(source) if catalog is not None else None
    if message is None or not message.string:
        return Translation(language, "", MISSING)
    if message.fuzzy:
        return Translation(language, str(message.string), REVIEW)
    return Translation(language, str(message.string), TRANSLATED)


def all_texts(flows_dir: Path, catalogs_dir: Path, languages: list[str], source_language: str = "en") -> list[Text]:
    """Every text by flow and step (then those written in the program), each in every language."""
    catalogs = {code: load_catalog(catalog_path(code, catalogs_dir)) if catalog_path(code, catalogs_dir).exists()
                else None for code in languages if code != source_language}
    texts: list[Text] = []
    in_flows: set[str] = set()
    for flow in read_flows(flows_dir).values():
        for source, place in flow_places(flow):
            texts.append(Text(source, place))
            in_flows.add(source)
    template = catalogs_dir / TEMPLATE.name
    if template.exists():
        for message in load_catalog(template):
            if message.id and isinstance(message.id, str) and message.id not in in_flows:
                texts.append(Text(message.id, Place("", "", "program", None, 0, BODY, "message body")))
    by_source: dict[str, list[Place]] = {}
    for text in texts:
        by_source.setdefault(text.source, []).append(text.place)
    for text in texts:
        places = by_source[text.source]
        tightest = min((p for p in places if p.limit is not None), key=lambda p: p.limit or 0, default=None)
        text.limit, text.limit_what = (tightest.limit, tightest.limit_what) if tightest else (None, "")
        text.places = len(places)
        text.translations[source_language] = Translation(source_language, text.source, SOURCE)
        for code, catalog in catalogs.items():
            text.translations[code] = translation_of(catalog, text.source, code)
    return texts


def find_text(texts: list[Text], key: str, place: str | None = None) -> Text | None:
    found = [text for text in texts if text.key == key]
    return next((text for text in found if text.place.id == place), found[0] if found else None)


def matches(text: Text, *, language: str = "", state: str = "", flow: str = "", search: str = "") -> bool:
    """The list's filters: a language (its state, if one is asked), a flow, words anywhere."""
    if flow and text.place.flow != (flow if flow != PROGRAM_GROUP else ""):
        return False
    if state:
        if state not in STATES:
            return False
        codes = [language] if language else list(text.translations)
        if not any(text.translations[c].state == state for c in codes if c in text.translations):
            return False
    if search:
        needle = search.casefold()
        codes = [language] if language else list(text.translations)
        haystack = [text.source, text.place.where] + [text.translations[c].text for c in codes
                                                      if c in text.translations]
        if not any(needle in value.casefold() for value in haystack):
            return False
    return True


# -- checks --------------------------------------------------------------------------------------

def check_text(source: str, text: str, limit: int | None, limit_what: str, language: str) -> list[str]:
    """Why a text may not be saved: its placeholders must be the English text's, and it must fit."""
    problems = []
    if not text.strip():
        problems.append(f"[{language}] The text is empty. Write a text, or leave it as it was.")
    expected, found = placeholders(source), placeholders(text)
    if expected != found:
        missing = sorted(set(expected) - set(found))
        extra = sorted(set(found) - set(expected))
        parts = []
        if missing:
            parts.append("it must contain " + ", ".join("{" + name + "}" for name in missing))
        if extra:
            parts.append("it may not contain " + ", ".join("{" + name + "}" for name in extra))
        problems.append(f"[{language}] Placeholders differ from the English text: {'; '.join(parts)}. "
                        "Copy them exactly, with their curly brackets; they are filled in when the message is sent.")
    if limit is not None and len(text) > limit:
        problems.append(f"[{language}] {len(text)} characters: WhatsApp shows at most {limit} in a {limit_what}. "
                        "Shorten it.")
    return problems


# -- writing -------------------------------------------------------------------------------------

@contextmanager
def _editing(catalogs_dir: Path):
    """One save at a time, across every web process on this machine."""
    with open(catalogs_dir / ".editing.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _replace_file(path: Path, write: Callable[[object], None]) -> None:
    """Write beside the file, then rename: a process reading it sees the old or the new, whole."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _read(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def _save(path: Path, catalog: Catalog, *, template: bool = False) -> None:
    _replace_file(path, lambda out: write_po(out, catalog, width=WIDTH, sort_output=True, no_location=True,
                                            ignore_obsolete=True))
    if not template:
        _replace_file(path.with_suffix(".mo"), lambda out: write_mo(out, catalog))


def save_translation(catalogs_dir: Path, text: Text, language: str, value: str) -> None:
    """Save one language's translation as reviewed (no longer fuzzy), and compile its catalog."""
    problems = check_text(text.source, value, text.limit, text.limit_what, language)
    if problems:
        raise EditRefused("\n".join(problems))
    path = catalog_path(language, catalogs_dir)
    with _editing(catalogs_dir):
        catalog = _read(path)
        message = catalog.get(text.source)
        if message is None:
            message = Message(text.source, flags=[BRACE] if placeholders(text.source) else [])
            catalog[text.source] = message
        message.string = value
        message.flags.discard("fuzzy")
        _save(path, catalog)


def _scalar_node(document: yaml.Node, place: Place) -> yaml.ScalarNode | None:
    """The YAML node holding the text at `place`, found by walking the file's node tree."""
    def get(node, key):
        if isinstance(node, yaml.MappingNode):
            for name, value in node.value:
                if isinstance(name, yaml.ScalarNode) and name.value == key:
                    return value
        return None

    if place.field == "title":
        node = get(document, "title")
    else:
        step = get(get(document, "steps"), place.step)
        if place.option is None:
            node = get(step, place.field)
        else:
            options = get(step, "options")
            if not isinstance(options, yaml.SequenceNode) or place.option >= len(options.value):
                return None
            node = get(options.value[place.option], place.field)
    return node if isinstance(node, yaml.ScalarNode) else None


def _flow_path(flows_dir: Path, flow: str) -> Path:
    for path in sorted(flows_dir.glob("*.yml")):
        data, _errors = read_flow_file(path)
        if data is not None and data.get("flow") == flow:
            return path
    raise EditRefused(f"The flow {flow!r} is no longer in the flow files; reload the page.")


def change_source(flows_dir: Path, catalogs_dir: Path, text: Text, value: str, allowed: set[str],
                  languages: list[str], source_language: str = "en") -> None:
    """Reword an English text where it is shown: in its flow file, in the template and in every
    catalog, where the earlier translations stay as "needs review" of the new text."""
    value = value.strip()
    place = text.place
    if not text.editable_source:
        raise EditRefused("This text is written in the program's code: a developer changes its English. "
                          "Its translations can be edited here.")
    problems = check_text(value, value, place.limit, place.limit_what, source_language)
    unknown = sorted(set(placeholders(value)) - allowed)
    if unknown:
        problems.append(f"[{source_language}] Unknown placeholder(s) " + ", ".join("{" + n + "}" for n in unknown) +
                        f". Known here: {', '.join('{' + n + '}' for n in sorted(allowed))}.")
    if problems:
        raise EditRefused("\n".join(problems))
    if value == text.source:
        return
    with _editing(catalogs_dir):
        path = _flow_path(flows_dir, place.flow)
        content = path.read_text(encoding="utf-8")
        node = _scalar_node(yaml.compose(content, Loader=yaml.SafeLoader), place)
        if node is None or node.value != text.source:
            raise EditRefused("The flow file changed since this page was opened; reload the page and try again.")
        start, end = node.start_mark.index, node.end_mark.index
        written = content[start:end]
        after = written[len(written.rstrip()):]  # a block scalar (>-) ends at the next line: keep the break
        _replace_file(path, lambda out: out.write(
            (content[:start] + json.dumps(value, ensure_ascii=False) + after + content[end:]).encode("utf-8")))
        still_used = any(source == text.source for flow in read_flows(flows_dir).values()
                         for source, _place in flow_places(flow))
        where = f"flow {place.flow}, step {place.step}" if place.step else f"flow {place.flow}: its title"
        template_path = catalogs_dir / TEMPLATE.name
        template = _read(template_path)
        old = template.get(text.source)
        program_text = old is not None and any(not c.startswith("flow ") for c in old.auto_comments)
        keep_old = still_used or program_text
        flags = [BRACE] if placeholders(value) else []
        if template.get(value) is None:
            template[value] = Message(value, flags=flags, auto_comments=[where])
        if not keep_old and old is not None:
            del template[text.source]
        _save(template_path, template, template=True)
        for code in languages:
            path = catalog_path(code, catalogs_dir)
            if not path.exists():
                continue
            catalog = _read(path)
            before = catalog.get(text.source)
            if catalog.get(value) is None:
                message = Message(value, flags=flags, auto_comments=[where])
                if code != source_language and before is not None and before.string:
                    message.string = before.string
                    message.flags.add("fuzzy")
                    message.user_comments = list(before.user_comments)
                catalog[value] = message
            if not keep_old and before is not None:
                del catalog[text.source]
            _save(path, catalog)


# -- preview -------------------------------------------------------------------------------------

@dataclass
class Preview:
    """One message as WhatsApp shows it: a bubble, with reply buttons, a list or numbered text."""

    kind: str  # text | buttons | list
    body: str
    items: list[dict] = field(default_factory=list)  # title, description
    button: str = ""  # the list's button


def preview(flows_dir: Path, text: Text, translate: Callable[[str], str], list_button: str) -> Preview:
    """What a person sees where `text` is shown, with `translate(source)` giving each text of
    the message in their language (the edited one included)."""
    place = text.place
    flow = read_flows(flows_dir).get(place.flow) if place.flow else None
    step = flow.steps.get(place.step) if flow is not None and place.step else None
    if step is None or step.kind != "menu":
        return Preview("text", translate(text.source))
    body = translate(step.get("menu"))
    options = [{"payload": option.payload, "label": option.verbatim or translate(option.label or ""),
                "short": translate(option.short) if option.short else None} for option in step.options]
    shown = layout(body, options)
    if shown is None:
        lines = [body, ""] + [f"{number}. {option['label']}" for number, option in enumerate(options, 1)]
        return Preview("text", "\n".join(lines))
    return Preview(shown.kind, shown.body, [{"title": item.title, "description": item.description}
                                            for item in shown.items], list_button if shown.kind == "list" else "")
