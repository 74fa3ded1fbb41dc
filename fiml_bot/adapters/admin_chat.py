"""Alerts to a Telegram admin chat (FIML_ADMIN_CHAT_ID), sent by the bot itself with its own token.

Runs in the alert sender's thread, with an event loop and a Bot of its own, so it never touches the
loop that serves learners.
"""

from __future__ import annotations

import asyncio
import html

from telegram import Bot
from telegram.constants import ParseMode

from ..ops.alerts import Alert


class TelegramAdminChat:
    name = "telegram"

    def __init__(self, token: str, chat_id: int | str, base_url: str | None = None) -> None:
        self.token = token
        self.chat_id = chat_id
        self.base_url = base_url

    def deliver(self, alert: Alert, source: str, timeout: float | None = None) -> None:
        """Send once, over within `timeout` seconds (the alert's deadline) when given."""
        asyncio.run(asyncio.wait_for(self._send(alert, source), timeout))

    async def _send(self, alert: Alert, source: str) -> None:
        bot = Bot(self.token, base_url=self.base_url) if self.base_url else Bot(self.token)
        mark = "✅ resolved: " if alert.ends_at is not None else "🚨 "
        text = f"{mark}<b>{html.escape(alert.name)}</b> ({html.escape(alert.severity)}, {html.escape(source)})\n{html.escape(alert.summary)}"
        if alert.description:
            text += f"\n\n{html.escape(alert.description[:3000])}"
        async with bot:
            await bot.send_message(self.chat_id, text, parse_mode=ParseMode.HTML)
