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
