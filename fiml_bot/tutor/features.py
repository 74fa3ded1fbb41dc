"""Feature flags as the tutor sees them: a yes/no per (flag, learner), and a per-learner view of the content.

The flags themselves (OpenFeature, flagd's file format) live in `fiml_bot.ops`; the tutor only asks.
Shipped dark: with no flags configured every feature here is off and every learner sees the plain content.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from fiml_cms.lesson import Lesson, Question

from . import gamification
from .messages import Message
from .model import COMPLETED, Learner, LessonProgress
from .ports import Content, ProgressRepository

REVIEW_MISTAKES = "review-mistakes"  # after a quiz: the questions missed, with the right answer and why


@dataclass(frozen=True)
class LearnerContext:
    """What the bot knows of a learner, as flag rules see it (the evaluation context's attributes).

    `days_active`: whole days since the learner first wrote to the bot; `language_code`: the
    platform's (Telegram's `language_code`), empty when unknown (the terminal, `flags explain`).
    """

    time_zone: str = "UTC"
    language_code: str = ""
    level: int = 1
    xp: int = 0
    days_active: int = 0
    lessons_completed: int = 0

    def attributes(self) -> dict[str, Any]:
        return asdict(self)


ATTRIBUTES = tuple(LearnerContext.__dataclass_fields__)  # what a flag rule may name (besides targetingKey)


def days_since(first: dt.datetime | None, now: dt.datetime) -> int:
    if first is None:
        return 0
    first = first if first.tzinfo else first.replace(tzinfo=dt.UTC)
    return max(0, (now - first).days)


def learner_context(
    repo: ProgressRepository,
    learner_id: str,
    now: dt.datetime,
    language: str = "",
    learner: Learner | None = None,
) -> LearnerContext:
    """The context from the learner's records (a learner without records gets the defaults)."""
    learner = learner or repo.learner(learner_id)
    if learner is None:
        return LearnerContext(language_code=language)
    xp = repo.xp_total(learner_id)
    done = {p.lesson_id for p in repo.all_progress(learner_id) if p.status == COMPLETED}
    return LearnerContext(
        learner.time_zone,
        language,
        gamification.level_for(xp),
        xp,
        days_since(learner.created_at, now),
        len(done),
    )


ContextSource = Callable[[], LearnerContext]  # computed only when a flag file has the flag


class Features(Protocol):
    def enabled(self, flag: str, learner_id: str, context: ContextSource | None = None) -> bool: ...


class NoFeatures:
    def enabled(self, flag: str, learner_id: str, context: ContextSource | None = None) -> bool:
        return False


class Rollout(Protocol):
    """Which versions a learner is served while a content canary runs (see `fiml_bot.ops.canary`)."""

    def view(self, content: Content, learner_id: str, progress: ProgressRepository) -> Content: ...


def mistakes_review(
    lesson: Lesson, progress: LessonProgress, answer_text: Callable[[Question], str]
) -> Message | None:
    """The "review your mistakes" step: each question answered wrong, its right answer and explanation."""
    wrong = {a.question_id for a in progress.answers if not a.correct}
    missed = [q for q in lesson.quiz.questions if q.id in wrong]
    if not missed:
        return None
    lines = ["📝 **Review your mistakes**"]
    for question in missed:
        lines.append(f"\n*{question.prompt}*\n✔️ {answer_text(question)}")
        if question.explanation:
            lines.append(question.explanation)
    return Message("\n".join(lines))
