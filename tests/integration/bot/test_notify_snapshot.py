"""notify reads in a read-only snapshot: a bot action in another process never waits for it (SQLite)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fiml_bot.storage import open_storage
from fiml_bot.storage.migrations_api import upgrade
from fiml_bot.tutor.engine import STORAGE_DOWN
from fiml_bot.tutor.events import Help
from testing.repo import PROJECT
from testing.seeding import seed_learners
from testing.tutor_driver import make_tutor

MARKET = "what_is_a_market"
HOLD = 4.0  # seconds the reader keeps its snapshot open mid-read

READER = textwrap.dedent(
    """
    import sys, time
    from fiml_bot.storage import open_storage
    with open_storage(sys.argv[1]) as storage, storage.snapshot() as snapshot:
        rows = snapshot.progress_on([sys.argv[2]], "telegram:")
        first = next(rows)
        print("reading", flush=True)
        time.sleep(float(sys.argv[3]))
        print(1 + sum(1 for _ in rows), flush=True)
    """
)


def test_a_bot_action_does_not_wait_for_a_report_reading_in_another_process(
    git_repo: Path, sqlite_url: str
) -> None:
    upgrade(sqlite_url)
    seed_learners(sqlite_url, 20_000, MARKET)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, sqlite_url, MARKET, str(HOLD)],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "reading"
        with open_storage(sqlite_url) as storage:
            tutor, _ = make_tutor(git_repo, storage)
            for n in range(20):
                replies = tutor.handle(f"telegram:{n}", Help(), event_key=f"telegram:{n}")
                assert replies and replies[0].text != STORAGE_DOWN
        assert reader.poll() is None  # still reading: every action ran while the snapshot was open
        out, err = reader.communicate(timeout=30)
    finally:
        if reader.poll() is None:
            reader.kill()
    assert reader.returncode == 0, err
    assert int(out.strip()) == 20_000  # every seeded learner, in one streamed query


BOTH = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)


@BOTH
def test_the_snapshot_reads_active_telegram_learners_in_one_query_and_writes_go_on(database_url: str) -> None:
    from sqlalchemy import update

    from fiml_bot.storage.facts import ProgressFact
    from fiml_bot.storage.models import LearnerRow

    upgrade(database_url)
    seed_learners(database_url, 3, "a_lesson", first_chat=10)
    seed_learners(database_url, 2, "b_lesson", first_chat=20)
    with open_storage(database_url) as storage:
        with storage.engine.begin() as connection:
            connection.execute(update(LearnerRow).where(LearnerRow.id == "telegram:11").values(active=False))
        with storage.snapshot() as snapshot:
            rows = snapshot.progress_on(["a_lesson", "nothing"], "telegram:")
            first = next(rows)
            with storage() as uow:  # a write commits while the snapshot is open mid-read
                uow.progress.mark_processed("telegram:99")
                uow.commit()
            facts = [first, *rows]
        assert facts == [
            ProgressFact(f"telegram:{n}", "a_lesson", "in_progress", "1.0.0", None, "1.0.0") for n in (10, 12)
        ]
        with storage.snapshot() as snapshot:
            assert list(snapshot.progress_on([], "telegram:")) == []


@BOTH
def test_a_read_only_unit_of_work_never_holds_up_a_write(database_url: str) -> None:
    upgrade(database_url)
    seed_learners(database_url, 2, "a_lesson")
    with open_storage(database_url, busy_timeout=2.0) as storage, storage.reader() as reader:
        assert len(reader.progress.learner_ids()) == 2
        with storage() as uow:  # would fail, "database is locked", after the busy timeout if it waited
            uow.progress.mark_processed("telegram:1")
            uow.commit()
        assert len(reader.progress.learner_ids()) == 2  # still its own consistent view
