"""Content canaries end to end: `fiml-cms tag --canary`, `canary N`, `promote` on a real git repository,
the flag file reloaded by the bot, 1,000 learners through python-telegram-bot against the fake Bot API."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from telegram import Update

from fiml_bot.adapters.telegram import build_application
from fiml_bot.content import LessonContent
from fiml_bot.ops.canary import CanaryRollout
from fiml_bot.ops.flag_reload import FlagReloader
from fiml_bot.ops.flags import FeatureFlags, FlagFileProvider, read_file
from fiml_bot.ops.metrics import BotMetrics
from fiml_bot.storage import open_storage
from fiml_bot.tutor.callbacks import encode
from fiml_bot.tutor.engine import Tutor
from fiml_bot.tutor.events import Pressed
from fiml_cms.config import load_settings
from testing.cli import cli
from testing.fakebotapi import NO_LIMITS, FakeBotApi
from testing.output_schema import conforms
from testing.repo import commit_all, replace_in
from testing.tutor_driver import Clock, Learner, progress_of, xp_of

LESSON = "what_is_a_market"
TITLE = "What Is a Market?"
FIRST_CHAT = 700_000


def publish_minor(root: Path, canary: int | None) -> str:
    """Add a section to the lesson, bump it (minor), commit; tag it with or without a canary."""
    path = root / f"content/lessons/{LESSON}.yaml"
    replace_in(
        path,
        "sections:\n",
        "sections:\n  - id: warmup\n    type: text\n    title: Before we start\n    body: |\n      Markets are everywhere once you look for them.\n",
    )
    commit_all(root, "A warm-up section")
    assert (
        cli("bump", LESSON, "auto", "-m", "A warm-up section", "--date", "2026-12-01", "--commit").exit_code
        == 0
    )
    args = ["tag", LESSON] + (["--canary", str(canary)] if canary is not None else [])
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return result.output


class Bot:
    """The tutor with flags, canary rollout and metrics, behind a PTB Application on the fake Bot API."""

    def __init__(self, root: Path, url: str, first_update_id: int = 1) -> None:
        self.root = root
        self.flags_file = root / "deploy/flags.json"
        self.content = LessonContent.open(root, load_settings(root))
        self.flags = FeatureFlags(FlagFileProvider(read_file(self.flags_file)))
        self.metrics = BotMetrics()
        self.reloader = FlagReloader(self.flags_file, self.flags, metrics=self.metrics)
        self.storage = open_storage(url, auto_upgrade=True)
        self.tutor = Tutor(
            self.content,
            self.storage,
            clock=Clock(),
            observer=self.metrics,
            features=self.flags,
            rollout=CanaryRollout(self.flags),
        )
        self.fake = FakeBotApi(
            rate_limits=NO_LIMITS, record_calls=False, first_update_id=first_update_id
        )  # Telegram's ids only grow
        self.app = build_application(
            self.tutor,
            self.fake.default_token,
            builder=self.fake.application_builder(),
            rate_limit=False,
            metrics=self.metrics,
        )

    def refresh(self) -> None:
        """What the running bot does on its interval or SIGHUP: new tags, new flags."""
        self.content.refresh()
        assert self.reloader.reload() in ("loaded", "unchanged")

    async def deliver(self, update: dict) -> None:
        await self.app.process_update(Update.de_json(update, self.app.bot))

    async def open_lesson(self, chat: int) -> str:
        """/lessons, then tap the lesson: returns the version in the first section's "Next" button."""
        await self.deliver(self.fake.user_message(chat, "/lessons", enqueue=False))
        listing = self.fake.last_sent(chat)
        data = next(d for label, d in listing.buttons if TITLE in label)
        await self.deliver(self.fake.callback(chat, listing.message_id, data, enqueue=False))
        next_data = next(d for label, d in self.fake.last_sent(chat).buttons if "Next" in label)
        kind, lesson, version, _section = next_data.split("|")
        assert (kind, lesson) == ("n", LESSON)
        return version

    def learner(self, chat: int) -> Learner:
        return Learner(self.tutor, f"telegram:{chat}")


def run(coro):
    return asyncio.run(coro)


