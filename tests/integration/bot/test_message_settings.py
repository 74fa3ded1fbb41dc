"""`/settings` and the messages the bot starts (issue 26): each kind can be turned off, update notices and
announcements respect it, and `fiml-bot announce` is resumable, flag-targeted and stops at a block."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
from telegram import Bot
from typer.testing import CliRunner

from fiml_bot import notify
from fiml_bot.adapters.notify_sender import TelegramNoticeSender
from fiml_bot.cli import app
from fiml_bot.storage import open_storage
from fiml_bot.tutor.callbacks import encode
from fiml_bot.tutor.events import Pressed, SetTimeZone, Settings, Start
from testing.cli import cli
from testing.fakebotapi import DEFAULT_TOKEN, NO_LIMITS, FakeBotApi, FakeBotApiServer, RateLimits
from testing.repo import git
from testing.tutor_driver import Learner, make_tutor

MARKET = "what_is_a_market"


@pytest.fixture
def published(market_published: Path) -> Path:
    return market_published


def sent_to(fake: FakeBotApi) -> list[int]:
    return sorted(int(c.params["chat_id"]) for c in fake.calls_to("sendMessage") if c.ok)


def test_settings_turn_each_kind_of_message_off_and_on(published: Path, sqlite_url: str) -> None:
    with open_storage(sqlite_url, auto_upgrade=True) as storage:
        tutor, _ = make_tutor(published, storage)
        ada = Learner(tutor, "telegram:1")
        ada.send(Settings())
        assert "Streak reminders: on" in ada.text and "Announcements of new features: on" in ada.text
        ada.press("Turn off: announcements")
        assert "Announcements of new features: off" in ada.text and ada.last[0].replace
        ada.press("Turn off: notices of lesson updates")
        with tutor.unit_of_work() as uow:
            assert uow.progress.opted_out("announcements") == {"telegram:1"}
            assert uow.progress.opted_out("update_notices") == {"telegram:1"}
            assert uow.progress.opted_out("reminders") == set()
        ada.press("Turn on: announcements")
        with tutor.unit_of_work() as uow:
            assert uow.progress.opted_out("announcements") == set()
        ada.send(Pressed("s|nonsense"))  # an unknown kind only shows the settings
        assert "Messages I may send you on my own" in ada.text


def test_learners_who_turned_update_notices_off_are_not_notified(published: Path) -> None:
    tutor, content = make_tutor(published)
    for chat in (101, 102):
        learner = Learner(tutor, f"telegram:{chat}")
        learner.send(Start())
        learner.send(Pressed(encode("o", MARKET)))
    quiet = Learner(tutor, "telegram:102")
    quiet.send(Settings())
    quiet.press("Turn off: notices of lesson updates")
    ref = git(published, "rev-parse", "HEAD")
    assert cli("bump", MARKET, "minor", "-m", "More", "--commit", "--tag").exit_code == 0
    content.refresh()
    fake = FakeBotApi(rate_limits=NO_LIMITS)

    async def run():
        async with TelegramNoticeSender(Bot(**fake.bot_kwargs())) as sender:
            return await notify.notify(sender, content, tutor.unit_of_work, ref, deactivate=tutor.deactivate)

    notices, _ = asyncio.run(run())
    assert [n.learner_id for n in notices] == ["telegram:101"] and sent_to(fake) == [101]


def test_announce_reaches_the_flagged_learners_who_allow_it_once(
    published: Path, tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_storage(sqlite_url, auto_upgrade=True) as storage:
        tutor, _ = make_tutor(published, storage)
        for chat, zone in (
            (801, "Europe/Berlin"),
            (802, "Europe/Berlin"),
            (803, "UTC"),
            (804, "Europe/Berlin"),
        ):
            Learner(tutor, f"telegram:{chat}").send(SetTimeZone(zone))
        no_thanks = Learner(tutor, "telegram:802")
        no_thanks.send(Settings())
        no_thanks.press("Turn off: announcements")
        Learner(tutor, "console:local").send(SetTimeZone("Europe/Berlin"))  # not on Telegram
    flags = tmp_path / "flags.json"
    rule = {"if": [{"==": [{"var": "time_zone"}, "Europe/Berlin"]}, "on", "off"]}
    flag = {
        "state": "ENABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": "off",
        "targeting": rule,
    }
    flags.write_text(json.dumps({"flags": {"berlin-meetup": flag}}), encoding="utf-8")
    text = "New: **review your mistakes** after each quiz"
    args = ["announce", text, "--flag", "berlin-meetup", "--flags", str(flags), "--content", str(published)]
    args += ["--database", sqlite_url]
    fake = FakeBotApi(rate_limits=RateLimits())
    fake.block(804)
    with FakeBotApiServer(fake) as server:
        monkeypatch.setenv("FIML_TELEGRAM_TOKEN", DEFAULT_TOKEN)
        monkeypatch.setenv("FIML_TELEGRAM_API_URL", server.base_url)
        dry = CliRunner().invoke(app, [*args, "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert (
            "would announce to telegram:801" in dry.output and "would announce to telegram:804" in dry.output
        )
        assert "telegram:802" not in dry.output and "telegram:803" not in dry.output
        assert fake.calls_to("sendMessage") == []
        done = CliRunner().invoke(app, args)
        again = CliRunner().invoke(app, args)  # resumable: nobody twice
        unknown = CliRunner().invoke(app, [*args[:2], "--flag", "nope", *args[4:]])
    assert done.exit_code == 0, done.output
    assert sent_to(fake) == [801] and "1 sent" in done.output and "1 learner(s) blocked" in done.output
    assert "review your mistakes" in fake.last_sent(801).text
    assert fake.last_buttons(801) == [("🚀 Try it", encode("l", "0", ""))]
    assert again.exit_code == 0 and sent_to(fake) == [801] and "1 already sent earlier" in again.output
    assert unknown.exit_code == 2 and "no such flag" in unknown.output
    with open_storage(sqlite_url) as storage, storage() as uow:
        assert uow.progress.learner("telegram:804").active is False  # a 403 stops every message


def test_every_message_the_bot_starts_is_counted_by_kind(published: Path) -> None:
    from fiml_bot.announce import Announcement
    from fiml_bot.ops.metrics import BotMetrics
    from fiml_bot.reminders import Scheduled
    from fiml_bot.tutor.model import Notice

    tutor, _ = make_tutor(published)
    for chat in (11, 12, 13):
        Learner(tutor, f"telegram:{chat}").send(Start())
    metrics = BotMetrics()
    fake = FakeBotApi(rate_limits=NO_LIMITS)
    fake.block(13)
    now = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
    items = [
        Announcement("telegram:11", 11, "New!"),
        Scheduled(Notice("telegram:12", "reminder:2026-12-07", "reminder", "Streak!", now), 12),
        Announcement("telegram:13", 13, "New!"),
    ]

    async def run():
        async with TelegramNoticeSender(Bot(**fake.bot_kwargs())) as sender:
            return await notify.broadcast(
                sender, tutor.unit_of_work, items, deactivate=tutor.deactivate, rate=None, metrics=metrics
            )

    report = asyncio.run(run())
    assert report.sent == 2 and report.blocked == ["telegram:13"]

    def count(kind: str, outcome: str) -> float | None:
        return metrics.registry.get_sample_value("fiml_notices_total", {"kind": kind, "outcome": outcome})

    assert count("announcement", "sent") == 1 and count("reminder", "sent") == 1
    assert count("announcement", "blocked") == 1
