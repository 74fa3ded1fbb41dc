"""Content goes live without a restart: periodic and SIGHUP refreshes, `git fetch --tags`, stale replicas."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from telegram import Update

from fiml_bot.adapters.telegram import build_application
from fiml_bot.adapters.webhook import readiness
from fiml_bot.content import LessonContent
from fiml_bot.live import ContentRefresher, refresh_interval
from fiml_bot.storage import MemoryStorage
from fiml_bot.tutor.callbacks import encode
from fiml_bot.tutor.engine import UPDATING, Tutor
from fiml_bot.tutor.events import Pressed
from fiml_cms.config import load_settings
from fiml_cms.errors import ConfigError
from testing.bot_process import subprocess_env, wait_until
from testing.cli import cli
from testing.fakebotapi import NO_LIMITS, FakeBotApi, FakeBotApiServer
from testing.repo import git
from testing.tutor_driver import Clock, Learner

MARKET = "what_is_a_market"
CHAT = 7373
LEARNER = f"telegram:{CHAT}"


@pytest.fixture
def author(published: Path) -> Path:
    """The authors' repository (the remote): every lesson published at its version."""
    return published


def clone(author: Path, where: Path) -> Path:
    git(where.parent, "clone", "-q", str(author), str(where))
    return where


def publish(level: str, message: str) -> None:
    result = cli(
        "bump", MARKET, level, "-m", message, "--commit", "--tag"
    )  # in the author's repository (cwd)
    assert result.exit_code == 0, result.output


def open_content(root: Path, remote: str | None = None) -> LessonContent:
    return LessonContent.open(root, load_settings(root), remote=remote)


def newest(content: LessonContent) -> str:
    summary = content.catalogue().summary(MARKET)
    assert summary is not None
    return summary.version


def test_the_refresh_interval_setting() -> None:
    assert refresh_interval({}) == 10.0
    assert refresh_interval({"FIML_CONTENT_REFRESH": "2.5"}) == 2.5
    assert refresh_interval({"FIML_CONTENT_REFRESH": "0"}) == 0.0
    for bad in ("soon", "-1", "nan"):
        with pytest.raises(ConfigError, match="FIML_CONTENT_REFRESH"):
            refresh_interval({"FIML_CONTENT_REFRESH": bad})


def test_a_running_refresher_fetches_new_tags_from_origin(author: Path, tmp_path: Path) -> None:
    content = open_content(clone(author, tmp_path / "replica"))
    assert newest(content) == "1.0.0"
    with ContentRefresher(content, 0.2):
        publish("minor", "A section on auctions")
        wait_until(lambda: newest(content) == "1.1.0", 20, what="the new tag")
    assert content.latest(MARKET).version == "1.1.0"
    assert content.versions(MARKET) == ["1.0.0", "1.1.0"]


def test_sighup_refreshes_at_once(author: Path) -> None:
    content = open_content(author)
    refresher = ContentRefresher(content, 0)  # no periodic refresh: only the signal
    restore = refresher.install_sighup()
    try:
        with refresher:
            publish("minor", "A section on auctions")
            time.sleep(0.3)
            assert newest(content) == "1.0.0"
            os.kill(os.getpid(), signal.SIGHUP)
            wait_until(lambda: newest(content) == "1.1.0", 10, what="the refresh after SIGHUP")
    finally:
        restore()


