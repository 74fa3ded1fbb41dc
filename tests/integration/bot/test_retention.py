"""processed_events is pruned past a window longer than Telegram's 24 h redelivery horizon, and stays bounded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from fiml_bot import retention
from fiml_bot.storage import open_storage
from fiml_bot.storage.migrations_api import upgrade
from fiml_bot.tutor.engine import Tutor
from fiml_bot.tutor.events import Help, Start
from fiml_cms.errors import ConfigError
from testing.tutor_driver import make_tutor

BOTH = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
HOUR = dt.timedelta(hours=1)


def test_the_retention_setting() -> None:
    assert retention.event_retention({}) == dt.timedelta(hours=48)
    assert retention.event_retention({"FIML_EVENT_RETENTION_HOURS": "72"}) == dt.timedelta(hours=72)
    for bad in ("24", "1", "-5", "soon", "nan"):
        with pytest.raises(ConfigError, match="FIML_EVENT_RETENTION_HOURS"):
            retention.event_retention({"FIML_EVENT_RETENTION_HOURS": bad})


def count(storage) -> int:
    from sqlalchemy import text

    with storage.engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM processed_events")).scalar_one()


@BOTH
def test_an_update_stays_at_most_once_inside_the_window_and_is_forgotten_after(
    git_repo: Path, database_url: str
) -> None:
    upgrade(database_url)
    with open_storage(database_url) as storage:
        tutor, _ = make_tutor(git_repo, storage)
        assert tutor.handle("telegram:1", Start(), event_key="telegram:1001")
        with storage() as uow:  # a notice recorded by `notify`: never pruned
            uow.progress.mark_processed("notify:telegram:1:lesson:1.1.0")
            uow.commit()
        now = dt.datetime.now(dt.UTC)
        window = retention.DEFAULT_RETENTION

        assert retention.prune_old_updates(storage, window, now + window - HOUR) == 0
        assert (
            tutor.handle("telegram:1", Start(), event_key="telegram:1001") == []
        )  # redelivered: still ignored

        assert retention.prune_old_updates(storage, window, now + window + HOUR) == 1
        assert count(storage) == 1  # the notice key is kept
        with storage() as uow:
            assert not uow.progress.mark_processed("notify:telegram:1:lesson:1.1.0")


def test_processed_events_stay_bounded_over_a_long_simulation(
    git_repo: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ten simulated days of updates, pruned every hour as `fiml-bot run` does: the table holds about
    one window of updates, never more, and never forgets one inside the window."""
    from fiml_bot.storage import repository

    clock = {"now": dt.datetime(2026, 3, 1, tzinfo=dt.UTC)}
    monkeypatch.setattr(repository, "utc_now", lambda: clock["now"])
    upgrade(sqlite_url)
    window = dt.timedelta(hours=30)
    per_hour = 3
    with open_storage(sqlite_url) as storage:
        tutor: Tutor = make_tutor(git_repo, storage)[0]
        update_id, sizes = 0, []
        for _hour in range(10 * 24):
            for _ in range(per_hour):
                update_id += 1
                clock["now"] += dt.timedelta(minutes=60 / per_hour)
                assert tutor.handle(f"telegram:{update_id % 7}", Help(), event_key=f"telegram:{update_id}")
            retention.prune_old_updates(storage, window, clock["now"])
            sizes.append(count(storage))
            # the oldest update still inside the window is still known: a redelivery is ignored
            inside = update_id - int(window / HOUR) * per_hour + per_hour
            if inside >= 1:
                assert tutor.handle(f"telegram:{inside % 7}", Help(), event_key=f"telegram:{inside}") == []
        assert update_id == 720
        assert max(sizes) <= (int(window / HOUR) + 1) * per_hour
        assert sizes[-1] >= int(window / HOUR) * per_hour - per_hour
