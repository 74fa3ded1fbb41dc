"""Answering a quiz question, by button or by typing a number."""

from __future__ import annotations

from dataclasses import replace

from fiml_cms import message
from fiml_cms.lesson import NumericQuestion

from . import gamification, lessons, migration, questions, reconcile, screens, stepping
from .messages import Message
from .model import QUIZ, QuizAnswer, StoredAnswer
from .observe import USER_ERROR
from .turn import Turn, same_key


def answer(turn: Turn, lesson_id: str, version: str, question_key: str, given: str) -> list[Message]:
    """Mark an answer once, pay its XP once, and show the feedback above what comes next."""
    progress = turn.repo.progress(turn.learner_id, lesson_id)
    if progress is None:
        return lessons.open_lesson(turn, lesson_id)
    if progress.status != QUIZ:
        return [
            Message("↩️ That question is from an earlier message. Here is where you are:"),
            *stepping.show_step(turn, progress),
        ]
    asked = turn.lesson_at(lesson_id, version) or turn.pinned(progress)
    question = next((q for q in asked.quiz.questions if same_key(question_key, q.id)), None)
    if question is None:
        return [
            Message("↩️ That question is no longer in this lesson. Here is where you are:"),
            *stepping.show_step(turn, progress),
        ]
    if any(a.question_id == question.id for a in progress.answers):
        return [
            Message("You already answered that one. Here is where you are:"),
            *stepping.show_step(turn, progress),
        ]
    reconciled = migration.apply_policy(turn, progress)
    if isinstance(reconciled, list):
        return reconciled
    progress = reconciled
    correct = questions.grade(question, given)
    if correct is None:
        turn.events.outcome = USER_ERROR
        return [
            Message("Please answer with a number, like 12.5"),
            questions.question_message(turn.pinned(progress), question),
        ]
    answer = QuizAnswer(question.id, given, correct, asked.version)
    turn.events.answers.append((lesson_id, asked.version, correct))
    progress = turn.repo.save_progress(
        replace(progress, answers=progress.answers + (answer,), updated_at=turn.now)
    )
    turn.repo.record_answer(
        StoredAnswer(
            turn.learner_id, lesson_id, progress.attempt, question.id, asked.version, given, correct, turn.now
        )
    )
    earned = 0
    if correct and not reconcile.answer_paid_under_former_ids(turn, lesson_id, question.id):
        award = gamification.answer_award(
            turn.learner_id, lesson_id, asked.version, question.id, question.xp, turn.now
        )
        if award is not None and turn.repo.award_xp(award):
            earned = award.amount
    verdict = (
        f"✅ Correct!{f' +{earned} XP' if earned else ''}"
        if correct
        else f"❌ Not quite. The answer is {questions.answer_text(question)}."
    )
    feedback = f"{verdict}\n\n{question.explanation}"
    following = stepping.show_step(turn, progress)
    if following and not following[0].replace:  # one message: the feedback above what comes next
        first = following[0]
        *before, last = message.after_feedback(feedback, first.text)
        return [*(Message(text) for text in before), Message(last, first.buttons), *following[1:]]
    return [Message(feedback), *following]


def typed_answer(turn: Turn, text: str) -> list[Message]:
    """Free text answers the question the learner was asked most recently, if any: a number at a
    numeric question; at a choice question an option's text, else the question again with its buttons."""
    waiting = [p for p in turn.repo.all_progress(turn.learner_id) if p.status == QUIZ]
    for progress in sorted(waiting, key=lambda p: p.updated_at or turn.now, reverse=True):
        lesson = turn.pinned(progress)
        question = questions.next_question(lesson, progress)
        if question is None:
            continue
        if isinstance(question, NumericQuestion):
            return answer(turn, lesson.id, lesson.version, question.id, text.strip())
        given = questions.typed_choice(question, text)
        if given is not None:
            return answer(turn, lesson.id, lesson.version, question.id, given)
        # Not an option: the question again, as any action on the lesson would show it (after §5's
        # policy, which may have moved or restarted the learner since the question was asked).
        reconciled = migration.apply_policy(turn, progress)
        if isinstance(reconciled, list):
            return reconciled
        lesson = turn.pinned(reconciled)
        question = questions.next_question(lesson, reconciled) or question
        turn.events.outcome = USER_ERROR
        return [
            Message("Please pick one of the answers below (tap it, or type its text)."),
            questions.question_message(lesson, question),
        ]
    turn.events.outcome = USER_ERROR
    return [screens.help_message("I didn't understand that. Use the buttons, or one of these commands:")]
