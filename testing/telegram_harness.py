"""python-telegram-bot's real update processing in process, against the in-process fake Bot API."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from telegram import Update

from fiml_bot.adapters.telegram import build_application
from testing.fakebotapi import NO_LIMITS, FakeBotApi
from testing.tutor_driver import make_tutor

if TYPE_CHECKING:
    from fiml_bot.marketdata.service import MarketData

CHAT = 4242


class Harness:
    """A PTB Application on the fake; `send` delivers one update through `process_update`.

    `preview` serves the lessons folder as it is (a test that edits lessons without publishing them);
    `market` is the market-data service live sections are filled from (None: their fallback)."""

    def __init__(self, root: Path, *, preview: bool = False, market: MarketData | None = None) -> None:
        self.fake = FakeBotApi(rate_limits=NO_LIMITS)
        self.tutor, self.content = make_tutor(root, preview=preview)
        self.app = build_application(
            self.tutor,
            self.fake.default_token,
            builder=self.fake.application_builder(),
            rate_limit=False,
            market=market,
        )

    async def __aenter__(self) -> Harness:
        await self.app.initialize()
        await self.app.post_init(self.app)  # type: ignore[misc]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.app.shutdown()

    async def deliver(self, update: dict) -> None:
        await self.app.process_update(Update.de_json(update, self.app.bot))

    async def say(self, text: str) -> None:
        await self.deliver(self.fake.user_message(CHAT, text, enqueue=False))

    async def tap(self, label: str) -> None:
        message = [m for m in self.fake.messages(CHAT) if m.from_bot and m.buttons][-1]
        data = next(d for t, d in message.buttons if label in t)
        await self.deliver(self.fake.callback(CHAT, message.message_id, data, enqueue=False))

    def last_text(self) -> str:
        return [m for m in self.fake.messages(CHAT) if m.from_bot][-1].text

    def bot_texts(self) -> str:
        return "\n".join(m.text for m in self.fake.messages(CHAT) if m.from_bot)
