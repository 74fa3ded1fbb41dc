"""A learner with a bit of everything in a progress store, for the progress-document tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fiml_bot.documents import export_learner
from fiml_bot.storage import MemoryStorage
from fiml_bot.tutor.model import BadgeAward, Completion, Learner, LessonProgress, QuizAnswer, XpAward

MARKET = "what_is_a_market"
ADA = "telegram:1"


def at(day: int, hour: int = 9, minute: int = 0, micro: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, 0, micro, tzinfo=dt.UTC)


def seed(units: Callable[[], Any], learner_id: str = ADA) -> None:
    """A learner with a bit of everything: a completed lesson retaken, one mid-quiz, a used freeze."""
    with units() as uow:
        repo = uow.progress
        repo.save_learner(
            Learner(
                learner_id,
                name="Ada",
                time_zone="Europe/Berlin",
                streak_days=4,
                last_active_day=dt.date(2026, 3, 5),
                freeze_available=False,
                freeze_used_on=dt.date(2026, 3, 3),
                created_at=at(1, micro=123456),
            )
        )
        repo.save_progress(
            LessonProgress(
                learner_id,
                MARKET,
                "1.1.0",
                "in_progress",
                "orders",
                ("intro",),
                (),
                2,
                at(5, 8),
                at(5, 8, 5),
                completed_version="1.0.0",
                completed_at=at(2, 10),
                seen_version="1.1.0",
            )
        )
        repo.save_progress(
            LessonProgress(
                learner_id,
                "reading_stock_prices",
                "1.0.0",
                "quiz",
                None,
                ("intro", "quote"),
                (QuizAnswer("q1", "2", True, "1.0.0"), QuizAnswer("q2", "false", False, "1.0.0")),
                1,
                at(4),
                at(4, 9, 30),
                pending_choice="2.0.0",
            )
        )
        repo.add_completion(Completion(learner_id, MARKET, "1.0.0", 1, 3, 4, 50, at(2, 10)))
        repo.add_completion(Completion(learner_id, MARKET, "1.0.0", 2, 4, 4, 0, at(3, 11, micro=5)))
        repo.award_xp(
            XpAward(learner_id, 10, "correct answer", f"answer:{MARKET}:q1", MARKET, "1.0.0", at(2, 9, 58))
        )
        repo.award_xp(
            XpAward(learner_id, 50, "lesson completed", f"lesson:{MARKET}", MARKET, "1.0.0", at(2, 10))
        )
        repo.award_xp(
            XpAward(
                learner_id,
                10,
                "correct answer",
                "answer:reading_stock_prices:q1",
                "reading_stock_prices",
                "1.0.0",
                at(4, 9, 10),
            )
        )
        repo.award_xp(XpAward(learner_id, 7, "a manual credit", "support:ticket-7", None, None, at(4, 12)))
        repo.award_badge(BadgeAward(learner_id, "first_steps", at(2, 10)))
        repo.award_badge(BadgeAward(learner_id, "path_complete:foundations", at(3, 11)))
        uow.commit()


def seed_document() -> dict[str, Any]:
    source = MemoryStorage()
    seed(source)
    return export_learner(source, ADA)
