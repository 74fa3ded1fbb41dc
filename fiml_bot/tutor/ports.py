"""What the tutor needs from the outside, as protocols: progress storage and lesson content.

The storage adapter (SQLAlchemy) and the content adapter (fiml_cms.store) implement these; tests
use in-memory fakes. The tutor never sees a database session or a git repository.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Protocol

from fiml_cms.errors import FimlError
from fiml_cms.lesson import ChangelogEntry, LearningPath, Lesson

from .catalogue import Catalogue
from .model import (
    BadgeAward,
    Completion,
    Learner,
    LearnerReport,
    LessonProgress,
    MessageSettings,
    Notice,
    StoredAnswer,
    XpAward,
)


class ConcurrentUpdate(Exception):
    """Another transaction saved the same record first; the action is retried from the start."""


class StorageUnavailable(FimlError):
    """The database cannot serve the action (no progress tables yet: the cure is a command); nothing
    was changed (exit 1)."""

    exit_code = 1


class StorageUnreachable(StorageUnavailable):
    """The database cannot be reached (refused, locked, gone): an environment problem, exit 2."""

    exit_code = 2


class ProgressRepository(Protocol):
    def learner(self, learner_id: str) -> Learner | None: ...

    def save_learner(self, learner: Learner) -> Learner:
        """Insert (revision 0) or update; returns it with the new revision; ConcurrentUpdate if stale."""
        ...

    def progress(self, learner_id: str, lesson_id: str) -> LessonProgress | None: ...

    def all_progress(self, learner_id: str) -> list[LessonProgress]: ...

    def save_progress(self, progress: LessonProgress) -> LessonProgress:
        """Insert or update with the same revision rule as `save_learner`."""
        ...

    def rename_lesson(self, learner_id: str, old_id: str, new_id: str) -> None:
        """Move a learner's progress and completions from a former lesson id to its new id."""
        ...

    def award_xp(self, award: XpAward) -> bool:
        """Append to the ledger; False (and nothing added) when `award.key` was already paid."""
        ...

    def xp_total(self, learner_id: str) -> int: ...

    def xp_awards(self, learner_id: str) -> list[XpAward]: ...

    def add_completion(self, completion: Completion) -> None: ...

    def completions(self, learner_id: str, lesson_id: str | None = None) -> list[Completion]: ...

    def award_badge(self, award: BadgeAward) -> bool:
        """False when the learner already has the badge."""
        ...

    def badges(self, learner_id: str) -> list[BadgeAward]: ...

    def mark_processed(self, key: str) -> bool:
        """Record an external event id (a Telegram update_id) once; False if it was already applied."""
        ...

    def learner_ids(self) -> list[str]: ...

    def add_report(self, report: LearnerReport) -> None:
        """Store a learner's report (pending while `words` is None)."""
        ...

    def pending_report(self, learner_id: str) -> LearnerReport | None:
        """The learner's newest report still waiting for their words, if any."""
        ...

    def drop_pending_reports(self, learner_id: str) -> None:
        """Forget the learner's reports still waiting for words (filed or abandoned)."""
        ...

    def record_answer(self, answer: StoredAnswer) -> bool:
        """Keep a quiz answer for good; False when that attempt's question was already recorded."""
        ...

    def lesson_answers(self, lesson_id: str) -> list[StoredAnswer]:
        """Every learner's recorded answers to the lesson's questions (re-scoring)."""
        ...

    def learner_answers(self, learner_id: str, lesson_id: str) -> list[StoredAnswer]:
        """One learner's recorded answers in one lesson, by attempt."""
        ...

    def schedule(self, notice: Notice) -> bool:
        """Schedule a message the bot starts; False when that learner's key was scheduled before."""
        ...

    def due_notices(self, learner_id: str, now: dt.datetime) -> list[Notice]: ...

    def schedule_many(self, notices: list[Notice]) -> None:
        """Schedule many at once; those already scheduled are left as they are."""
        ...

    def due_everywhere(self, now: dt.datetime, kinds: tuple[str, ...], limit: int) -> list[Notice]:
        """Unsent messages of these kinds due by `now`, oldest first, over all learners."""
        ...

    def message_settings(self, learner_id: str) -> MessageSettings:
        """Which messages the bot may start for the learner (all on when never set)."""
        ...

    def save_message_settings(self, learner_id: str, settings: MessageSettings, at: dt.datetime) -> None: ...

    def opted_out(self, kind: str) -> set[str]:
        """The learners who turned off `kind` (one of `model.MESSAGE_KINDS`)."""
        ...

    def mark_sent(self, learner_id: str, key: str, at: dt.datetime) -> bool:
        """Mark a scheduled message sent; False when it was sent already (by another action or replica)."""
        ...


class UnitOfWork(Protocol):
    """One transaction: everything a learner action changes commits together or not at all."""

    progress: ProgressRepository

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, *exc: object) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    """The progress store as the tutor holds it (`Storage`, `MemoryStorage`): one unit of work per
    learner action, and the schema revision a readiness probe reports."""

    def __call__(self) -> UnitOfWork: ...

    def schema_revision(self) -> str | None:
        """The schema revision found when the store was opened (None in memory or before any migration)."""
        ...


class Content(Protocol):
    """Published lessons (by id and version) and the learning paths."""

    def latest(self, lesson_id: str) -> Lesson: ...

    def get(self, lesson_id: str, version: str) -> Lesson: ...

    def versions(self, lesson_id: str) -> list[str]: ...

    def is_yanked(self, lesson_id: str, version: str) -> bool: ...

    def current_id(self, lesson_id: str) -> str | None:
        """The id a lesson has now (following `replaces`), or None when unknown."""
        ...

    def lesson_ids(self) -> list[str]: ...

    def paths(self) -> list[LearningPath]: ...

    def changelog_since(self, lesson_id: str, version: str) -> list[ChangelogEntry]: ...

    def catalogue(self) -> Catalogue:
        """Every lesson's summary and the list order, as of the last refresh (an immutable value)."""
        ...

    def newest_version(self, lesson_id: str) -> str | None:
        """The newest published version, yanked or not; None for a lesson this replica does not know."""
        ...

    def refresh(self) -> None:
        """Look for newly published versions now (may raise `FimlError`)."""
        ...

    def staleness_problem(self) -> str | None:
        """Why the lessons served may be out of date (no refresh worked for too long), or None."""
        ...

    def served_ref(self) -> str:
        """Which content is served, for /readyz and fiml_build_info (a commit's 12 hex digits, or a word)."""
        ...


def xp_of(awards: Iterable[XpAward]) -> int:
    return sum(a.amount for a in awards)
