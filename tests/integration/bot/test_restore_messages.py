"""A restore keeps 0009's records written after the snapshot (issue 26): answers, a learner's latest
/settings choice, and messages sent since stay sent (nobody gets one twice)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from fiml_bot.ops import restore, snapshots
from fiml_bot.storage import migrations_api
from fiml_bot.storage.unit_of_work import open_storage
from fiml_bot.tutor.model import Learner, MessageSettings, Notice, StoredAnswer

BOTH = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


@BOTH
def test_restore_keeps_settings_answers_and_sent_messages(database_url: str, tmp_path: Path) -> None:
    migrations_api.upgrade(database_url)
    with open_storage(database_url) as storage, storage() as uow:
        uow.progress.save_learner(Learner("telegram:1", created_at=NOW))
        uow.progress.schedule(Notice("telegram:1", "reminder:2026-12-07", "reminder", "streak", NOW))
        uow.commit()
    manifest = snapshots.take(database_url, folder=tmp_path)
    with open_storage(database_url) as storage, storage() as uow:  # after the snapshot
        uow.progress.mark_sent("telegram:1", "reminder:2026-12-07", NOW)
        uow.progress.save_message_settings("telegram:1", MessageSettings(reminders=False), NOW)
        uow.progress.record_answer(StoredAnswer("telegram:1", "market", 1, "q1", "1.0.0", "f", False, NOW))
        uow.commit()

    report = restore.restore(database_url, manifest.path, folder=tmp_path)

    assert report.merged["scheduled_messages"] == 1 and report.merged["learner_settings"] == 1
    with open_storage(database_url) as storage, storage() as uow:
        assert uow.progress.due_notices("telegram:1", NOW + dt.timedelta(hours=1)) == []  # sent stays sent
        assert uow.progress.opted_out("reminders") == {"telegram:1"}
        assert [a.question_id for a in uow.progress.lesson_answers("market")] == ["q1"]
