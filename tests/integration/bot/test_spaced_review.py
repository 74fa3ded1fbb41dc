"""Spaced review (issue 26): the questions missed in a quiz come back after 1, 3 and 7 days, asked again,
marked but never paid, and answering keeps the streak; a learner can turn reviews off."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from fiml_bot import reminders
from fiml_bot.tutor.callbacks import encode
from fiml_bot.tutor.events import Pressed, Settings
from testing.cli import cli
from testing.tutor_driver import Learner, make_tutor, xp_of

MARKET = "what_is_a_market"


@pytest.fixture
def repo(market_published: Path) -> Path:
    return market_published


def fail_some(learner: Learner, wrong: set[int]) -> None:
    learner.send(Pressed(encode("o", MARKET)))
    learner.read_to_quiz()
    for n in range(1, 6):
        learner.answer_current(correct=n not in wrong)


def test_missed_questions_come_back_and_are_marked_without_pay(repo: Path) -> None:
    tutor, _ = make_tutor(repo)
    ada = Learner(tutor, "telegram:1")
    fail_some(ada, {2, 3})  # q2 (true/false) and q3 (choice) wrong; 3/5 passes
    assert "Lesson complete" in ada.text
    start = tutor.clock.now  # type: ignore[attr-defined]
    assert reminders.due(tutor.unit_of_work, start + dt.timedelta(hours=23)) == []
    due = reminders.due(tutor.unit_of_work, start + dt.timedelta(days=1, minutes=1))
    assert [item.notice.key for item in due] == [f"review:{MARKET}:1:1d"]
    message = due[0].message()
    assert "2 questions you missed 1 day ago" in message.text
    [[button]] = message.buttons
    assert button.label == "📝 Review now"
    later = reminders.due(tutor.unit_of_work, start + dt.timedelta(days=8))
    assert sorted(item.notice.key.rsplit(":", 1)[1] for item in later) == ["1d", "3d", "7d"]

    paid = xp_of(tutor, ada.id)
    tutor.clock.now = start + dt.timedelta(days=1, hours=2)  # type: ignore[attr-defined]
    ada.send(Pressed(button.data))
    assert "**Review · What Is a Market?**" in ada.text and "True" in [
        b.label for b in ada.last[-1].all_buttons
    ]
    ada.press("False")  # q2's answer is false
    assert "✅ Right!" in ada.text and "How does an individual investor" in ada.text
    ada.press("1. ")  # q3 wrong again
    assert "❌ Not quite. The answer is “Through a broker”" in ada.text and "Review done" in ada.text
    assert xp_of(tutor, ada.id) == paid  # reviews are never paid
    with tutor.unit_of_work() as uow:
        learner = uow.progress.learner(ada.id)
    assert learner.streak_days == 2  # the review was the day's activity


def test_a_learner_who_turned_reviews_off_gets_none(repo: Path) -> None:
    tutor, _ = make_tutor(repo)
    ada = Learner(tutor, "telegram:1")
    ada.send(Settings())
    ada.press("Turn off: reviews")
    fail_some(ada, {1, 2, 3})
    assert reminders.due(tutor.unit_of_work, tutor.clock.now + dt.timedelta(days=8)) == []  # type: ignore[attr-defined]


def test_a_review_with_nothing_left_to_review_says_so(repo: Path) -> None:
    tutor, _ = make_tutor(repo)
    ada = Learner(tutor, "telegram:1")
    ada.send(Pressed(encode("w", MARKET)))
    assert "Nothing to review" in ada.text
