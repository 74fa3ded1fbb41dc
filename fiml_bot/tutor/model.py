"""The learner's records as frozen values: what the tutor reads and what the store keeps.

The tutor never mutates a record: it builds a new one with `dataclasses.replace`, and the unit of
work saves it. `revision` is the optimistic-concurrency counter: a save whose revision is stale
(another device or replica saved in between) is refused, and the action is retried.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

IN_PROGRESS = "in_progress"  # reading sections
QUIZ = "quiz"  # answering the quiz
COMPLETED = "completed"


@dataclass(frozen=True)
class Learner:
    id: str  # platform-qualified: "telegram:123456", "console:local"
    name: str = ""
    time_zone: str = "UTC"
    active: bool = True  # False once the platform says the learner blocked the bot
    streak_days: int = 0
    last_active_day: dt.date | None = None  # in the learner's time zone
    freeze_available: bool = True
    freeze_used_on: dt.date | None = None
    created_at: dt.datetime | None = None
    revision: int = 0


@dataclass(frozen=True)
class QuizAnswer:
    """One answer, graded against the version the question was asked under (grandfathering)."""

    question_id: str
    given: str  # as the learner gave it: an option index, "true"/"false", or a number
    correct: bool
    version: str


@dataclass(frozen=True)
class LessonProgress:
    """Where a learner is in one lesson (by its current id: renames are followed)."""

    learner_id: str
    lesson_id: str
    pinned_version: str
    status: str = IN_PROGRESS
    current_section: str | None = None
    sections_done: tuple[str, ...] = ()
    answers: tuple[QuizAnswer, ...] = ()  # of the current attempt
    attempt: int = 1
    started_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    completed_version: str | None = None  # the version of the last completion
    completed_at: dt.datetime | None = None
    seen_version: str | None = None  # newest version whose changes the learner has seen
    pending_choice: str | None = None  # a major version waiting for "continue" or "restart"
    revision: int = 0


@dataclass(frozen=True)
class Completion:
    learner_id: str
    lesson_id: str
    version: str
    attempt: int
    score: int
    total: int
    xp_earned: int
    completed_at: dt.datetime


@dataclass(frozen=True)
class XpAward:
    """One line of the append-only XP ledger; `key` makes each award payable once."""

    learner_id: str
    amount: int
    reason: str
    key: str
    lesson_id: str | None = None
    version: str | None = None
    awarded_at: dt.datetime | None = None


@dataclass(frozen=True)
class BadgeAward:
    learner_id: str
    badge: str
    awarded_at: dt.datetime


@dataclass(frozen=True)
class LearnerSnapshot:
    """Everything the gamification rules look at, read in the action's transaction."""

    learner: Learner
    xp_total: int
    completions: tuple[Completion, ...] = ()
    badges: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class LearnerReport:
    """A learner's report of a problem in one section or question of a lesson version.

    `words` is None while the bot waits for the learner to say what is wrong (a pending report).
    """

    learner_id: str
    lesson_id: str
    version: str
    section_id: str | None
    question_id: str | None
    words: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class StoredAnswer:
    """One quiz answer as it was marked, kept for good (issue 26): re-scoring after an answer-key fix
    needs every attempt's answers, and `LessonProgress.answers` holds only the current attempt's."""

    learner_id: str
    lesson_id: str
    attempt: int
    question_id: str
    version: str  # the lesson version the question was asked from
    given: str
    correct: bool
    answered_at: dt.datetime


@dataclass(frozen=True)
class Notice:
    """A message the bot starts, scheduled in the database so that it is sent exactly once.

    `key` is unique per learner (re-scheduling the same notice is a no-op); `sent_at` is set in the
    transaction that delivers it.
    """

    learner_id: str
    key: str
    kind: str  # rescore (more kinds: reminders, reviews, announcements)
    text: str
    due_at: dt.datetime
    sent_at: dt.datetime | None = None


MESSAGE_KINDS = ("reminders", "reviews", "announcements", "update_notices")


@dataclass(frozen=True)
class MessageSettings:
    """Which messages the bot may start for a learner (`/settings`); all on until turned off."""

    reminders: bool = True
    reviews: bool = True
    announcements: bool = True
    update_notices: bool = True

    def allows(self, kind: str) -> bool:
        return bool(getattr(self, kind))
