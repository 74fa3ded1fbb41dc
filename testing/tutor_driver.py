"""A test driver for the tutor: send events, press buttons by label, answer quizzes correctly."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from fiml_bot.content import LessonContent
from fiml_bot.storage import MemoryStorage
from fiml_bot.tutor.engine import Tutor
from fiml_bot.tutor.events import Event, ListLessons, Pressed, Start, Text
from fiml_bot.tutor.messages import Button, Message
from fiml_bot.tutor.policy import PolicySettings
from fiml_cms.config import load_settings
from fiml_cms.document import parse_lesson
from fiml_cms.lesson import MultipleChoiceQuestion, NumericQuestion, TrueFalseQuestion
from testing.cli import cli
from testing.repo import commit_all, replace_in

MARKET = "what_is_a_market"


class Clock:
    def __init__(self, start: dt.datetime = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


def make_tutor(
    root: Path,
    storage: object | None = None,
    policy: PolicySettings = PolicySettings(),
    *,
    preview: bool = False,
) -> tuple[Tutor, LessonContent]:
    """A tutor on the memory store (or `storage`) with a stepping clock; `preview`: serve the lessons
    folder as it is (uncommitted edits included), not only published versions."""
    content = LessonContent.open(root, load_settings(root), preview=preview)
    return Tutor(content, storage or MemoryStorage(), policy=policy, clock=Clock()), content  # type: ignore[arg-type]


@dataclass
class Learner:
    tutor: Tutor
    id: str = "test:1"
    last: list[Message] = field(default_factory=list)

    def send(self, event: Event, key: str | None = None) -> list[Message]:
        self.last = self.tutor.handle(self.id, event, event_key=key, name="Ada")
        for message in self.last:
            assert message.text.strip()
            for button in message.all_buttons:
                assert len(button.data.encode()) <= 64
        return self.last

    @property
    def text(self) -> str:
        return "\n\n".join(m.text for m in self.last)

    def button(self, label: str) -> Button:
        for message in reversed(self.last):
            for button in message.all_buttons:
                if label in button.label:
                    return button
        raise AssertionError(f"no button {label!r} in {[b.label for m in self.last for b in m.all_buttons]}")

    def press(self, label: str) -> list[Message]:
        return self.send(Pressed(self.button(label).data))

    def read_to_quiz(self) -> None:
        for _ in range(60):
            labels = [b.label for m in self.last for b in m.all_buttons]
            if any("Start the quiz" in label for label in labels):
                self.press("Start the quiz")
                return
            self.press("Next")
        raise AssertionError("the lesson never reached its quiz")

    def answer_current(self, correct: bool = True) -> list[Message]:
        """Answer the question on screen (from the lesson the tutor serves), rightly or wrongly."""
        store = self.tutor.content
        progress = next(p for p in _all_progress(self.tutor, self.id) if p.status == "quiz")
        lesson = store.get(progress.lesson_id, progress.pinned_version)
        answered = {a.question_id for a in progress.answers}
        question = next(q for q in lesson.quiz.questions if q.id not in answered)
        if isinstance(question, MultipleChoiceQuestion):
            index = question.answer if correct else (question.answer + 1) % len(question.options)
            return self.press(f"{index + 1}. ")
        if isinstance(question, TrueFalseQuestion):
            return self.press("True" if question.answer == correct else "False")
        assert isinstance(question, NumericQuestion)
        value = question.answer if correct else question.answer + question.tolerance + 1000
        return self.send(Text(f"{value:g}"))


def _all_progress(tutor: Tutor, learner_id: str):
    with tutor.unit_of_work() as uow:
        return uow.progress.all_progress(learner_id)


def progress_of(tutor: Tutor, learner_id: str, lesson_id: str):
    with tutor.unit_of_work() as uow:
        return uow.progress.progress(learner_id, lesson_id)


def xp_of(tutor: Tutor, learner_id: str) -> int:
    with tutor.unit_of_work() as uow:
        return uow.progress.xp_total(learner_id)


def ledger_of(tutor: Tutor, learner_id: str):
    with tutor.unit_of_work() as uow:
        return uow.progress.xp_awards(learner_id)


# -- published versions and a learner part-way through a lesson --------------------------------------


def lesson_file(root: Path, lesson_id: str = MARKET) -> Path:
    return root / "content/lessons" / f"{lesson_id}.yaml"


def release(root: Path, lesson_id: str, level: str, message: str, *edits: tuple[str, str]) -> str:
    """Edit, commit, then `fiml-cms bump LEVEL --commit --tag`: a real published version."""
    for old, new in edits:
        replace_in(lesson_file(root, lesson_id), old, new)
    if edits:
        commit_all(root, f"edit {lesson_id}")
    result = cli("bump", lesson_id, level, "-m", message, "--commit", "--tag", "--force")
    assert result.exit_code == 0, result.output
    return parse_lesson(lesson_file(root, lesson_id).read_bytes(), "x").version


def learner_mid_lesson(repo: Path, steps: int = 1):
    tutor, content = make_tutor(repo)
    ada = Learner(tutor)
    ada.send(Start())
    ada.send(ListLessons())
    ada.press("What Is a Market?")
    for _ in range(steps):
        ada.press("Next")
    return tutor, content, ada