def test_a_failing_fetch_is_logged_retried_and_reported_when_stale(
    author: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    content = open_content(clone(author, tmp_path / "replica"), remote=str(tmp_path / "gone"))
    tutor = Tutor(content, MemoryStorage())
    refresher = ContentRefresher(content, 0.05)
    with caplog.at_level(logging.INFO, logger="fiml_bot.live"):
        assert refresher.refresh_now() is False
        assert refresher.refresh_now() is False  # the same failure again: logged, but not as a warning
    failures = [r for r in caplog.records if "content refresh failed" in r.getMessage()]
    assert [r.levelname for r in failures] == ["WARNING", "INFO"] and "git fetch --tags" in failures[
        0
    ].getMessage()
    time.sleep(0.3)  # more than 5 intervals without a successful refresh
    problem = readiness(tutor)
    assert problem is not None and "content not refreshed" in problem and "git fetch --tags" in problem
    assert content.lesson_ids()  # the content in use still serves

    content.remote = str(author)  # the remote is back
    publish("minor", "A section on auctions")
    with caplog.at_level(logging.INFO, logger="fiml_bot.live"):
        assert refresher.refresh_now() is True
    assert "content refresh works again" in caplog.text
    assert readiness(tutor) is None
    assert newest(content) == "1.1.0"


def test_a_refresh_keeps_what_did_not_change(author: Path) -> None:
    content = open_content(author)
    other = next(i for i in content.lesson_ids() if i != MARKET)
    before = content.latest(other), content.catalogue()
    content.refresh()
    assert content.catalogue() is before[1]  # nothing new: the same catalogue, nothing re-read
    publish("minor", "A section on auctions")
    content.refresh()
    assert content.catalogue() is not before[1]
    assert content.latest(other) is before[0]  # only the lesson with a new tag is read again
    assert content.latest(MARKET).version == "1.1.0"
    git(author, "tag", "-d", f"lesson/{MARKET}/v1.1.0")  # a tag withdrawn (by hand): the index follows
    git(author, "tag", "lesson/not-a-version")
    content.refresh()
    assert content.versions(MARKET) == ["1.0.0"] and content.latest(MARKET).version == "1.0.0"


# -- a learner pinned to a version this replica does not know ------------------------------------


class CountingContent(LessonContent):
    refreshes = 0

    def refresh(self, fetch: bool = True) -> None:
        type(self).refreshes += 1
        super().refresh(fetch)


def pinned_to(tutor: Tutor, learner: str, version: str) -> None:
    with tutor.unit_of_work() as uow:
        progress = uow.progress.progress(learner, MARKET)
        uow.progress.save_progress(dataclasses.replace(progress, pinned_version=version))
        uow.commit()


def state(tutor: Tutor, learner: str) -> tuple:
    with tutor.unit_of_work() as uow:
        repo = uow.progress
        return (
            repo.learner(learner),
            repo.all_progress(learner),
            repo.xp_awards(learner),
            repo.completions(learner),
            repo.badges(learner),
        )


def test_a_version_ahead_of_this_replica_refreshes_once_then_changes_nothing(author: Path) -> None:
    content = CountingContent(LessonContent.open(author, load_settings(author)).store, load_settings(author))
    tutor = Tutor(content, MemoryStorage(), clock=Clock())
    learner = Learner(tutor, "test:ahead")
    learner.send(Pressed(encode("o", MARKET)))
    learner.press("Next")
    pinned_to(tutor, learner.id, "1.3.0")  # started on another replica that already serves 1.3.0
    before = state(tutor, learner.id)
    CountingContent.refreshes = 0
    learner.press("Next")
    assert learner.text.startswith(UPDATING.split(",")[0])
    assert CountingContent.refreshes == 1
    after = state(tutor, learner.id)
    assert after == before  # not moved, no streak day, nothing at all


def test_a_version_known_not_to_exist_restarts_on_the_newest(author: Path) -> None:
    tutor = Tutor(open_content(author), MemoryStorage(), clock=Clock())
    learner = Learner(tutor, "test:gone")
    learner.send(Pressed(encode("o", MARKET)))
    learner.press("Next")
    publish("minor", "A section on auctions")
    tutor.content.refresh()  # type: ignore[attr-defined]
    pinned_to(tutor, learner.id, "1.0.5")  # below the newest, in no tag, no history, no archive
    learner.send(Pressed(encode("o", MARKET)))
    assert "no longer available" in learner.text and "1.1.0" in learner.text
    with tutor.unit_of_work() as uow:
        assert uow.progress.progress(learner.id, MARKET).pinned_version == "1.1.0"


# -- through python-telegram-bot: two replicas, one of them stale ----------------------------------


class Replica:
    def __init__(self, content: LessonContent, fake: FakeBotApi, storage: object) -> None:
        self.fake = fake
        self.content = content
        self.tutor = Tutor(content, storage, clock=Clock())  # type: ignore[arg-type]
        self.app = build_application(
            self.tutor, fake.default_token, builder=fake.application_builder(), rate_limit=False
        )

    async def __aenter__(self) -> Replica:
        await self.app.initialize()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.app.shutdown()

    async def tap(self, label: str, message_id: int | None = None) -> None:
        update = self.fake.press(CHAT, label, message_id=message_id, enqueue=False)
        await self.app.process_update(Update.de_json(update, self.app.bot))

    async def say(self, text: str) -> None:
        await self.app.process_update(
            Update.de_json(self.fake.user_message(CHAT, text, enqueue=False), self.app.bot)
        )


def test_a_stale_replica_loses_nothing_of_a_learner_pinned_ahead(
    author: Path, tmp_path: Path, sqlite_url: str
) -> None:
    from fiml_bot.storage import open_storage

    stale_content = open_content(clone(author, tmp_path / "stale"), remote=str(tmp_path / "unreachable"))
    fresh_content = open_content(author)
    storage = open_storage(sqlite_url, auto_upgrade=True)
    fake = FakeBotApi(rate_limits=NO_LIMITS)

    async def scenario() -> None:
        async with (
            Replica(fresh_content, fake, storage) as fresh,
            Replica(stale_content, fake, storage) as stale,
        ):
            await fresh.say("/lessons")
            await fresh.tap("📘 What Is a Market?")
            await fresh.tap("Next ▶")
            publish("major", "Rewritten")
            fresh_content.refresh()
            await fresh.tap("Next ▶")
            assert "new edition" in fake.last_sent(CHAT).text
            await fresh.tap("🆕 Restart on the new one")
            assert progress().pinned_version == "2.0.0"
            step = fake.last_sent(CHAT).message_id
            before = state(fresh.tutor, LEARNER)

            await stale.tap("Next ▶", step)  # the load balancer sends the next update to the stale replica
            assert fake.last_sent(CHAT).text.startswith("⏳ This lesson is being updated")
            assert state(stale.tutor, LEARNER) == before
            assert stale_content.newest_version(MARKET) == "1.0.0"

            stale_content.remote = str(author)  # its remote is reachable again: the one refresh finds 2.0.0
            await stale.tap("Next ▶", step)
            assert stale_content.newest_version(MARKET) == "2.0.0"
            after = progress()
            assert after.pinned_version == "2.0.0" and len(after.sections_done) == 1
            assert not fake.errors()

    def progress():
        with storage() as uow:
            return uow.progress.progress(LEARNER, MARKET)

    try:
        asyncio.run(scenario())
    finally:
        storage.close()


# -- `fiml-bot run` (polling) as a subprocess: minor and major versions published while it runs ----


def start_bot(
    api: FakeBotApiServer, fake: FakeBotApi, replica: Path, tmp_path: Path, refresh: str
) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / "bot.log"
    command = [
        sys.executable,
        "-m",
        "fiml_bot",
        "run",
        "--api-base-url",
        api.base_url,
        "--database",
        f"sqlite:///{tmp_path / 'var' / 'bot.db'}",
        "--content",
        str(replica),
    ]
    env = subprocess_env(fake.default_token, FIML_CONTENT_REFRESH=refresh)
    process = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=log.open("w"), text=True
    )
    wait_until(lambda: fake.calls_to("getUpdates"), 30, process, "the first getUpdates")
    return process, log