def test_canary_serves_its_share_of_new_starts_sticky_and_loses_no_xp_on_rollback_or_promotion(
    published: Path, sqlite_url: str
) -> None:
    root = published
    bot = Bot(root, sqlite_url)
    chats = [FIRST_CHAT + i for i in range(1000)]

    async def scenario() -> None:
        await bot.app.initialize()
        try:
            # Before the canary: 20 learners start 1.0.0 (the pinned ones), 5 of them finish it.
            pinned = [FIRST_CHAT + 5000 + i for i in range(20)]
            for chat in pinned:
                assert await bot.open_lesson(chat) == "1.0.0"
            for chat in pinned[:5]:
                finish(bot.learner(chat))

            out = publish_minor(root, canary=10)
            assert "canary: what_is_a_market 1.1.0 for 10 % of new starts; the others get 1.0.0" in out
            flag = json.loads(bot.flags_file.read_text())["flags"][f"canary.{LESSON}"]
            assert flag["targeting"] == {"fractional": [["on", 10], ["off", 90]]}
            bot.refresh()

            # 1,000 new learners: 10 % ± 3 % start the canary, exactly those the flag puts in its cohort.
            served = {chat: await bot.open_lesson(chat) for chat in chats}
            on_canary = [c for c, v in served.items() if v == "1.1.0"]
            assert set(served.values()) == {"1.0.0", "1.1.0"}
            assert 70 <= len(on_canary) <= 130, len(on_canary)
            assert all(
                (served[c] == "1.1.0") == bot.flags.enabled(f"canary.{LESSON}", f"telegram:{c}")
                for c in chats
            )
            starts = bot.metrics.lesson_starts
            assert starts.labels(LESSON, "1.1.0")._value.get() == len(on_canary)
            assert starts.labels(LESSON, "1.0.0")._value.get() == 1000 - len(on_canary) + len(pinned)

            # Pinned learners are untouched: still on 1.0.0 after another step.
            for chat in pinned[5:8]:
                learner = bot.learner(chat)
                learner.send(Pressed(encode("o", LESSON)))
                assert progress_of(bot.tutor, learner.id, LESSON).pinned_version == "1.0.0"

            # Sticky: a restarted bot (new process state, same files and database) serves the same versions.
            again = Bot(root, sqlite_url, first_update_id=1_000_000)
            await again.app.initialize()
            try:
                for chat in chats[:150]:
                    assert await again.open_lesson(chat) == served[chat]
                fresh = [FIRST_CHAT + 9000 + i for i in range(200)]
                for chat in fresh[:40]:
                    version = await again.open_lesson(chat)
                    assert (version == "1.1.0") == bot.flags.enabled(f"canary.{LESSON}", f"telegram:{chat}")
            finally:
                await again.app.shutdown()

            # Raising the share only adds learners.
            assert cli("canary", LESSON, "30").exit_code == 0
            bot.refresh()
            cohort_30 = {c for c in chats if bot.flags.enabled(f"canary.{LESSON}", f"telegram:{c}")}
            assert set(on_canary) <= cohort_30 and len(cohort_30) > len(on_canary)

            # Canary learners finish 1.1.0 and earn XP; then the canary is rolled back (flag at 0).
            finishers = on_canary[:5]
            for chat in finishers:
                finish(bot.learner(chat))
            in_progress = on_canary[5:10]
            for chat in in_progress:  # answer one question right, then stop
                learner = bot.learner(chat)
                learner.send(Pressed(encode("o", LESSON)))
                learner.read_to_quiz()
                learner.answer_current(correct=True)
            xp_before = {c: xp_of(bot.tutor, f"telegram:{c}") for c in [*on_canary[:10], *pinned]}
            assert all(xp_before[c] > 0 for c in finishers + in_progress)

            assert "rolled back" in cli("canary", LESSON, "0").output
            bot.refresh()
            for chat in in_progress:
                learner = bot.learner(chat)
                learner.send(Pressed(encode("o", LESSON)))
                assert "withdrawn" in learner.text and "XP and completions are kept" in learner.text
                assert progress_of(bot.tutor, learner.id, LESSON).pinned_version == "1.0.0"
            for chat in finishers:
                learner = bot.learner(chat)
                learner.send(Pressed(encode("o", LESSON)))
                assert "You completed" in learner.text
            assert await bot.open_lesson(FIRST_CHAT + 20_000) == "1.0.0"  # nobody starts it now
            assert {c: xp_of(bot.tutor, f"telegram:{c}") for c in xp_before} == xp_before
            assert bot.metrics.policy_actions.labels("forced restart")._value.get() == len(in_progress)

            # Back to 10 %, then promoted: the version is the plain latest, and pinned learners move by §5.
            assert cli("canary", LESSON, "10").exit_code == 0
            assert "promoted: what_is_a_market 1.1.0" in cli("promote", LESSON).output
            assert f"canary.{LESSON}" not in json.loads(bot.flags_file.read_text())["flags"]
            bot.refresh()
            for chat in pinned[8:12]:
                learner = bot.learner(chat)
                learner.send(Pressed(encode("o", LESSON)))
                assert progress_of(bot.tutor, learner.id, LESSON).pinned_version == "1.1.0"
            assert await bot.open_lesson(FIRST_CHAT + 20_001) == "1.1.0"
            assert {c: xp_of(bot.tutor, f"telegram:{c}") for c in xp_before} == xp_before
        finally:
            await bot.app.shutdown()
            bot.storage.close()

    run(scenario())


