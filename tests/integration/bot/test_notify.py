"""`fiml-bot notify --since REF`: who is told about which update, at most once, at the rate limit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from telegram import Bot

from fiml_bot import notify
from fiml_bot.adapters.notify_sender import TelegramNoticeSender
from fiml_bot.tutor.callbacks import encode
from fiml_bot.tutor.events import Pressed, Start
from testing.cli import cli
from testing.fakebotapi import NO_LIMITS, FakeBotApi, RateLimits
from testing.repo import git
from testing.tutor_driver import Learner, make_tutor

MARKET = "what_is_a_market"
OTHER = "risk_and_return"


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD")


def bump(lesson: str, level: str, message: str) -> None:
    result = cli("bump", lesson, level, "-m", message, "--commit", "--tag")
    assert result.exit_code == 0, result.output


def learners(tutor, chats: list[int], lesson: str = MARKET, finish: bool = False) -> None:
    for chat in chats:
        learner = Learner(tutor, f"telegram:{chat}")
        learner.send(Start())
        learner.send(Pressed(encode("o", lesson)))
        if finish:
            learner.read_to_quiz()
            for _ in tutor.content.latest(lesson).quiz.questions:
                learner.answer_current()


async def notify_through(bot: Bot, tutor, ref: str, **kwargs):
    """`notify.notify` as `fiml-bot notify` wires it: Telegram sender, the tutor's store and content."""
    async with TelegramNoticeSender(bot) as sender:
        return await notify.notify(
            sender, tutor.content, tutor.unit_of_work, ref, deactivate=tutor.deactivate, **kwargs
        )


def run(fake: FakeBotApi, tutor, ref: str, **kwargs):
    return asyncio.run(notify_through(Bot(**fake.bot_kwargs()), tutor, ref, **kwargs))


def sent_to(fake: FakeBotApi) -> list[int]:
    return [int(c.params["chat_id"]) for c in fake.calls_to("sendMessage") if c.ok]


def test_the_right_learners_get_one_message_each(published: Path) -> None:
    tutor, content = make_tutor(published)
    learners(tutor, [101, 102])  # in progress on the lesson
    learners(tutor, [103], finish=True)  # completed it
    learners(tutor, [104], lesson=OTHER)  # another lesson
    Learner(tutor, "console:local").send(Pressed(encode("o", MARKET)))  # not on Telegram
    ref = head(published)
    bump(MARKET, "minor", "Added a section on auctions")
    content.refresh()

    fake = FakeBotApi(rate_limits=NO_LIMITS)
    notices, report = run(fake, tutor, ref)
    assert sorted(n.learner_id for n in notices) == ["telegram:101", "telegram:102", "telegram:103"]
    assert sorted(sent_to(fake)) == [101, 102, 103]
    assert report.sent == 3 and not report.failed and not fake.errors()
    message = fake.last_sent(101)
    new = content.latest(MARKET)
    assert (
        new.title in message.text
        and new.version in message.text
        and "Added a section on auctions" in message.text
    )
    assert fake.last_buttons(101) == [("📖 Open the lesson", encode("o", MARKET))]

    again, report = run(fake, tutor, ref)  # resumable: a second run sends nothing
    assert len(again) == 3 and report.sent == 0 and report.already == 3
    assert sorted(sent_to(fake)) == [101, 102, 103]


def test_a_patch_only_update_sends_nothing(published: Path) -> None:
    tutor, content = make_tutor(published)
    learners(tutor, [201])
    ref = head(published)
    bump(MARKET, "patch", "Fixed a typo")
    content.refresh()
    fake = FakeBotApi(rate_limits=NO_LIMITS)
    notices, report = run(fake, tutor, ref)
    assert notices == [] and report.sent == 0 and sent_to(fake) == []
    assert notify.updates_since(content, ref) == {}