def refreshes_logged(log: Path) -> int:
    return log.read_text(encoding="utf-8").count("content refreshed:")


def tap(fake: FakeBotApi, process: subprocess.Popen, label: str) -> str:
    count = len(fake.sent(CHAT)) + sum(m.edit_count for m in fake.sent(CHAT))
    fake.press(CHAT, label)
    wait_until(
        lambda: len(fake.sent(CHAT)) + sum(m.edit_count for m in fake.sent(CHAT)) > count,
        20,
        process,
        f"the reply to {label!r}",
    )
    time.sleep(0.2)  # a reply may come in two messages
    return fake.last_sent(CHAT).text


def open_the_lesson(fake: FakeBotApi, process: subprocess.Popen) -> None:
    fake.user_message(CHAT, "/lessons")
    wait_until(lambda: fake.sent(CHAT), 20, process, "the list")
    tap(fake, process, "📘 What Is a Market?")


def pinned(tmp_path: Path) -> str:
    import sqlite3

    with sqlite3.connect(tmp_path / "var" / "bot.db") as db:
        return db.execute(
            "SELECT pinned_version FROM lesson_progress WHERE learner_id = ? AND lesson_id = ?",
            (LEARNER, MARKET),
        ).fetchone()[0]


def finish(process: subprocess.Popen, log: Path) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    text = log.read_text(encoding="utf-8")
    assert process.returncode == 0, text
    assert "Traceback" not in text, text