def finish(learner: Learner) -> None:
    learner.send(Pressed(encode("o", LESSON)))
    learner.read_to_quiz()
    for _ in range(30):
        if "Lesson complete" in learner.text:
            return
        learner.answer_current(correct=True)
    raise AssertionError(learner.text)


def test_tag_canary_needs_a_published_version_and_a_valid_share(published: Path) -> None:
    result = cli("tag", LESSON, "--canary", "150")
    assert result.exit_code == 2 and "0 to 100" in result.output
    assert cli("canary", LESSON, "20").exit_code == 1  # no canary running
    assert "has no canary" in cli("canary", LESSON, "20").output
    assert "nothing to promote" in cli("promote", LESSON).output


def test_tag_canary_refuses_a_broken_flag_file_before_tagging(published: Path) -> None:
    (published / "deploy").mkdir()
    (published / "deploy/flags.json").write_text('{"flags": {,}}\n', encoding="utf-8")
    path = published / f"content/lessons/{LESSON}.yaml"
    replace_in(
        path,
        "sections:\n",
        "sections:\n  - id: warmup\n    type: text\n    title: Before\n    body: |\n      Hi.\n",
    )
    commit_all(published, "edit")
    assert cli("bump", LESSON, "auto", "-m", "x", "--date", "2026-12-01", "--commit").exit_code == 0
    result = cli("tag", LESSON, "--canary", "10")
    assert result.exit_code == 2 and "flags.json:1:12: not valid JSON" in result.output
    assert cli("versions", LESSON).output.count("1.1.0") == 0  # nothing was tagged


def test_flags_explain_agrees_with_what_each_learner_is_served(published: Path, sqlite_url: str) -> None:
    from typer.testing import CliRunner

    from fiml_bot.cli import app as bot_app

    publish_minor(published, canary=40)
    bot = Bot(published, sqlite_url)
    chats = [FIRST_CHAT + i for i in range(30)]

    async def serve() -> dict[int, str]:
        await bot.app.initialize()
        try:
            return {chat: await bot.open_lesson(chat) for chat in chats}
        finally:
            await bot.app.shutdown()
            bot.storage.close()

    served = run(serve())
    assert set(served.values()) == {"1.0.0", "1.1.0"}
    for chat in [*chats, FIRST_CHAT + 999]:
        result = CliRunner().invoke(
            bot_app,
            [
                "flags",
                "explain",
                f"canary.{LESSON}",
                str(chat),
                "--content",
                str(published),
                "--database",
                sqlite_url,
            ],
            env={"FIML_FLAGS_FILE": ""},
        )
        assert result.exit_code == 0, result.output
        if chat in served:
            assert f"learner sees: {LESSON} {served[chat]} (started before" in result.output, result.output
            assert ("variant: on" in result.output) == (served[chat] == "1.1.0")
        else:  # not started yet: what they would get
            expected = "1.1.0" if "variant: on" in result.output else "1.0.0"
            assert f"learner sees: {LESSON} {expected} when they start it" in result.output
    assert "canary: lesson what_is_a_market 1.1.0 for 40 % of new starts, else 1.0.0" in result.output
    chat = chats[0]
    as_json = CliRunner().invoke(
        bot_app,
        ["flags", "explain", f"canary.{LESSON}", str(chat), "--content", str(published)]
        + ["--database", sqlite_url, "--json"],
        env={"FIML_FLAGS_FILE": ""},
    )
    document = conforms(as_json.stdout, "fiml-bot/flags-explain")
    assert document["canary"] == {"lesson": LESSON, "version": "1.1.0", "stable": "1.0.0", "percent": 40}
    assert document["served"].startswith(f"{LESSON} {served[chat]} (started before")
    assert (document["variant"] == "on") == (served[chat] == "1.1.0")
    checked = CliRunner().invoke(
        bot_app, ["flags", "check", "--content", str(published)], env={"FIML_FLAGS_FILE": ""}
    )
    assert (
        checked.exit_code == 0
        and "canary.what_is_a_market: 1.1.0 running for 40 % of new starts; the others get 1.0.0"
        in checked.output
    )
