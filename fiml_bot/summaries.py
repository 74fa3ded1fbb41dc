"""Lesson summaries for the catalogue, read cheaply from the published files and cached per tag.

A summary needs a handful of top-level fields, so the newest version of each lesson is read in one
batch and only those fields are parsed (`yamlfile.load_fields`). A summary whose id or version
disagrees with its tag, or whose fields have the wrong types (a legacy file, an odd layout), comes
from the fully parsed lesson instead. A refresh reads only the lessons whose newest tag changed.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from fiml_cms.lesson import Lesson
from fiml_cms.store import ContentStore, Published
from fiml_cms.yamlfile import YamlProblem, load_fields

from .tutor.catalogue import LessonSummary

log = logging.getLogger("fiml_bot.content")

FIELDS = frozenset(
    {"id", "version", "title", "duration_minutes", "prerequisites", "replaces", "retired", "yanked"}
)
_LISTS = ("prerequisites", "replaces", "yanked")
# One summary as cached on disk: decoded JSON, so its items are whatever the file held; `_from_fields`
# converts each one and treats a failed conversion as a missing record.
_Record = list[Any]


def summary_of(lesson: Lesson) -> LessonSummary:
    return LessonSummary(
        lesson.id,
        lesson.version,
        lesson.title,
        lesson.duration_minutes,
        lesson.prerequisites,
        lesson.replaces,
        lesson.retired,
        lesson.yanked,
    )


def read_summary(data: bytes, entry: Published) -> LessonSummary | None:
    """The summary from the file's top-level fields; None when they do not plainly agree with the tag."""
    try:
        fields = load_fields(data.decode("utf-8"), FIELDS)
    except (UnicodeDecodeError, YamlProblem):
        return None
    title, minutes, retired = (
        fields.get("title"),
        fields.get("duration_minutes"),
        fields.get("retired", False),
    )
    lists = [fields.get(name) or [] for name in _LISTS]
    if (
        fields.get("id") != entry.lesson_id
        or fields.get("version") != entry.version
        or not isinstance(title, str)
        or not isinstance(minutes, int)
        or isinstance(minutes, bool)
        or not isinstance(retired, bool)
        or not all(
            isinstance(value, list) and all(isinstance(item, str) for item in value) for value in lists
        )
    ):
        return None
    prerequisites, replaces, yanked = (tuple(value) for value in lists)
    return LessonSummary(
        entry.lesson_id, entry.version, title, minutes, prerequisites, replaces, retired, yanked
    )


class SummaryCache:
    """Summaries of the newest published versions, kept across refreshes (a tag never changes its content).

    Summaries read from a file are also kept on disk by blob sha (`<git folder>/fiml/summaries-1.json`),
    so a restarted bot lists blob shas (cheap) instead of reading every lesson file again. A blob never
    changes, so nothing there goes stale; a cache that cannot be read or written is ignored.
    """

    FILE = "summaries-1.json"

    def __init__(self) -> None:
        self._by_entry: dict[Published, LessonSummary | None] = {}
        self._by_blob: dict[str, _Record] | None = None  # "sha id version" -> summary fields

    def summaries(self, store: ContentStore, parsed: Callable[[str], Lesson | None]) -> list[LessonSummary]:
        """One summary per lesson with a servable version; `parsed(id)` is the full parse, for the odd file."""
        newest = store.newest()
        known = self._by_entry
        pending = [entry for entry in newest.values() if entry not in known]
        located = store.locate(pending) if pending else []
        disk = self._disk(store)
        fresh = {entry: _from_fields(disk.get(_key(entry, sha)), entry) for entry, sha in located}
        raw = store.read_located([(e, sha) for e, sha in located if fresh[e] is None])
        blob_of = dict(located)
        current: dict[Published, LessonSummary | None] = {}
        added = False
        for entry in newest.values():
            if entry in known:
                current[entry] = known[entry]
                continue
            summary = fresh.get(entry)
            if summary is None and entry in raw:
                summary = read_summary(raw[entry], entry)
                if summary is not None:
                    disk[_key(entry, blob_of[entry])] = _fields(summary)
                    added = True
            if summary is None:
                lesson = parsed(entry.lesson_id)
                summary = replace(summary_of(lesson), id=entry.lesson_id) if lesson is not None else None
            current[entry] = summary
        self._by_entry = current
        if added:
            self._save(store)
        return [s for s in current.values() if s is not None]

    def _disk(self, store: ContentStore) -> dict[str, _Record]:
        if self._by_blob is None:
            self._by_blob = {}
            folder = store.cache_folder()
            if folder is not None:
                try:
                    loaded = json.loads((folder / self.FILE).read_text(encoding="utf-8"))
                    self._by_blob = loaded if isinstance(loaded, dict) else {}
                except (OSError, ValueError):
                    pass
        return self._by_blob

    def _save(self, store: ContentStore) -> None:
        folder = store.cache_folder()
        if folder is None or self._by_blob is None:
            return
        try:
            folder.mkdir(parents=True, exist_ok=True)
            text = json.dumps(
                self._by_blob, separators=(",", ":")
            )  # the C encoder: json.dump writes piecemeal
            with tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", dir=folder, prefix=".summaries-", delete=False
            ) as out:
                out.write(text)
            os.replace(out.name, folder / self.FILE)
        except OSError as exc:
            log.info("lesson summaries not cached on disk (%s)", exc)


def _key(entry: Published, sha: str) -> str:
    return f"{sha} {entry.lesson_id} {entry.version}"


def _fields(summary: LessonSummary) -> list[object]:
    return [
        summary.title,
        summary.duration_minutes,
        list(summary.prerequisites),
        list(summary.replaces),
        summary.retired,
        list(summary.yanked),
    ]


def _from_fields(fields: _Record | None, entry: Published) -> LessonSummary | None:
    """A summary from the disk cache; None for a missing or malformed record."""
    if fields is None:
        return None
    try:
        title, minutes, prerequisites, replaces, retired, yanked = fields
        return LessonSummary(
            entry.lesson_id,
            entry.version,
            str(title),
            int(minutes),
            tuple(prerequisites),
            tuple(replaces),
            bool(retired),
            tuple(yanked),
        )
    except (TypeError, ValueError):
        return None