def test_a_major_update_is_announced_and_nothing_before_ref_counts(published: Path) -> None:
    tutor, content = make_tutor(published)
    learners(tutor, [301])
    bump(MARKET, "minor", "Before the reference")
    ref = head(published)
    bump(MARKET, "major", "A new quiz")
    content.refresh()
    updates = notify.updates_since(content, ref)
    assert [(u.base, u.new, u.level.label) for u in updates.values()] == [("1.1.0", "2.0.0", "major")]
    notices, report = run(FakeBotApi(rate_limits=NO_LIMITS), tutor, ref)
    assert [n.since for n in notices] == ["1.0.0"] and report.sent == 1
    text = notices[0].message().text  # both entries since the learner's own version
    assert "A new quiz" in text and "Before the reference" in text


def test_a_blocked_learner_is_skipped_and_marked_inactive(published: Path) -> None:
    tutor, content = make_tutor(published)
    learners(tutor, [401, 402])
    ref = head(published)
    bump(MARKET, "minor", "More examples")
    content.refresh()
    fake = FakeBotApi(rate_limits=NO_LIMITS)
    fake.block(401)
    _, report = run(fake, tutor, ref)
    assert report.blocked == ["telegram:401"] and report.sent == 1 and sent_to(fake) == [402]
    with tutor.unit_of_work() as uow:
        assert uow.progress.learner("telegram:401").active is False
    notices, _ = run(fake, tutor, ref)  # inactive learners are not selected again
    assert [n.learner_id for n in notices] == ["telegram:402"]


class Crash(Exception):
    pass


