"""Many learners in a database at once (bulk inserts), for the notify tests and benchmarks."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert

from fiml_bot.storage.database import make_engine
from fiml_bot.storage.models import LearnerRow, LessonProgressRow

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def seed_learners(
    url: str,
    count: int,
    lesson_id: str,
    version: str = "1.0.0",
    first_chat: int = 1_000_000,
    batch: int = 10_000,
) -> list[str]:
    """`count` active Telegram learners, each in progress on `lesson_id` at `version`; their ids."""
    ids = [f"telegram:{first_chat + n}" for n in range(count)]
    engine = make_engine(url)
    try:
        for start in range(0, count, batch):
            chunk = ids[start : start + batch]
            with engine.begin() as connection:
                connection.execute(
                    insert(LearnerRow),
                    [
                        {
                            "id": i,
                            "name": "",
                            "time_zone": "UTC",
                            "active": True,
                            "streak_days": 1,
                            "last_active_day": NOW.date(),
                            "freeze_available": True,
                            "freeze_used_on": None,
                            "created_at": NOW,
                            "revision": 1,
                        }
                        for i in chunk
                    ],
                )
                connection.execute(
                    insert(LessonProgressRow),
                    [
                        {
                            "learner_id": i,
                            "lesson_id": lesson_id,
                            "pinned_version": version,
                            "status": "in_progress",
                            "current_section": None,
                            "sections_done": [],
                            "answers": [],
                            "attempt": 1,
                            "started_at": NOW,
                            "updated_at": NOW,
                            "completed_version": None,
                            "completed_at": None,
                            "seen_version": version,
                            "pending_choice": None,
                            "revision": 1,
                        }
                        for i in chunk
                    ],
                )
    finally:
        engine.dispose()
    return ids
