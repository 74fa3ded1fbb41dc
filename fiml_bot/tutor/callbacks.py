"""Compact callback data (Telegram allows 64 bytes) that carries everything a button needs.

A button names the lesson, version and section or question it was made for, so a stale button
from an older message is recognised and handled, and nothing needs remembering between updates
(a second replica can serve the next tap). Long lesson ids are replaced by a short hash, resolved
against the content's ids; forged or unknown data decodes to None.

Each kind of button is a frozen dataclass below; its fields, in order, are the wire fields after
its letter (`n|lesson|version|section`). The wire format is fixed: buttons on learners' old
messages must keep working, so a new button gets a new letter and existing ones never change.
Adding a button: a dataclass here (with its `KIND` letter) and its handler in the engine's dispatch.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar

LIMIT = 64
SEP = "|"


class Callback:
    """A decoded button; `kind` is its wire letter and `fields` its wire fields, in order."""

    __slots__ = ()
    KIND: ClassVar[str]

    @property
    def kind(self) -> str:
        return self.KIND

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple([getattr(self, name) for name in self.__match_args__])

    __match_args__: ClassVar[tuple[str, ...]] = ()


@dataclass(frozen=True, slots=True)
class ShowHelp(Callback):
    KIND: ClassVar[str] = "h"


@dataclass(frozen=True, slots=True)
class ListPage(Callback):
    """A page of the lessons list; `path_id` "" lists every path. A page that is not a number is 0."""

    KIND: ClassVar[str] = "l"
    page: int
    path_id: str = ""

    @classmethod
    def parse(cls, page: str, path_id: str) -> ListPage:
        return cls(int(page) if page.isdecimal() else 0, path_id)

    @property
    def fields(self) -> tuple[str, ...]:
        return (str(self.page), self.path_id)


@dataclass(frozen=True, slots=True)
class LessonButton(Callback):
    """A button about one lesson: `lesson` is its id or, in long data, the id's `short_key`."""

    lesson: str


@dataclass(frozen=True, slots=True)
class Open(LessonButton):
    KIND: ClassVar[str] = "o"


@dataclass(frozen=True, slots=True)
class Next(LessonButton):
    """ "Next" under a section: the version and section it was shown for (stale ones are recognised)."""

    KIND: ClassVar[str] = "n"
    version: str
    section: str


@dataclass(frozen=True, slots=True)
class Answer(LessonButton):
    """An answer to a quiz question: an option's index, or "t"/"f" for true or false."""

    KIND: ClassVar[str] = "a"
    version: str
    question: str
    given: str


CONTINUE = "c"
RESTART = "r"


@dataclass(frozen=True, slots=True)
class Choose(LessonButton):
    """The learner's answer to "a new edition is out": `CONTINUE` or `RESTART`, for version `offered`."""

    KIND: ClassVar[str] = "c"
    offered: str
    choice: str


@dataclass(frozen=True, slots=True)
class ViewUpdates(LessonButton):
    KIND: ClassVar[str] = "u"


@dataclass(frozen=True, slots=True)
class Retake(LessonButton):
    KIND: ClassVar[str] = "r"


SECTION = "s"
QUESTION = "q"


@dataclass(frozen=True, slots=True)
class ReportProblem(LessonButton):
    """ "Report a problem" under a section (`place` SECTION) or a question (QUESTION), by its id or key."""

    KIND: ClassVar[str] = "x"
    version: str
    place: str
    key: str


@dataclass(frozen=True, slots=True)
class StartReview(LessonButton):
    """A spaced review's "Review now": the questions of the lesson the learner last got wrong."""

    KIND: ClassVar[str] = "w"


@dataclass(frozen=True, slots=True)
class ReviewAnswer(LessonButton):
    """An answer in a review (marked, never paid): an option's index, or "t"/"f"."""

    KIND: ClassVar[str] = "v"
    question: str
    given: str


@dataclass(frozen=True, slots=True)
class ToggleMessages(Callback):
    """`/settings`: turn one kind of message the bot starts on or off (`""`: just show the settings)."""

    KIND: ClassVar[str] = "s"
    kind_of_message: str = ""


@dataclass(frozen=True, slots=True)
class ShowProgress(Callback):
    KIND: ClassVar[str] = "p"


_TYPES: tuple[type[Callback], ...] = (
    ShowHelp,
    ListPage,
    Open,
    Next,
    Answer,
    Choose,
    ViewUpdates,
    Retake,
    ShowProgress,
    ReportProblem,
    ToggleMessages,
    StartReview,
    ReviewAnswer,
)
# letter -> (number of wire fields, how to build the value from them)
_DECODERS: dict[str, tuple[int, Callable[..., Callback]]] = {
    t.KIND: (len(t.__match_args__), ListPage.parse if t is ListPage else t) for t in _TYPES
}


def short_key(lesson_id: str) -> str:
    """The id itself when short, else `~` + 10 characters of its hash (stable across processes)."""
    if len(lesson_id) <= 16:
        return lesson_id
    digest = hashlib.sha1(lesson_id.encode()).digest()
    return "~" + base64.b32encode(digest).decode()[:10].lower()


def encode(callback: Callback | str, *fields: str) -> str:
    """The button's data. `encode("o", lesson_id)` (letter and wire fields) is the older spelling."""
    if isinstance(callback, Callback):
        if fields:
            raise ValueError(f"fields given twice for {callback!r}: {fields!r}")
        kind, fields = callback.KIND, callback.fields
    else:
        kind = callback
    decoder = _DECODERS.get(kind)
    if decoder is None or len(fields) != decoder[0]:
        raise ValueError(f"bad callback {kind!r} {fields!r}")
    if any(SEP in f for f in fields):
        raise ValueError(f"a callback field may not contain {SEP!r}: {fields!r}")
    data = SEP.join((kind, *fields))
    if len(data.encode()) > LIMIT:
        shortened = [short_key(f) if len(f) > 16 else f for f in fields]
        data = SEP.join((kind, *shortened))
    if len(data.encode()) > LIMIT:
        raise ValueError(f"callback data over {LIMIT} bytes: {data!r}")
    return data


def decode(data: str) -> Callback | None:
    """The button `data` stands for; None for data no version of the bot made (forged or garbled)."""
    if not isinstance(data, str) or len(data.encode()) > LIMIT:
        return None
    kind, *fields = data.split(SEP)
    decoder = _DECODERS.get(kind)
    if decoder is None or len(fields) != decoder[0]:
        return None
    return decoder[1](*fields)


class KeyResolver:
    """Short keys back to lesson ids, from the current list of ids."""

    def __init__(self, ids: Iterable[str]) -> None:
        self._by_key = {short_key(i): i for i in ids}
        self._ids = set(self._by_key.values())

    def resolve(self, key: str) -> str | None:
        if key in self._ids:
            return key
        return self._by_key.get(key)