@contextlib.contextmanager
def polling_bot(
    author: Path, tmp_path: Path, refresh: str
) -> Iterator[tuple[FakeBotApi, subprocess.Popen, Path]]:
    """`fiml-bot run` on a clone of the authors' repository, its learner on the first section of the lesson."""
    replica = clone(author, tmp_path / "replica")
    fake = FakeBotApi(rate_limits=NO_LIMITS, max_poll_wait=1)
    with FakeBotApiServer(fake) as api:
        process, log = start_bot(api, fake, replica, tmp_path, refresh)
        try:
            open_the_lesson(fake, process)
            yield fake, process, log
        finally:
            finish(process, log)


def test_a_polling_bot_follows_minor_and_major_versions_published_while_it_runs(
    author: Path, tmp_path: Path
) -> None:
    with polling_bot(author, tmp_path, refresh="0.5") as (fake, process, log):
        tap(fake, process, "Next ▶")
        assert pinned(tmp_path) == "1.0.0"

        publish("minor", "A section on auctions")  # in the authors' repository: the bot fetches it
        wait_until(lambda: refreshes_logged(log) >= 1, 20, process, "the refresh that sees 1.1.0")
        tap(fake, process, "Next ▶")
        assert pinned(tmp_path) == "1.1.0"  # auto-migrated, without a restart

        publish("major", "Rewritten")
        wait_until(lambda: refreshes_logged(log) >= 2, 20, process, "the refresh that sees 2.0.0")
        assert "new edition" in tap(fake, process, "Next ▶")
        tap(fake, process, "🆕 Restart on the new one")
        assert pinned(tmp_path) == "2.0.0"
        assert process.poll() is None


def test_sighup_makes_a_polling_bot_refresh_at_once(author: Path, tmp_path: Path) -> None:
    with polling_bot(author, tmp_path, refresh="3600") as (fake, process, log):
        publish("minor", "A section on auctions")
        process.send_signal(signal.SIGHUP)
        wait_until(lambda: refreshes_logged(log) >= 1, 20, process, "the refresh after SIGHUP")
        tap(fake, process, "Next ▶")
        assert pinned(tmp_path) == "1.1.0"


def test_readyz_reports_stale_content_over_http(author: Path, tmp_path: Path) -> None:
    from testing.webhook import InProcess

    fake = FakeBotApi(rate_limits=NO_LIMITS)
    content = open_content(clone(author, tmp_path / "replica"), remote=str(tmp_path / "gone"))
    tutor = Tutor(content, MemoryStorage())
    refresher = ContentRefresher(content, 0.05)

    async def scenario() -> None:
        async with InProcess(tutor, fake) as h:
            assert (await h.client.get(h.base("/readyz"))).status_code == 200
            refresher.refresh_now()
            await asyncio.sleep(0.3)  # 5 intervals without a refresh that worked
            ready = await h.client.get(h.base("/readyz"))
            assert ready.status_code == 503 and "content not refreshed" in ready.text

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "variable,value,message",
    [
        (
            "FIML_CONTENT_REFRESH",
            "soon",
            "FIML_CONTENT_REFRESH='soon': give the seconds between content refreshes",
        ),
        (
            "FIML_EVENT_RETENTION_HOURS",
            "12",
            "FIML_EVENT_RETENTION_HOURS='12': give a number of hours above 24",
        ),
    ],
)
def test_bad_settings_are_one_line_errors(author: Path, variable: str, value: str, message: str) -> None:
    from typer.testing import CliRunner

    from fiml_bot.cli import app

    result = CliRunner().invoke(
        app,
        ["chat", "--content", str(author), "--database", "sqlite:///x.db"],
        env={variable: value},
        input="",
    )
    assert result.exit_code == 2 and message in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
