"""The tutor's view of the content: fiml_cms's ContentStore plus learning paths and renames.

A lesson whose newest published version cannot be served (a broken file) falls back to the
newest version that can, and the operator is told in the log; learners keep learning.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path

from fiml_cms import versions
from fiml_cms.config import Settings
from fiml_cms.document import PATH, check_file
from fiml_cms.errors import ContentError, FimlError
from fiml_cms.lesson import ChangelogEntry, LearningPath, Lesson
from fiml_cms.store import ContentStore

log = logging.getLogger("fiml_bot.content")


class LessonContent:
    """Implements `fiml_bot.tutor.ports.Content`; safe to share between threads."""

    def __init__(self, store: ContentStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._lock = threading.RLock()
        self._latest: dict[str, Lesson] = {}
        self._aliases: dict[str, str] | None = None
        self._paths: list[LearningPath] | None = None
        self.refreshed_at = time.time()  # Unix time of the last (re)load, for fiml_content_refresh_age_seconds

    @classmethod
    def open(cls, root: Path, settings: Settings, preview: bool = False) -> "LessonContent":
        return cls(ContentStore.open(root, settings, preview=preview), settings)

    def refresh(self) -> None:
        """New tags (or edited files in a preview): re-index; parsed lessons stay cached by blob."""
        with self._lock:
            self.store.refresh()
            self._latest, self._aliases, self._paths = {}, None, None
            self.refreshed_at = time.time()

    def latest(self, lesson_id: str) -> Lesson:
        lesson = self._latest.get(lesson_id)
        if lesson is not None:
            return lesson
        with self._lock:
            ordered = self.store.versions(lesson_id)
            problems = []
            for version in reversed(ordered):
                try:
                    lesson = self.store.get(lesson_id, version)
                except FimlError as exc:
                    problems.append(str(exc))
                    continue
                if problems:
                    log.error("lesson %s: serving %s, the newest version that works: %s", lesson_id, version, "; ".join(problems))
                self._latest[lesson_id] = lesson
                return lesson
        raise ContentError(f"lesson {lesson_id!r} has no version that can be served: {'; '.join(problems) or 'none published'}")

    def get(self, lesson_id: str, version: str) -> Lesson:
        """A version of a lesson, also one published under an id it has since replaced."""
        try:
            return self.store.get(lesson_id, version)
        except ContentError:
            for former in self._former_ids(lesson_id):
                try:
                    lesson = self.store.get(former, version)
                except ContentError:
                    continue
                return replace(lesson, id=lesson_id)  # served under the id the learner's records use now
            raise

    def _former_ids(self, lesson_id: str) -> list[str]:
        ids = set(self.store.ids())
        return [old for old in self._alias_map() if old in ids and self.current_id(old) == lesson_id]

    def versions(self, lesson_id: str) -> list[str]:
        return self.store.versions(lesson_id)

    def is_yanked(self, lesson_id: str, version: str) -> bool:
        try:
            return version in self.latest(lesson_id).yanked
        except FimlError:
            return False

    def _alias_map(self) -> dict[str, str]:
        aliases = self._aliases
        if aliases is None:
            with self._lock:
                aliases = {}
                for lesson_id in self.store.ids():
                    try:
                        for old in self.latest(lesson_id).replaces:
                            aliases[old] = lesson_id
                    except FimlError:
                        continue
                self._aliases = aliases
        return aliases

    def current_id(self, lesson_id: str) -> str | None:
        aliases = self._alias_map()
        seen = set()
        while lesson_id in aliases and lesson_id not in seen:  # a chain of renames
            seen.add(lesson_id)
            lesson_id = aliases[lesson_id]
        return lesson_id if lesson_id in self.store.ids() else None

    def lesson_ids(self) -> list[str]:
        aliases = self._alias_map()
        return [i for i in self.store.ids() if i not in aliases]

    def paths(self) -> list[LearningPath]:
        paths = self._paths
        if paths is None:
            with self._lock:
                paths = []
                folder = self.settings.paths
                for file in sorted(folder.glob("*.y*ml")) if folder.is_dir() else []:
                    checked = check_file(file, str(file), PATH, self.settings.root)
                    if checked.path is None:
                        log.error("learning path %s is invalid and is not shown: %s", file, "; ".join(f.message for f in checked.findings[:2]))
                        continue
                    paths.append(checked.path)
                self._paths = paths
        return paths

    def changelog_since(self, lesson_id: str, version: str) -> list[ChangelogEntry]:
        latest = self.latest(lesson_id)
        try:
            floor = versions.parse(version)
        except ValueError:
            return list(latest.changelog)
        return [e for e in latest.changelog if versions.is_valid(e.version) and versions.parse(e.version) > floor]
