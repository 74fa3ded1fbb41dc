"""Spaced review: the questions a learner got wrong come back 1, 3 and 7 days after the quiz.

Scheduled when a quiz attempt ends with mistakes (and the learner has not turned reviews off), sent
by `fiml-bot remind` with a "Review now" button. A review asks the choice questions whose latest
answer was wrong, one at a time, against the lesson's newest version, and marks them; nothing is
paid (the answers were paid or not in the quiz), but answering is activity, so it keeps the streak.
A numeric question is shown with its answer rather than asked (typed text answers the quiz).
"""

from __future__ import annotations

import datetime as dt

from fiml_cms import message
from fiml_cms.lesson import Lesson, MultipleChoiceQuestion, NumericQuestion, Question, TrueFalseQuestion

from . import questions
from .callbacks import ListPage, ReviewAnswer, StartReview, encode
from .messages import Button, Message, rows
from .model import LessonProgress, Notice
from .turn import Turn

KIND = "review"
AFTER_DAYS = (1, 3, 7)


def schedule(turn: Turn, lesson: Lesson, progress: LessonProgress) -> None:
    """At the end of a quiz attempt with mistakes: the three reviews, unless reviews are off."""
    missed = [a for a in progress.answers if not a.correct]
    if not missed or not turn.repo.message_settings(turn.learner_id).reviews:
        return
    count = len(missed)
    for days in AFTER_DAYS:
        text = (
            f"📝 Time for a quick review of **{lesson.title}**: {count} question{'s' if count != 1 else ''} "
            f"you missed {days} day{'s' if days != 1 else ''} ago. Tap to try {'it' if count == 1 else 'them'} again."
        )
        key = f"{KIND}:{lesson.id}:{progress.attempt}:{days}d"
        turn.repo.schedule(Notice(turn.learner_id, key, KIND, text, turn.now + dt.timedelta(days=days)))


def button_for(notice: Notice) -> Button | None:
    """The "Review now" button of a review message (its lesson is in its key)."""
    parts = notice.key.split(":")
    if notice.kind != KIND or len(parts) != 4:
        return None
    return Button("📝 Review now", encode(StartReview(parts[1])))


def missed(turn: Turn, lesson: Lesson) -> list[Question]:
    """The lesson's questions whose latest recorded answer was wrong, in the lesson's order."""
    latest: dict[str, bool] = {}
    for answer in turn.repo.learner_answers(turn.learner_id, lesson.id):
        latest[answer.question_id] = answer.correct
    return [q for q in lesson.quiz.questions if latest.get(q.id) is False]


def start(turn: Turn, lesson_id: str) -> list[Message]:
    lesson = turn.latest(lesson_id)
    if lesson is None:
        return [
            Message("That lesson is no longer available.", ((Button("📚 Lessons", encode(ListPage(0))),),))
        ]
    due = missed(turn, lesson)
    if not due:
        return [
            Message(
                f"Nothing to review in **{lesson.title}**: you answered everything right since. ✅", _done()
            )
        ]
    recall = [q for q in due if isinstance(q, NumericQuestion)]
    intro = [f"📝 **Review · {lesson.title}**"]
    for question in recall:
        intro.append(f"\n*{question.prompt}*\n✔️ {questions.answer_text(question)}")
    asked = [q for q in due if not isinstance(q, NumericQuestion)]
    if not asked:
        return [Message("\n".join(intro), _done())]
    return [Message("\n".join(intro)), _ask(lesson, asked[0])]


def answer(turn: Turn, lesson_id: str, question_id: str, given: str) -> list[Message]:
    """Mark a review answer (no XP), then the next missed question or the end."""
    lesson = turn.latest(lesson_id)
    question = (
        None if lesson is None else next((q for q in lesson.quiz.questions if q.id == question_id), None)
    )
    if lesson is None or question is None:
        return [Message("↩️ That question is no longer in the lesson.", _done())]
    right = questions.grade(question, given)
    verdict = "✅ Right!" if right else f"❌ Not quite. The answer is {questions.answer_text(question)}."
    feedback = f"{verdict}\n\n{question.explanation}".strip()
    order = [q.id for q in lesson.quiz.questions]
    later = [
        q
        for q in missed(turn, lesson)
        if order.index(q.id) > order.index(question.id) and not isinstance(q, NumericQuestion)
    ]
    if later:
        following = _ask(lesson, later[0])
        *before, last = message.after_feedback(feedback, following.text)
        return [*(Message(text) for text in before), Message(last, following.buttons)]
    *before, last = message.after_feedback(feedback, "Review done. Every review keeps your streak going. 🔥")
    return [*(Message(text) for text in before), Message(last, _done())]


def _ask(lesson: Lesson, question: Question) -> Message:
    text = message.review_text(lesson.title, question)
    if isinstance(question, MultipleChoiceQuestion):
        buttons = [
            Button(f"{i + 1}. {o}"[:60], encode(ReviewAnswer(lesson.id, question.id, str(i))))
            for i, o in enumerate(question.options)
        ]
        return Message(text, rows(buttons))
    assert isinstance(question, TrueFalseQuestion)
    pair = (
        Button("True", encode(ReviewAnswer(lesson.id, question.id, "t"))),
        Button("False", encode(ReviewAnswer(lesson.id, question.id, "f"))),
    )
    return Message(text, (pair,))


def _done() -> tuple[tuple[Button, ...], ...]:
    return ((Button("📚 Lessons", encode(ListPage(0))),),)
