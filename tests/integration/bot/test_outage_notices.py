"""Issue 10.12: during a database outage a learner is told once, not once per delivery or press."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fiml_bot.outage import OutageNotices
from testing.fakebotapi import NO_LIMITS, FakeBotApi, apost_update
from testing.webhook import CHAT, SECRET, InProcess, tutor_with_outage

OTHER_CHAT = 5252


@pytest.fixture
def fake() -> FakeBotApi:
    return FakeBotApi(rate_limits=NO_LIMITS)


def down_notices(fake: FakeBotApi, chat: int) -> int:
    return sum("can't reach my records" in m.text for m in fake.messages(chat))


def test_redeliveries_and_repeated_presses_tell_the_learner_once_per_outage(
    published: Path, fake: FakeBotApi
) -> None:
    tutor, down = tutor_with_outage(published)

    async def scenario() -> None:
        async with InProcess(tutor, fake) as h:
            start = fake.user_message(CHAT, "/start", enqueue=False)
            for _ in range(3):  # Telegram's redeliveries of the same update
                assert await apost_update(h.url, start, secret_token=SECRET) == 500
            assert (
                await apost_update(
                    h.url, fake.user_message(CHAT, "/help", enqueue=False), secret_token=SECRET
                )
                == 500
            )
            assert down_notices(fake, CHAT) == 1
            assert (
                await apost_update(
                    h.url, fake.user_message(OTHER_CHAT, "/start", enqueue=False), secret_token=SECRET
                )
                == 500
            )
            assert down_notices(fake, OTHER_CHAT) == 1  # another learner is told too

            down["yes"] = False  # the outage ends
            assert await apost_update(h.url, start, secret_token=SECRET) == 200
            assert "Welcome" in fake.messages(CHAT)[-1].text

            down["yes"] = True  # a new outage is news again
            assert (
                await apost_update(
                    h.url, fake.user_message(CHAT, "/progress", enqueue=False), secret_token=SECRET
                )
                == 500
            )
            assert (
                await apost_update(
                    h.url, fake.user_message(CHAT, "/progress", enqueue=False), secret_token=SECRET
                )
                == 500
            )
            assert down_notices(fake, CHAT) == 2

    asyncio.run(scenario())


def test_the_memory_is_bounded() -> None:
    notices = OutageNotices(limit=2)
    assert [notices.first_notice(x) for x in ("a", "b", "c", "a")] == [True, True, False, False]
    notices.recovered()
    assert notices.first_notice("c")
