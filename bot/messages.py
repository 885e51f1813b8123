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


@dataclass
class Reply:
    text: str
    options: list[Option] = field(default_factory=list)
    media_url: str | None = None
    location: Location | None = None  # sent as a map pin where the channel can
    tag: str | None = None  # what the message carries, so a delivery status can act on it

    def rendered(self) -> str:
        """The text as a person without buttons sees it: options become a numbered list."""
        if not self.options:
            return self.text
        lines = [self.text, ""] if self.text else []
        lines += [f"{number}. {option.label}" for number, option in enumerate(self.options, 1)]
        return "\n".join(lines)
