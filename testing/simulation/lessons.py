"""The content as the driver and the oracle both ask it: a lesson under its id or a former one (a
rename), the question a button or typed text answers, and the answer key."""

from __future__ import annotations

import datetime as dt

from fiml_bot.content import LessonContent
from fiml_bot.tutor import callbacks
from fiml_bot.tutor.engine import parse_number
from fiml_bot.tutor.model import QUIZ, LessonProgress
from fiml_cms.errors import FimlError
from fiml_cms.lesson import Lesson, MultipleChoiceQuestion, Question, TrueFalseQuestion


class Lessons:
    """Look-ups across versions and former ids that `LessonContent` answers one id at a time."""

    def __init__(self, content: LessonContent) -> None:
        self.content = content

    def resolve(self, key: str) -> str | None:
        lesson_id = callbacks.KeyResolver(self.content.lesson_ids()).resolve(key)
        if lesson_id is None and key and not key.startswith("~"):
            lesson_id = self.content.current_id(key)
        return lesson_id

    def lesson(self, lesson_id: str | None, version: str) -> Lesson | None:
        """The lesson at that version, under its id or (renamed) under one of its former ids."""
        if lesson_id is None:
            return None
        for candidate in (lesson_id, *self.former(lesson_id)):
            try:
                return self.content.get(candidate, version)
            except FimlError:
                continue
        return None

    def exact(self, lesson_id: str, version: str) -> Lesson | None:
        try:
            return self.content.get(lesson_id, version)
        except FimlError:
            return None

    def former(self, lesson_id: str) -> tuple[str, ...]:
        try:
            return tuple(
                old
                for old in self.content.store.ids()
                if old != lesson_id and self.content.current_id(old) == lesson_id
            )
        except FimlError:
            return ()

    def asked(self, lesson_id: str | None, version: str, pinned: str | None = None) -> Lesson | None:
        """The version a question was asked under: the button's, else the learner's pinned one, else the latest."""
        if lesson_id is None:
            return None
        return (
            self.lesson(lesson_id, version)
            or (self.lesson(lesson_id, pinned) if pinned else None)
            or latest_or_none(self.content, lesson_id)
        )

    def question(
        self, lesson_id: str | None, version: str, key: str, pinned: str | None = None
    ) -> Question | None:
        lesson = self.asked(lesson_id, version, pinned)
        if lesson is None:
            return None
        return next((q for q in lesson.quiz.questions if key in (q.id, callbacks.short_key(q.id))), None)

    def typed_question(
        self, records: dict[str, LessonProgress]
    ) -> tuple[LessonProgress, Lesson, Question] | None:
        """What the tutor takes typed text for: the next question of the latest-updated quiz (a number
        answers a numeric one; at a choice question an option's text answers, anything else re-asks)."""
        waiting = [p for p in records.values() if p.status == QUIZ]
        for progress in sorted(
            waiting, key=lambda p: p.updated_at or dt.datetime.min.replace(tzinfo=dt.UTC), reverse=True
        ):
            lesson = self.exact(progress.lesson_id, progress.pinned_version) or latest_or_none(
                self.content, progress.lesson_id
            )
            if lesson is None:
                continue
            answered = {a.question_id for a in progress.answers}
            question = next((q for q in lesson.quiz.questions if q.id not in answered), None)
            if question is not None:
                return progress, lesson, question
        return None


def latest_or_none(content: LessonContent, lesson_id: str) -> Lesson | None:
    try:
        return content.latest(lesson_id)
    except FimlError:
        return None


def grade(question: Question, given: str) -> bool | None:
    """The answer key: True/False, None when typed text is not a number (nothing is recorded)."""
    if isinstance(question, MultipleChoiceQuestion):
        return given.isdigit() and int(given) == question.answer
    if isinstance(question, TrueFalseQuestion):
        return given in ("t", "f") and (given == "t") == question.answer
    value = parse_number(given)
    if value is None:
        return None
    return abs(value - question.answer) <= question.tolerance + 1e-9


def button_kind(data: str) -> str:
    """The callback kind of a button's data (`o`, `n`, `a`, ...), `?` when the tutor cannot decode it."""
    cb = callbacks.decode(data)
    return cb.kind if cb else "?"
