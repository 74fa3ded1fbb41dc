"""What a learner can do, as platform-neutral events (adapters build them from updates or input)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Start:
    name: str = ""


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class ListLessons:
    page: int = 0
    path_id: str = ""


@dataclass(frozen=True)
class Progress:
    pass


@dataclass(frozen=True)
class SetTimeZone:
    zone: str


@dataclass(frozen=True)
class Settings:
    """`/settings`: which messages the bot may start."""


@dataclass(frozen=True)
class Pressed:
    """A button: its callback data (decoded and checked by the tutor; may be stale or forged)."""

    data: str


@dataclass(frozen=True)
class Text:
    """Free text: a typed answer to a numeric question, or something the tutor does not know."""

    text: str


@dataclass(frozen=True)
class Command:
    """A `/command` the adapter does not map itself (reported as unknown by the tutor)."""

    name: str
    argument: str = ""


Event = Start | Help | ListLessons | Progress | SetTimeZone | Pressed | Text | Command | Settings


_SIMPLE: dict[str, type[Start | Help | ListLessons | Progress | Settings]] = {
    "start": Start,
    "help": Help,
    "lessons": ListLessons,
    "progress": Progress,
    "settings": Settings,
}


def command_event(text: str) -> Event:
    """The event a typed `/command argument` stands for: the one table both chat adapters share.

    `/name@bot` (Telegram's form in groups) is the same command; an unknown name becomes `Command`."""
    name, _, argument = text.strip().removeprefix("/").partition(" ")
    name = name.split("@", 1)[0].lower()
    if name in _SIMPLE:
        return _SIMPLE[name]()
    if name == "timezone":
        return SetTimeZone(argument.strip())
    return Command(name, argument.strip())
