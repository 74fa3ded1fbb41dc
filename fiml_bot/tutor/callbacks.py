"""Compact callback data (Telegram allows 64 bytes) that carries everything a button needs.

A button names the lesson, version and section or question it was made for, so a stale button
from an older message is recognised and handled, and nothing needs remembering between updates
(a second replica can serve the next tap). Long lesson ids are replaced by a short hash, resolved
against the content's ids; forged or unknown data decodes to None.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

LIMIT = 64
SEP = "|"
_KINDS = {
    "h": 0,  # help
    "l": 2,  # list: page, path id ("" for all)
    "o": 1,  # open: lesson
    "n": 3,  # next: lesson, version, section shown
    "a": 4,  # answer: lesson, version, question, given
    "c": 3,  # choose: lesson, version offered, "c" continue / "r" restart
    "u": 1,  # view updates: lesson
    "r": 1,  # retake: lesson
    "p": 0,  # progress
}


@dataclass(frozen=True)
class Callback:
    kind: str
    fields: tuple[str, ...]


def short_key(lesson_id: str) -> str:
    """The id itself when short, else `~` + 10 characters of its hash (stable across processes)."""
    if len(lesson_id) <= 16:
        return lesson_id
    digest = hashlib.sha1(lesson_id.encode()).digest()
    return "~" + base64.b32encode(digest).decode()[:10].lower()


def encode(kind: str, *fields: str) -> str:
    if kind not in _KINDS or len(fields) != _KINDS[kind]:
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
    if not isinstance(data, str) or len(data.encode()) > LIMIT:
        return None
    kind, *fields = data.split(SEP)
    if kind not in _KINDS or len(fields) != _KINDS[kind]:
        return None
    return Callback(kind, tuple(fields))


class KeyResolver:
    """Short keys back to lesson ids, from the current list of ids."""

    def __init__(self, ids: Iterable[str]) -> None:
        self._by_key = {short_key(i): i for i in ids}
        self._ids = set(self._by_key.values())

    def resolve(self, key: str) -> str | None:
        if key in self._ids:
            return key
        return self._by_key.get(key)
