"""Feature flags as the tutor sees them: a yes/no per (flag, learner), and a per-learner view of the content.

The flags themselves (OpenFeature, flagd's file format) live in `fiml_bot.ops`; the tutor only asks.
Shipped dark: with no flags configured every feature here is off and every learner sees the plain content.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from fiml_cms.lesson import Lesson, Question

from .messages import Message
from .model import LessonProgress
from .ports import Content, ProgressRepository

REVIEW_MISTAKES = "review-mistakes"  # after a quiz: the questions missed, with the right answer and why


class Features(Protocol):
    def enabled(self, flag: str, learner_id: str) -> bool: ...


class NoFeatures:
    def enabled(self, flag: str, learner_id: str) -> bool:
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
