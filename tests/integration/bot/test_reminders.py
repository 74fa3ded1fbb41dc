"""Streak reminders (issue 26): planned in the learner's time zone before their midnight, outside quiet
hours, once per day; sent by `fiml-bot remind` once across reruns, never to whoever studied since or
turned them off."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from fiml_bot import reminders
from fiml_bot.cli import app
from fiml_bot.storage import MemoryStorage, open_storage
from fiml_bot.tutor.model import Learner, MessageSettings
from fiml_bot.tutor.reminders import ReminderPolicy, parse_quiet_hours, reminder_for
from testing.cli import cli
from testing.fakebotapi import DEFAULT_TOKEN, FakeBotApi, FakeBotApiServer, RateLimits

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)  # 13:00 in Berlin, 07:00 in New York


def learner(
    zone: str = "Europe/Berlin", last: dt.date | None = dt.date(2026, 12, 6), streak: int = 4
) -> Learner:
    return Learner("telegram:1", time_zone=zone, streak_days=streak, last_active_day=last, created_at=NOW)


def test_a_reminder_comes_three_hours_before_local_midnight() -> None:
    notice = reminder_for(learner(), NOW)
    assert notice is not None and notice.key == "reminder:2026-12-07" and notice.kind == "reminder"
    assert notice.due_at == dt.datetime(2026, 12, 7, 20, 0, tzinfo=dt.UTC)  # 21:00 in Berlin
    assert "4-day streak" in notice.text
    new_york = reminder_for(learner("America/New_York"), NOW)
    assert new_york is not None and new_york.due_at == dt.datetime(2026, 12, 8, 2, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("who", "why"),
    [
        (learner(last=dt.date(2026, 12, 7)), "studied today"),
        (learner(streak=0), "no streak"),
        (learner(last=None, streak=0), "never studied"),
        (learner(last=dt.date(2026, 11, 1)), "the streak is already lost"),
    ],
)
def test_no_reminder_without_a_streak_at_risk(who: Learner, why: str) -> None:
    assert reminder_for(who, NOW) is None, why


def test_quiet_hours_move_a_reminder_before_them_or_drop_it() -> None:
    late = ReminderPolicy(dt.timedelta(hours=1), *parse_quiet_hours("22-8"))
    notice = reminder_for(learner(), NOW, late)  # 23:00 is quiet: 21:59 instead
    assert notice is not None and notice.due_at == dt.datetime(2026, 12, 7, 20, 59, tzinfo=dt.UTC)
    at_night = dt.datetime(2026, 12, 7, 22, 30, tzinfo=dt.UTC)  # 23:30 in Berlin: too late, and quiet
    assert reminder_for(learner(), at_night) is None
    evening = dt.datetime(2026, 12, 7, 20, 30, tzinfo=dt.UTC)  # 21:30 in Berlin: past 21:00, sent now
    notice = reminder_for(learner(), evening)
    assert notice is not None and notice.due_at == evening
    assert parse_quiet_hours("21:30-07:00") == (dt.time(21, 30), dt.time(7, 0))
    with pytest.raises(ValueError):
        parse_quiet_hours("late")


def test_planning_is_idempotent_and_respects_settings() -> None:
    store = MemoryStorage()
    with store() as uow:
        for n, zone in ((1, "Europe/Berlin"), (2, "Asia/Tokyo"), (3, "Europe/Berlin")):
            uow.progress.save_learner(
                Learner(f"telegram:{n}", time_zone=zone, streak_days=2, last_active_day=dt.date(2026, 12, 6))
            )
        uow.progress.save_learner(Learner("console:x", streak_days=2, last_active_day=dt.date(2026, 12, 6)))
        uow.progress.save_message_settings("telegram:3", MessageSettings(reminders=False), NOW)
        uow.commit()
    assert reminders.plan(store, NOW, batch=1) == 2
    assert reminders.plan(store, NOW) == 2  # the same two, already scheduled
    due = reminders.due(store, dt.datetime(2026, 12, 8, 0, 0, tzinfo=dt.UTC))
    assert sorted(item.learner_id for item in due) == ["telegram:1", "telegram:2"]


def local_noon_zone(now: dt.datetime) -> str:
    """An Etc/GMT zone where it is about noon now (its name's sign is inverted: Etc/GMT-5 is UTC+5)."""
    offset = max(-12, min(14, 12 - now.hour))
    return "Etc/GMT" + (f"{-offset:+d}" if offset else "")


def test_remind_sends_each_reminder_once_and_retires_the_ones_no_longer_needed(
    git_repo: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("tag", "what_is_a_market").exit_code == 0
    now = dt.datetime.now(dt.UTC)
    zone = local_noon_zone(now)
    today = now.astimezone(ZoneInfo(zone)).date()
    yesterday = today - dt.timedelta(days=1)
    with open_storage(sqlite_url, auto_upgrade=True) as storage, storage() as uow:
        for chat in (901, 902, 903):
            uow.progress.save_learner(
                Learner(f"telegram:{chat}", time_zone=zone, streak_days=5, last_active_day=yesterday)
            )
        uow.progress.save_message_settings("telegram:903", MessageSettings(reminders=False), now)
        uow.commit()
    # 23 hours before midnight is 01:00 local, long past: each reminder is due at once
    args = ["remind", "--lead-hours", "23", "--content", str(git_repo), "--database", sqlite_url]
    fake = FakeBotApi(rate_limits=RateLimits())
    with FakeBotApiServer(fake) as server:
        monkeypatch.setenv("FIML_TELEGRAM_TOKEN", DEFAULT_TOKEN)
        monkeypatch.setenv("FIML_TELEGRAM_API_URL", server.base_url)
        dry = CliRunner().invoke(app, [*args, "--dry-run"])
        assert dry.exit_code == 0 and "2 reminder(s) would be planned" in dry.output, dry.output
        with open_storage(sqlite_url) as storage:  # planned, then 902 studies
            assert reminders.plan(storage, now, ReminderPolicy(dt.timedelta(hours=23))) == 2
            with storage() as uow:
                studied = replace(uow.progress.learner("telegram:902"), last_active_day=today, streak_days=6)
                uow.progress.save_learner(studied)
                uow.commit()
        done = CliRunner().invoke(app, args)
        again = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    sent = sorted(int(c.params["chat_id"]) for c in fake.calls_to("sendMessage") if c.ok)
    assert sent == [901], done.output
    assert "5-day streak" in fake.last_sent(901).text
    assert again.exit_code == 0 and "0 message(s) due now" in again.output


def test_planning_leaves_the_write_lock_free_between_batches(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_storage(sqlite_url, auto_upgrade=True) as storage:
        with storage() as uow:
            for n in range(5):
                uow.progress.save_learner(
                    Learner(
                        f"telegram:{n}",
                        time_zone="Europe/Berlin",
                        streak_days=2,
                        last_active_day=NOW.date() - dt.timedelta(days=1),
                    )
                )
            uow.commit()
        pauses: list[float] = []

        def pause(seconds: float) -> None:  # another process's writer gets the lock without waiting
            other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None, timeout=0)
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            other.close()
            pauses.append(seconds)

        monkeypatch.setattr(time, "sleep", pause)
        assert reminders.plan(storage, NOW, batch=2) == 5
        assert pauses == [reminders.PAUSE] * 2  # between the three batches, not before or after
