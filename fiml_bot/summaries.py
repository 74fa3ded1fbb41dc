"""Lesson summaries for the catalogue, read cheaply from the published files and cached per tag.

A summary needs a handful of top-level fields, so the newest version of each lesson is read in one
batch and only those fields are parsed (`yamlfile.load_fields`). A summary whose id or version
disagrees with its tag, or whose fields have the wrong types (a legacy file, an odd layout), comes
from the fully parsed lesson instead. A refresh reads only the lessons whose newest tag changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from fiml_cms.lesson import Lesson
from fiml_cms.store import ContentStore, Published
from fiml_cms.yamlfile import YamlProblem, load_fields

from .tutor.catalogue import LessonSummary

FIELDS = frozenset({"id", "version", "title", "duration_minutes", "prerequisites", "replaces", "retired", "yanked"})
_LISTS = ("prerequisites", "replaces", "yanked")


def summary_of(lesson: Lesson) -> LessonSummary:
    return LessonSummary(lesson.id, lesson.version, lesson.title, lesson.duration_minutes, lesson.prerequisites, lesson.replaces, lesson.retired, lesson.yanked)


def read_summary(data: bytes, entry: Published) -> LessonSummary | None:
    """The summary from the file's top-level fields; None when they do not plainly agree with the tag."""
    try:
        fields = load_fields(data.decode("utf-8"), FIELDS)
    except (UnicodeDecodeError, YamlProblem):
        return None
    title, minutes, retired = fields.get("title"), fields.get("duration_minutes"), fields.get("retired", False)
    lists = [fields.get(name) or [] for name in _LISTS]
    if (
        fields.get("id") != entry.lesson_id
        or fields.get("version") != entry.version
        or not isinstance(title, str)
        or not isinstance(minutes, int)
        or isinstance(minutes, bool)
        or not isinstance(retired, bool)
        or not all(isinstance(value, list) and all(isinstance(item, str) for item in value) for value in lists)
    ):
        return None
    prerequisites, replaces, yanked = (tuple(value) for value in lists)
    return LessonSummary(entry.lesson_id, entry.version, title, minutes, prerequisites, replaces, retired, yanked)


class SummaryCache:
    """Summaries of the newest published versions, kept across refreshes (a tag never changes its content)."""

    def __init__(self) -> None:
        self._by_entry: dict[Published, LessonSummary | None] = {}

    def summaries(self, store: ContentStore, parsed: Callable[[str], Lesson | None]) -> list[LessonSummary]:
        """One summary per lesson with a servable version; `parsed(id)` is the full parse, for the odd file."""
        newest = store.newest()
        known = self._by_entry
        pending = [entry for entry in newest.values() if entry not in known]
        raw = store.read_published(pending) if pending else {}
        current: dict[Published, LessonSummary | None] = {}
        for entry in newest.values():
            if entry in known:
                current[entry] = known[entry]
                continue
            data = raw.get(entry)
            summary = read_summary(data, entry) if data is not None else None
            if summary is None:
                lesson = parsed(entry.lesson_id)
                summary = replace(summary_of(lesson), id=entry.lesson_id) if lesson is not None else None
            current[entry] = summary
        self._by_entry = current
        return [s for s in current.values() if s is not None]
