"""A writer in another process never starves a learner's action of SQLite's write lock (issue 26).

SQLite's busy handler looked at a taken lock after sleeps of up to 100 ms; a planner committing
batches back to back took the lock again before each look, and an action waited 139-832 ms. The
wait is now a loop that tries `BEGIN IMMEDIATE` every `LOCK_POLL`, and the planner leaves the lock
free between its batches. These tests check both without timing anything.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from fiml_bot.storage import migrations_api, open_storage
from fiml_bot.storage.database import LOCK_POLL
from fiml_bot.tutor.model import Learner


def sqlite_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def test_a_waiting_writer_tries_the_lock_every_poll_and_gets_it_once_it_is_free(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrations_api.upgrade(sqlite_url)
    naps: list[float] = []
    with open_storage(sqlite_url, busy_timeout=2) as storage:
        other = sqlite3.connect(sqlite_file(sqlite_url), isolation_level=None)  # another process's writer
        other.execute("BEGIN IMMEDIATE")

        def nap(seconds: float) -> None:
            naps.append(seconds)
            if len(naps) == 3:
                other.execute("COMMIT")

        try:
            monkeypatch.setattr(time, "sleep", nap)
            with storage() as uow:  # SQLite's own busy handler would sleep inside the driver: no naps
                uow.progress.save_learner(Learner(id="telegram:1"))
                uow.commit()
            monkeypatch.undo()
        finally:
            other.close()
        assert naps == [LOCK_POLL] * 3
        with storage.engine.connect() as connection:  # the busy timeout is back for other statements
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2_000
        with storage() as uow:
            assert uow.progress.learner_ids() == ["telegram:1"]
