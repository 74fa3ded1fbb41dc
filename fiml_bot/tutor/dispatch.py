"""The dispatch table: what each event and each button does, in one place.

Adding a button: its dataclass in `callbacks` (a new wire letter) and one `case` here that calls
its handler. A lesson button's key is resolved to a lesson id once, before its own table.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from . import (
    callbacks,
    gamification,
    lessons,
    listing,
    notices,
    quiz,
    reconcile,
    reporting,
    review,
    screens,
    settings,
)
from .callbacks import (
    Answer,
    Choose,
    LessonButton,
    ListPage,
    Next,
    Open,
    ReportProblem,
    Retake,
    ReviewAnswer,
    ShowHelp,
    ShowProgress,
    StartReview,
    ToggleMessages,
    ViewUpdates,
)
from .events import (
    Command,
    Event,
    Help,
    ListLessons,
    Pressed,
    Progress,
    SetTimeZone,
    Settings,
    Start,
    Text,
)
from .messages import Message
from .model import Learner
from .observe import USER_ERROR
from .screens import HOME, help_message
from .turn import Turn

log = logging.getLogger("fiml_bot.tutor")


def run(turn: Turn, event: Event) -> list[Message]:
    """The learner's activity and housekeeping first, then the event; notes go above the reply."""
    turn.learner = _touch_learner(turn)
    reconcile.reconcile_records(turn)
    notices.deliver_due(turn)
    out = _event(turn, event)  # first: it may add notes (an update notice) that go above it
    return [*turn.notes, *out]


def _event(turn: Turn, event: Event) -> list[Message]:
    match event:
        case Text(text):
            pending = reporting.pending_for_text(turn)
            if pending is not None:  # the bot asked for a report's words: this is them
                return reporting.words_typed(turn, pending, text)
            return quiz.typed_answer(turn, text)
        case Command("report", argument):
            return reporting.command(turn, argument)
        case Command("cancel"):
            return reporting.cancel(turn)
        case Pressed(data) if isinstance(callbacks.decode(data), ReportProblem):
            return _pressed(turn, data)
    reporting.abandon_pending(turn)  # anything else than the words abandons a report waiting for them
    match event:
        case Start():
            return screens.start(turn)
        case Help():
            return [help_message()]
        case ListLessons(page, path_id):
            return listing.lessons_page(turn, page, path_id)
        case Progress():
            return screens.progress_screen(turn)
        case SetTimeZone(zone):
            return screens.set_time_zone(turn, zone)
        case Settings():
            return settings.settings_screen(turn)
        case Pressed(data):
            return _pressed(turn, data)
        case Command(name):
            turn.events.outcome = USER_ERROR
            return [help_message(f"I don't know the command /{name}.")]
    return [help_message()]  # pragma: no cover - the Event union is closed


def _pressed(turn: Turn, data: str) -> list[Message]:
    callback = callbacks.decode(data)
    match callback:
        case None:
            log.warning("unknown or forged button data %r from %s", data, turn.learner_id)
            turn.events.outcome = USER_ERROR
            return [Message("That button is no longer valid. Here is where you can go from here:", HOME)]
        case ShowHelp():
            return [help_message()]
        case ShowProgress():
            return screens.progress_screen(turn)
        case ToggleMessages(kind):
            return settings.toggle(turn, kind)
        case ListPage(page, path_id):
            return listing.lessons_page(turn, page, path_id)
        case LessonButton(key):
            lesson_id = turn.resolve_pressed(key)
            if lesson_id is None:
                log.warning("button for unknown lesson %r from %s", key, turn.learner_id)
                return [
                    Message("That lesson is no longer available. Here are the current ones:"),
                    *listing.lessons_page(turn, 0),
                ]
            return _lesson_button(turn, callback, lesson_id)
    return [help_message()]  # pragma: no cover - every kind of callback is matched above


def _lesson_button(turn: Turn, button: LessonButton, lesson_id: str) -> list[Message]:
    match button:
        case Open():
            return lessons.open_lesson(turn, lesson_id)
        case Next(_, version, section):
            return lessons.next_section(turn, lesson_id, version, section)
        case Answer(_, version, question, given):
            return quiz.answer(turn, lesson_id, version, question, given)
        case Choose(_, offered, choice):
            return lessons.choose(turn, lesson_id, offered, choice)
        case ViewUpdates():
            return lessons.view_updates(turn, lesson_id)
        case Retake():
            return lessons.retake(turn, lesson_id)
        case ReportProblem(_, version, place, key):
            return reporting.pressed(turn, lesson_id, version, place, key)
        case StartReview():
            return review.start(turn, lesson_id)
        case ReviewAnswer(_, question, given):
            return review.answer(turn, lesson_id, question, given)
    return [help_message()]  # pragma: no cover - every lesson button is matched above


def storable_name(name: str) -> str:
    """`name` without what no database stores: a platform's display name is anyone's text (a NUL
    breaks PostgreSQL's text type, a lone surrogate breaks UTF-8), and it is never worth refusing
    the learner's action over."""
    return "".join(ch for ch in name if ch != "\x00" and not "\ud800" <= ch <= "\udfff").strip()


def _touch_learner(turn: Turn) -> Learner:
    """The learner's record, created on first contact; activity (streak) and name kept current."""
    name = storable_name(turn.name)
    learner = turn.repo.learner(turn.learner_id)
    if learner is None:
        learner = Learner(turn.learner_id, name=name, created_at=turn.now)
    updated = gamification.record_activity(learner, turn.now)
    if not updated.active:  # they wrote to us again, so they no longer block the bot
        updated = replace(updated, active=True)
    if name and not updated.name:
        updated = replace(updated, name=name)
    if updated != learner or learner.revision == 0:
        updated = turn.repo.save_learner(updated)
    return updated