class CrashingBot(Bot):
    """Dies (like a killed process) right after its N-th successful sendMessage."""

    def __init__(self, crash_after: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self._left = crash_after

    async def send_message(self, *args, **kwargs):  # type: ignore[override]
        result = await super().send_message(*args, **kwargs)
        self._left -= 1
        if self._left == 0:
            raise Crash()
        return result


def test_an_interrupted_run_then_a_rerun_messages_nobody_twice(published: Path) -> None:
    tutor, content = make_tutor(published)
    chats = list(range(501, 509))
    learners(tutor, chats)
    ref = head(published)
    bump(MARKET, "minor", "New chart")
    content.refresh()
    fake = FakeBotApi(rate_limits=NO_LIMITS)

    async def crashing() -> None:
        await notify_through(CrashingBot(3, **fake.bot_kwargs()), tutor, ref, rate=1000)

    with pytest.raises(Crash):
        asyncio.run(crashing())
    first = sent_to(fake)
    assert len(first) >= 3 and len(set(first)) == len(first)
    _, report = run(fake, tutor, ref, rate=1000)
    assert report.already >= len(first) and report.already + report.sent == len(chats)
    final = sent_to(fake)
    assert len(set(final)) == len(final), "nobody twice"
    # at most one notice per other lane was recorded, then cut off by the crash: lost, never doubled
    assert len(final) >= len(chats) - (notify.DEFAULT_LANES - 1)


def test_25_messages_per_second_get_no_429(published: Path) -> None:
    tutor, content = make_tutor(published)
    chats = list(range(1000, 1050))
    learners(tutor, chats)
    ref = head(published)
    bump(MARKET, "minor", "Faster")
    content.refresh()
    fake = FakeBotApi(rate_limits=RateLimits())  # answers 429 to a burst over Telegram's limits
    _, report = run(fake, tutor, ref)
    assert report.sent == 50 and report.retries == 0
    assert fake.errors(429) == [] and sorted(sent_to(fake)) == chats  # paced, not burst


def test_retry_after_is_honoured(published: Path) -> None:
    tutor, content = make_tutor(published)
    learners(tutor, [601, 602])
    ref = head(published)
    bump(MARKET, "minor", "Again")
    content.refresh()
    fake = FakeBotApi(rate_limits=NO_LIMITS)
    fake.fail_next("sendMessage", error_code=429, retry_after=1)
    _, report = run(fake, tutor, ref, rate=1000)
    assert report.retries == 1 and report.sent == 2 and sorted(sent_to(fake)) == [601, 602]


def test_cli_dry_run(published: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from fiml_bot.cli import app

    database = f"sqlite:///{tmp_path / 'bot.db'}"
    ref = head(published)
    bump(MARKET, "minor", "CLI")
    result = CliRunner().invoke(
        app, ["notify", "--since", ref, "--dry-run", "--content", str(published), "--database", database]
    )
    assert result.exit_code == 0, result.output
    assert f"{MARKET}: 1.0.0 -> 1.1.0 (minor)" in result.output and "0 notice(s)" in result.output


def test_an_unknown_ref_is_a_content_error(published: Path) -> None:
    from fiml_cms.errors import ContentError

    _, content = make_tutor(published)
    with pytest.raises(ContentError, match="unknown git ref"):
        notify.updates_since(content, "no-such-ref")


def test_cli_paid_broadcast_prints_the_cost_then_needs_yes(
    published: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from fiml_bot.cli import app
    from fiml_bot.storage import open_storage
    from testing.fakebotapi import DEFAULT_TOKEN, FakeBotApiServer

    database = f"sqlite:///{tmp_path / 'bot.db'}"
    with open_storage(database, auto_upgrade=True) as storage:
        tutor, _ = make_tutor(published, storage)
        learners(tutor, [701, 702, 703])
    ref = head(published)
    bump(MARKET, "minor", "Paid")
    fake = FakeBotApi(rate_limits=RateLimits())
    args = ["notify", "--since", ref, "--paid-broadcast", "--content", str(published), "--database", database]
    with FakeBotApiServer(fake) as server:
        monkeypatch.setenv("FIML_TELEGRAM_TOKEN", DEFAULT_TOKEN)
        monkeypatch.setenv("FIML_TELEGRAM_API_URL", server.base_url)
        refused = CliRunner().invoke(app, args)
        assert (
            refused.exit_code == 1
            and "paid broadcast: 3 message(s), up to 0.3 Telegram Stars" in refused.output
        )
        assert "give --yes" in refused.output and fake.calls_to("sendMessage") == []
        paid = CliRunner().invoke(app, [*args, "--yes"])
    assert paid.exit_code == 0, paid.output
    sends = fake.calls_to("sendMessage")
    assert sorted(sent_to(fake)) == [701, 702, 703] and all(
        c.params.get("allow_paid_broadcast") in (True, "true") for c in sends
    )
    assert "3 sent" in paid.output and fake.errors(429) == []


def test_cli_summary_counts_the_429s_the_budget_retried(
    published: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 28: the limiter pauses and retries a 429 itself; notify's summary still counts them."""
    from typer.testing import CliRunner

    from fiml_bot.cli import app
    from fiml_bot.storage import open_storage
    from testing.fakebotapi import DEFAULT_TOKEN, FakeBotApiServer

    database = f"sqlite:///{tmp_path / 'bot.db'}"
    with open_storage(database, auto_upgrade=True) as storage:
        tutor, _ = make_tutor(published, storage)
        learners(tutor, [801, 802])
    ref = head(published)
    bump(MARKET, "minor", "Counted")
    fake = FakeBotApi(rate_limits=RateLimits())
    fake.fail_next("sendMessage", times=2, error_code=429, retry_after=1)
    with FakeBotApiServer(fake) as server:
        monkeypatch.setenv("FIML_TELEGRAM_TOKEN", DEFAULT_TOKEN)
        monkeypatch.setenv("FIML_TELEGRAM_API_URL", server.base_url)
        result = CliRunner().invoke(
            app, ["notify", "--since", ref, "--content", str(published), "--database", database]
        )
    assert result.exit_code == 0, result.output
    assert sorted(sent_to(fake)) == [801, 802] and len(fake.errors(429)) == 2
    assert "2 sent" in result.output and "2 rate-limit retries" in result.output
