"""0009's records on every store (memory, SQLite, PostgreSQL): quiz answers kept per attempt, and scheduled
messages delivered once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fiml_bot.tutor.model import Learner, Notice, StoredAnswer

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def answer(learner_id: str, attempt: int, question: str, correct: bool = False) -> StoredAnswer:
    return StoredAnswer(learner_id, "market", attempt, question, "1.0.0", "f", correct, NOW)


def with_learners(storage: Callable[[], Any], *ids: str) -> None:
    with storage() as uow:
        for learner_id in ids:
            uow.progress.save_learner(Learner(learner_id, created_at=NOW))
        uow.commit()


def test_answers_are_kept_per_attempt_once(storage: Callable[[], Any]) -> None:
    with_learners(storage, "t:1", "t:2")
    with storage() as uow:
        assert uow.progress.record_answer(answer("t:1", 1, "q1"))
        assert not uow.progress.record_answer(answer("t:1", 1, "q1", correct=True))  # that attempt's, once
        assert uow.progress.record_answer(answer("t:1", 2, "q1", correct=True))
        assert uow.progress.record_answer(answer("t:2", 1, "q2"))
        uow.commit()
    with storage() as uow:
        assert not uow.progress.record_answer(answer("t:2", 1, "q2"))
        found = uow.progress.lesson_answers("market")
        assert [(a.learner_id, a.attempt, a.question_id, a.correct) for a in found] == [
            ("t:1", 1, "q1", False),
            ("t:1", 2, "q1", True),
            ("t:2", 1, "q2", False),
        ]
        assert found[0].answered_at == NOW and uow.progress.lesson_answers("other") == []


def test_a_scheduled_message_is_due_once_and_sent_once(storage: Callable[[], Any]) -> None:
    with_learners(storage, "t:1")
    later = NOW + dt.timedelta(hours=1)
    with storage() as uow:
        assert uow.progress.schedule(Notice("t:1", "rescore:market@1.1.0", "rescore", "fixed", NOW))
        assert uow.progress.schedule(Notice("t:1", "later", "rescore", "later", later))
        assert not uow.progress.schedule(Notice("t:1", "rescore:market@1.1.0", "rescore", "again", NOW))
        uow.commit()
    with storage() as uow:
        due = uow.progress.due_notices("t:1", NOW)
        assert [(n.key, n.text, n.sent_at) for n in due] == [("rescore:market@1.1.0", "fixed", None)]
        assert uow.progress.mark_sent("t:1", "rescore:market@1.1.0", NOW)
        assert not uow.progress.mark_sent("t:1", "rescore:market@1.1.0", NOW)
        assert [n.key for n in uow.progress.due_notices("t:1", later)] == ["later"]
        uow.commit()
    with storage() as uow:
        assert not uow.progress.mark_sent(
            "t:1", "rescore:market@1.1.0", later
        )  # another replica: already sent
        assert uow.progress.due_notices("t:1", NOW) == []


def test_many_messages_are_scheduled_at_once_and_found_due_everywhere(storage: Callable[[], Any]) -> None:
    with_learners(storage, "t:1", "t:2")
    later = NOW + dt.timedelta(hours=2)
    batch = [
        Notice("t:1", "reminder:2026-12-07", "reminder", "streak", NOW),
        Notice("t:2", "reminder:2026-12-07", "reminder", "streak", later),
        Notice("t:2", "other", "announcement", "news", NOW),
    ]
    with storage() as uow:
        uow.progress.schedule_many(batch)
        uow.progress.schedule_many(batch[:1])  # again: left as it is
        uow.commit()
    with storage() as uow:
        due = uow.progress.due_everywhere(NOW, ("reminder",), 10)
        assert [(n.learner_id, n.key, n.due_at) for n in due] == [("t:1", "reminder:2026-12-07", NOW)]
        assert len(uow.progress.due_everywhere(later, ("reminder", "announcement"), 10)) == 3
        assert len(uow.progress.due_everywhere(later, ("reminder",), 1)) == 1
