"""Learner reports: "something is wrong here" about a section or a question, in the learner's words.

A report starts from the "⚠️ Report a problem" button under a section or question, or from `/report`
(about where the learner is now). `/report <words>` files it at once; otherwise the bot asks for the
words and stores a pending report: the learner's next typed message is its words, `/cancel` drops
it, and any other action abandons it (so a later typed answer is never taken for a report). A filed
report names the lesson, the version, the section or question, and the words; `fiml-cms reports`
lists them for authors, and the metric `fiml_learner_reports_total{lesson,version}` counts them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from fiml_cms.lesson import Lesson

from . import questions, stepping
from .callbacks import QUESTION, SECTION
from .messages import Message
from .model import COMPLETED, QUIZ, LearnerReport, LessonProgress
from .observe import USER_ERROR
from .screens import HOME
from .turn import Turn, same_key

MAX_WORDS = 1000  # characters: a paragraph is plenty, and a bounded row keeps the table small
PENDING_FOR = dt.timedelta(hours=1)  # a pending report older than this no longer captures text


def pressed(turn: Turn, lesson_id: str, version: str, place: str, key: str) -> list[Message]:
    """The button: the section or question it was shown under, then ask for the words."""
    lesson = turn.lesson_at(lesson_id, version)
    if lesson is None:
        return _nothing_to_report(turn)
    section_id = question_id = None
    if place == SECTION:
        section_id = next((s.id for s in lesson.sections if same_key(key, s.id)), None)
    elif place == QUESTION:
        question_id = next((q.id for q in lesson.quiz.questions if same_key(key, q.id)), None)
    if section_id is None and question_id is None:
        return _nothing_to_report(turn)
    return _ask(turn, lesson, section_id, question_id)


def command(turn: Turn, words: str) -> list[Message]:
    """`/report [words]`: about the section or question the learner is at now."""
    place = _where_now(turn)
    if place is None:
        return _nothing_to_report(turn)
    lesson, section_id, question_id = place
    if not words.strip():
        return _ask(turn, lesson, section_id, question_id)
    report = LearnerReport(
        turn.learner_id, lesson.id, lesson.version, section_id, question_id, None, turn.now
    )
    return _file(turn, report, words)


def cancel(turn: Turn) -> list[Message]:
    if turn.repo.pending_report(turn.learner_id) is None:
        return [Message("There is nothing to cancel.", HOME)]
    turn.repo.drop_pending_reports(turn.learner_id)
    return [Message("OK, I dropped that report.", HOME)]


def pending_for_text(turn: Turn) -> LearnerReport | None:
    """The report the learner's typed text completes, if the bot is waiting for one."""
    pending = turn.repo.pending_report(turn.learner_id)
    if pending is None or turn.now - pending.created_at > PENDING_FOR:
        return None
    return pending


def words_typed(turn: Turn, pending: LearnerReport, text: str) -> list[Message]:
    return _file(turn, pending, text)


def abandon_pending(turn: Turn) -> None:
    """Any other action than typing the words abandons a pending report."""
    turn.repo.drop_pending_reports(turn.learner_id)


def _ask(turn: Turn, lesson: Lesson, section_id: str | None, question_id: str | None) -> list[Message]:
    turn.repo.drop_pending_reports(turn.learner_id)
    turn.repo.add_report(
        LearnerReport(turn.learner_id, lesson.id, lesson.version, section_id, question_id, None, turn.now)
    )
    return [
        Message(
            f"What is wrong with {_describe(lesson, section_id, question_id)}? Write it in one message "
            f"(up to {MAX_WORDS} characters), or /cancel."
        )
    ]


def _file(turn: Turn, report: LearnerReport, text: str) -> list[Message]:
    words = " ".join(text.split())
    if not words:
        turn.events.outcome = USER_ERROR
        return [Message(f"Please write what is wrong (up to {MAX_WORDS} characters), or /cancel.")]
    if len(words) > MAX_WORDS:
        turn.events.outcome = USER_ERROR
        return [
            Message(
                f"That is {len(words)} characters; please keep it under {MAX_WORDS} "
                "and send it again, or /cancel."
            )
        ]
    turn.repo.drop_pending_reports(turn.learner_id)
    turn.repo.add_report(replace(report, words=words, created_at=turn.now))
    turn.events.reports.append((report.lesson_id, report.version))
    thanks = Message("🙏 Thanks! Your report went to the lesson's authors.")
    progress = turn.repo.progress(turn.learner_id, report.lesson_id)
    if progress is None or progress.status == COMPLETED:
        return [Message(thanks.text, HOME)]
    return [thanks, *stepping.show_step(turn, progress)]


def _where_now(turn: Turn) -> tuple[Lesson, str | None, str | None] | None:
    """The lesson the learner touched last, and the section or question they are at in it."""
    records = turn.repo.all_progress(turn.learner_id)
    if not records:
        return None
    progress = max(records, key=lambda p: (p.updated_at or p.started_at or turn.now, p.lesson_id))
    lesson = turn.pinned(progress)
    return lesson, *_place(lesson, progress)


def _place(lesson: Lesson, progress: LessonProgress) -> tuple[str | None, str | None]:
    if progress.status == QUIZ:
        question = questions.next_question(lesson, progress)
        if question is not None:
            return None, question.id
        return None, None
    if progress.status == COMPLETED:
        return None, None
    return progress.current_section or lesson.sections[0].id, None


def _describe(lesson: Lesson, section_id: str | None, question_id: str | None) -> str:
    if question_id is not None:
        number = [q.id for q in lesson.quiz.questions].index(question_id) + 1
        return f"question {number} of “{lesson.title}”"
    if section_id is not None:
        titles = {s.id: s.title for s in lesson.sections}
        return f"“{titles.get(section_id) or section_id}” in “{lesson.title}”"
    return f"“{lesson.title}”"


def _nothing_to_report(turn: Turn) -> list[Message]:
    turn.events.outcome = USER_ERROR
    return [
        Message(
            "Open a lesson first: /report is about the section or question you are at "
            "(or tap “Report a problem” under it).",
            HOME,
        )
    ]
