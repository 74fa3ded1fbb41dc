"""What the tutor reports about an action, for metrics: outcomes, starts, completions, answers, XP.

The tutor stays free of I/O: an action collects `ActionEvents` while it runs and hands them to the
`Observer` only after its transaction committed, so a rolled-back or retried action reports nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

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
from .ports import ProgressRepository

OK = "ok"
USER_ERROR = "user_error"  # handled: the learner sent something the bot cannot act on
FAILED = "failed"  # the action did not happen (database down, a bug)


@dataclass
class ActionEvents:
    """What one learner action did, in the order it happened."""

    outcome: str = OK
    starts: list[tuple[str, str]] = field(default_factory=list)  # (lesson, version)
    completions: list[tuple[str, str]] = field(default_factory=list)
    abandons: list[tuple[str, str]] = field(
        default_factory=list
    )  # an unfinished attempt replaced by a new one
    answers: list[tuple[str, str, bool]] = field(default_factory=list)  # (lesson, version, correct)
    reports: list[tuple[str, str]] = field(default_factory=list)  # learner reports filed (lesson, version)
    policy_actions: list[str] = field(default_factory=list)
    xp: int = 0


class Observer(Protocol):
    def action_done(self, events: ActionEvents) -> None:
        """A learner action committed (or failed: `events.outcome == FAILED`)."""
        ...

    def storage_error(self) -> None:
        """The database could not be reached or refused the transaction."""
        ...


class NoObserver:
    def action_done(self, events: ActionEvents) -> None:
        return None

    def storage_error(self) -> None:
        return None


class CountingRepository:
    """The progress repository, counting the XP it actually paid (an award already paid adds nothing).

    Every other call goes straight to the wrapped repository; spelled out, so it is a
    `ProgressRepository` to the type checker too.
    """

    def __init__(self, inner: ProgressRepository, events: ActionEvents) -> None:
        self._inner = inner
        self._events = events

    def award_xp(self, award: XpAward) -> bool:
        paid = self._inner.award_xp(award)
        if paid:
            self._events.xp += award.amount
        return paid

    def learner(self, learner_id: str) -> Learner | None:
        return self._inner.learner(learner_id)

    def save_learner(self, learner: Learner) -> Learner:
        return self._inner.save_learner(learner)

    def progress(self, learner_id: str, lesson_id: str) -> LessonProgress | None:
        return self._inner.progress(learner_id, lesson_id)

    def all_progress(self, learner_id: str) -> list[LessonProgress]:
        return self._inner.all_progress(learner_id)

    def save_progress(self, progress: LessonProgress) -> LessonProgress:
        return self._inner.save_progress(progress)

    def rename_lesson(self, learner_id: str, old_id: str, new_id: str) -> None:
        self._inner.rename_lesson(learner_id, old_id, new_id)

    def xp_total(self, learner_id: str) -> int:
        return self._inner.xp_total(learner_id)

    def xp_awards(self, learner_id: str) -> list[XpAward]:
        return self._inner.xp_awards(learner_id)

    def add_completion(self, completion: Completion) -> None:
        self._inner.add_completion(completion)

    def completions(self, learner_id: str, lesson_id: str | None = None) -> list[Completion]:
        return self._inner.completions(learner_id, lesson_id)

    def award_badge(self, award: BadgeAward) -> bool:
        return self._inner.award_badge(award)

    def badges(self, learner_id: str) -> list[BadgeAward]:
        return self._inner.badges(learner_id)

    def mark_processed(self, key: str) -> bool:
        return self._inner.mark_processed(key)

    def learner_ids(self) -> list[str]:
        return self._inner.learner_ids()

    def add_report(self, report: LearnerReport) -> None:
        self._inner.add_report(report)

    def pending_report(self, learner_id: str) -> LearnerReport | None:
        return self._inner.pending_report(learner_id)

    def drop_pending_reports(self, learner_id: str) -> None:
        self._inner.drop_pending_reports(learner_id)

    def record_answer(self, answer: StoredAnswer) -> bool:
        return self._inner.record_answer(answer)

    def lesson_answers(self, lesson_id: str) -> list[StoredAnswer]:
        return self._inner.lesson_answers(lesson_id)

    def learner_answers(self, learner_id: str, lesson_id: str) -> list[StoredAnswer]:
        return self._inner.learner_answers(learner_id, lesson_id)

    def schedule(self, notice: Notice) -> bool:
        return self._inner.schedule(notice)

    def due_notices(self, learner_id: str, now: dt.datetime) -> list[Notice]:
        return self._inner.due_notices(learner_id, now)

    def mark_sent(self, learner_id: str, key: str, at: dt.datetime) -> bool:
        return self._inner.mark_sent(learner_id, key, at)

    def message_settings(self, learner_id: str) -> MessageSettings:
        return self._inner.message_settings(learner_id)

    def save_message_settings(self, learner_id: str, settings: MessageSettings, at: dt.datetime) -> None:
        self._inner.save_message_settings(learner_id, settings, at)

    def opted_out(self, kind: str) -> set[str]:
        return self._inner.opted_out(kind)

    def schedule_many(self, notices: list[Notice]) -> None:
        self._inner.schedule_many(notices)

    def due_everywhere(self, now: dt.datetime, kinds: tuple[str, ...], limit: int) -> list[Notice]:
        return self._inner.due_everywhere(now, kinds, limit)
