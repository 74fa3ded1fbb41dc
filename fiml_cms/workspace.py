"""A content repository as the commands see it: settings, git, the store, lesson lookup.

Opened once per command; git and the store are created on first use, so commands that do not
need them (and `--help`) do not pay for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from .config import Settings, load_settings
from .document import parse_lesson
from .errors import ContentError, MissingInput, UsageError
from .gitrepo import GitRepo
from .lesson import Lesson
from .store import ContentStore, GitBackend
from .suggest import suggest
from .tags import TagFormat


@dataclass(frozen=True)
class LessonRef:
    """A lesson named on the command line: its id and its file in the work tree."""

    id: str
    path: Path


@dataclass
class Workspace:
    settings: Settings
    _store: ContentStore | None = field(default=None, repr=False)

    @classmethod
    def open(cls, start: Path | None = None, lessons: Path | None = None) -> Workspace:
        return cls(load_settings(start or Path.cwd(), lessons))

    @cached_property
    def repo(self) -> GitRepo:
        return GitRepo(self.settings.root)

    @cached_property
    def backend(self) -> GitBackend:
        return GitBackend(self.repo, self.settings)

    @cached_property
    def store(self) -> ContentStore:
        return ContentStore(self.backend)

    @property
    def tag_format(self) -> TagFormat:
        return TagFormat(self.settings.tag_format)

    def lesson_ref(self, arg: str) -> LessonRef:
        """`arg` is a lesson id or a path to a lesson file."""
        candidate = Path(arg)
        if arg.endswith((".yaml", ".yml")) or candidate.is_file():
            if not candidate.is_file():
                raise UsageError(f"{arg}: no such lesson file")
            data = candidate.read_bytes()
            lesson = parse_lesson(data, arg)
            return LessonRef(lesson.id, candidate.resolve())
        path = self.settings.lessons / f"{arg}.yaml"
        if not path.is_file():
            published = self.store.ids() if (self.settings.root / ".git").exists() else []
            if arg in published:
                return LessonRef(arg, path)
            raise MissingInput(
                f"unknown lesson {arg!r}: no file {path} and no published version{suggest(arg, self.known_ids())}"
            )
        return LessonRef(arg, path)

    def known_ids(self) -> list[str]:
        """Lesson ids with a file in the lessons folder or a published version (for suggestions)."""
        ids = (
            {p.stem for p in self.settings.lessons.glob("*.y*ml")}
            if self.settings.lessons.is_dir()
            else set()
        )
        if (self.settings.root / ".git").exists():
            ids.update(self.store.ids())
        return sorted(ids)

    def worktree_lesson(self, ref: LessonRef) -> Lesson:
        try:
            data = ref.path.read_bytes()
        except OSError as exc:
            raise ContentError(f"{ref.path}: cannot be read: {exc.strerror}") from None
        return parse_lesson(data, str(ref.path), tolerate=("FIML045",))  # a yank waiting for its bump

    def lesson_at_ref(self, ref: LessonRef, git_ref: str) -> Lesson:
        commit = self.repo.resolve(git_ref)
        path = self.repo.relative(ref.path)
        data = self.repo.read_at(commit, path)
        if data is None:
            raise ContentError(f"{path} does not exist at {git_ref}")
        return parse_lesson(data, f"{path} at {git_ref}")

    def lesson_version(self, ref: LessonRef, spec: str) -> tuple[Lesson, str]:
        """A version number (published), `worktree`, or any git ref; returns the lesson and a label."""
        from . import versions

        if spec in ("worktree", "WORKTREE", "."):
            return self.worktree_lesson(ref), "working tree"
        if versions.is_valid(spec) or versions.is_valid(spec.removeprefix("v")):
            from .renames import published_lesson

            return published_lesson(self, ref, spec.removeprefix("v"))
        return self.lesson_at_ref(ref, spec), spec

    def last_published(self, lesson_id: str) -> str | None:
        try:
            ordered = self.store.versions(lesson_id)
        except ContentError:
            return None
        return ordered[-1] if ordered else None
