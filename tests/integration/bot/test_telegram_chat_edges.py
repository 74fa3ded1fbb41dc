"""The chat's edges of issue 26 on Telegram, through python-telegram-bot's real update processing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from telegram import Update

from fiml_bot.adapters.telegram import build_application
from testing.cli import cli
from testing.fakebotapi import NO_LIMITS, FakeBotApi
from testing.tutor_driver import make_tutor, progress_of

CHAT = 5151
MARKET = "what_is_a_market"


def test_words_zones_unknown_commands_and_settings_on_telegram(git_repo: Path) -> None:
    assert cli("tag", MARKET).exit_code == 0
    fake = FakeBotApi(rate_limits=NO_LIMITS)
    tutor, content = make_tutor(git_repo)
    app = build_application(tutor, fake.default_token, builder=fake.application_builder(), rate_limit=False)

    def bot_messages() -> list:
        return [m for m in fake.messages(CHAT) if m.from_bot]

    async def deliver(update: dict) -> None:
        await app.process_update(Update.de_json(update, app.bot))

    async def say(text: str) -> None:
        await deliver(fake.user_message(CHAT, text, enqueue=False))

    async def tap(label: str) -> None:
        message = [m for m in bot_messages() if m.buttons][-1]
        data = next(d for t, d in message.buttons if label in t)
        await deliver(fake.callback(CHAT, message.message_id, data, enqueue=False))

    async def scenario() -> None:
        await app.initialize()
        try:
            await say("/start")
            await tap("Lessons")
            await tap("What Is a Market?")
            for _ in content.latest(MARKET).sections:
                await tap("Next" if "Next" in str(fake.last_buttons(CHAT)) else "Start the quiz")
            await say("matching buy and sell orders under fixed rules")
            assert "✅ Correct!" in bot_messages()[-1].text
            await say("TRUE")  # q2's key is false: marked, not "I didn't understand"
            assert "❌ Not quite. The answer is false." in bot_messages()[-1].text
            await say("maybe")  # q3 is asked again, with its own buttons
            last = bot_messages()[-1]
            assert "question 3/5" in last.text and last.buttons[0][0].startswith("1. By calling")
            await say("1")  # a number is its option
            assert "❌ Not quite" in bot_messages()[-1].text and "question 4/5" in bot_messages()[-1].text
            before = len(bot_messages())
            await say("/foo")
            replies = bot_messages()[before:]
            assert len(replies) == 1 and "don't know the command /foo" in replies[0].text
            assert [label for label, _ in replies[0].buttons] == ["📚 Lessons", "📈 My progress"]
            await say("/timezone")
            assert "Your time zone is UTC" in bot_messages()[-1].text
            await say("/timezone europe/berlin")
            assert "Time zone set to Europe/Berlin" in bot_messages()[-1].text
            await say("/settings")
            assert "Messages I may send you on my own" in bot_messages()[-1].text
        finally:
            await app.shutdown()

    asyncio.run(scenario())
    answers = progress_of(tutor, f"telegram:{CHAT}", MARKET).answers
    assert [(a.question_id, a.given) for a in answers] == [("q1", "1"), ("q2", "t"), ("q3", "0")]
