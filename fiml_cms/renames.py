"""Renamed lessons (SPEC §3: a rename is a new id that lists the old one in `replaces`).

A renamed lesson's published history is the history of the ids it replaces until it is
published under its new id, so `diff`, `bump` and `check` compare it with the old id's versions.
A rename alone is not a new edition: it needs no bump (see `diff.diff_lessons`).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import versions
from .errors import ContentError
from .lesson import Lesson
from .workspace import LessonRef, Workspace


@dataclass(frozen=True)
class PublishedAs:
    """A published version, and the id it was published under (the lesson's own or a former one)."""

    lesson_id: str
    version: str

    def label(self, current_id: str) -> str:
        return self.version if self.lesson_id == current_id else f"{self.lesson_id}@{self.version}"


def former_ids(ws: Workspace, ref: LessonRef) -> tuple[str, ...]:
    """The ids the lesson in the work tree replaces (none when its file cannot be read)."""
    try:
        return ws.worktree_lesson(ref).replaces
    except ContentError:
        return ()


def last_published(ws: Workspace, ref: LessonRef) -> PublishedAs | None:
    """The newest published version under the lesson's id, else under the ids it replaces."""
    own = ws.last_published(ref.id)
    if own is not None:
        return PublishedAs(ref.id, own)
    found = [PublishedAs(old, v) for old in former_ids(ws, ref) if (v := ws.last_published(old)) is not None]
    return max(found, key=lambda p: versions.sort_key(p.version), default=None)


def published_lesson(ws: Workspace, ref: LessonRef, version: str) -> tuple[Lesson, str]:
    """`version` of the lesson as published under its id or under a former id.

    A tag under a former id wins over an untagged version in the renamed file's history, which
    may hold the same number with new content before its bump.
    """
    if version not in _tagged(ws, ref.id):
        for old in former_ids(ws, ref):
            if version in _tagged(ws, old):
                return ws.store.get(old, version), f"{old}@{version}"
    return ws.store.get(ref.id, version), version


def _tagged(ws: Workspace, lesson_id: str) -> list[str]:
    return ws.store.versions(lesson_id) if lesson_id in ws.store.ids() else []
