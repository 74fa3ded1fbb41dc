"""Moving through a lesson: beginning it, showing the current section or question, restarting it."""

from __future__ import annotations

from dataclasses import replace

from fiml_cms import message
from fiml_cms.lesson import Lesson

from . import finishing, listing, questions, render
from .callbacks import SECTION, Next, Open, encode
from .messages import Button, Message, rows
from .model import COMPLETED, IN_PROGRESS, QUIZ, LessonProgress
from .screens import HOME
from .turn import Turn


def begin(turn: Turn, latest: Lesson) -> list[Message]:
    """A first attempt at `latest`, unless it is retired or its prerequisites are not done yet."""
    if latest.retired:
        return [Message(f"“{latest.title}” has been retired and takes no new learners.", HOME)]
    missing = listing.missing_prerequisites(turn, latest)
    if missing:
        titles = [(m, turn.latest(m)) for m in missing]
        names = [t.title if t else m for m, t in titles]
        text = f"“{latest.title}” builds on {_join(names)}. Finish {'that' if len(missing) == 1 else 'those'} first:"
        return [
            Message(
                text,
                rows([Button(t.title[:60], encode(Open(m))) for m, t in titles if t]) or HOME,
            )
        ]
    progress = LessonProgress(
        turn.learner_id,
        latest.id,
        latest.version,
        IN_PROGRESS,
        latest.sections[0].id,
        (),
        (),
        1,
        turn.now,
        turn.now,
        seen_version=latest.version,
    )
    progress = turn.repo.save_progress(progress)
    turn.events.starts.append((latest.id, latest.version))
    return show_step(turn, progress)


def show_step(turn: Turn, progress: LessonProgress) -> list[Message]:
    """Where the learner is: the current section, the next unanswered question, or the result."""
    lesson = turn.pinned(progress)
    if progress.status == QUIZ:
        question = questions.next_question(lesson, progress)
        if question is None:
            return finishing.finish(turn, progress, lesson)
        return [questions.question_message(lesson, question)]
    section = next((s for s in lesson.sections if s.id == progress.current_section), lesson.sections[0])
    number = [s.id for s in lesson.sections].index(section.id) + 1
    last = number == len(lesson.sections)
    label = "📝 Start the quiz" if last else "Next ▶"
    text = message.section_text(lesson.title, number, len(lesson.sections), section)
    next_button = Button(label, encode(Next(lesson.id, lesson.version, section.id)))
    buttons = ((next_button,), (questions.report_button(lesson, SECTION, section.id),))
    return [Message(text, buttons, live=render.live_data(section, lesson, number))]


def restart(turn: Turn, progress: LessonProgress, latest: Lesson) -> LessonProgress:
    """A new attempt from the first section of `latest`; completions and XP live elsewhere, untouched."""
    if progress.status != COMPLETED:
        turn.events.abandons.append((progress.lesson_id, progress.pinned_version))
    turn.events.starts.append((latest.id, latest.version))
    return replace(
        progress,
        pinned_version=latest.version,
        status=IN_PROGRESS,
        current_section=latest.sections[0].id,
        sections_done=(),
        answers=(),
        attempt=progress.attempt + 1,
        started_at=turn.now,
        updated_at=turn.now,
        seen_version=latest.version,
        pending_choice=None,
    )


def _join(names: list[str]) -> str:
    quoted = [f"“{n}”" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
