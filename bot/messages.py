"""What comes in from a person and what goes back, independent of any channel."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Incoming:
    kind: str = "text"  # text | button | list | location | media | empty
    text: str = ""
    payload: str | None = None
    media_types: tuple[str, ...] = ()
    location: tuple[float, float] | None = None


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    label: str = ""

    def to_dict(self) -> dict:
        return {"latitude": self.latitude, "longitude": self.longitude, "label": self.label}


@dataclass(frozen=True)
class Option:
    payload: str
    label: str
    short: str | None = None  # a shorter label for a button or list row, where the label is too long

    def to_dict(self) -> dict:
        return {"payload": self.payload, "label": self.label} | ({"short": self.short} if self.short else {})


@dataclass
class Reply:
    text: str
    options: list[Option] = field(default_factory=list)
    media_url: str | None = None
    location: Location | None = None  # sent as a map pin where the channel can
    tag: str | None = None  # what the message carries, so a delivery status can act on it

    def rendered(self) -> str:
        """The text as a person without buttons sees it: options become a numbered list."""
        return numbered(self.text, [option.label for option in self.options])


def numbered(text: str, labels: list[str]) -> str:
    if not labels:
        return text
    lines = [text, ""] if text else []
    lines += [f"{number}. {label}" for number, label in enumerate(labels, 1)]
    return "\n".join(lines)


def prompt_of(rendered: str, labels: list[str]) -> str | None:
    """The text of a menu without its numbered options (`numbered` undone), so a channel with
    buttons can show the options as buttons; None when `rendered` is not such a text."""
    options = numbered("", labels)
    if not labels or not rendered.endswith(options):
        return None
    return rendered[:-len(options)].rstrip("\n")
