"""Update notices through the Bot API (python-telegram-bot): the `NoticeSender` that
`fiml_bot.notify.broadcast` sends through.

It turns a notice's `Message` into Telegram's HTML in chunks of at most 4096 characters (the buttons on
the last one), sends one chunk per call, and translates PTB's errors into notify's own: `Blocked` (403),
`RetryLater` (429, with the seconds to wait) and `NotDelivered` (any other failure), each with the
metric label of the Bot API's error kind.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import Forbidden, RetryAfter, TelegramError

from ..notify import PAID_STARS_PER_MESSAGE, Blocked, NotDelivered, Notice, RetryLater
from ..tutor.messages import Message
from .rate_limiter import retry_seconds
from .telegram import error_code, html_messages, keyboard


@dataclass(frozen=True)
class Chunk:
    """One sendMessage: HTML text, and the buttons when it is a message's last chunk."""

    html: str
    markup: InlineKeyboardMarkup | None


def chunks(message: Message) -> list[Chunk]:
    parts = html_messages(message.text)
    return [Chunk(part, keyboard(message) if i == len(parts) - 1 else None) for i, part in enumerate(parts)]


def paid_cost(notices: Iterable[Notice]) -> tuple[int, float]:
    """(messages, Telegram Stars at most) of sending `notices` as a paid broadcast (long texts split)."""
    messages = sum(len(html_messages(notice.message().text)) for notice in notices)
    return messages, round(messages * PAID_STARS_PER_MESSAGE, 1)


class TelegramNoticeSender:
    """Sends notices through `bot`; `paid`: with `allow_paid_broadcast` (Telegram bills 0.1 Stars each).

    An async context manager: it opens and closes the bot's connection.
    """

    def __init__(self, bot: Bot, *, paid: bool = False) -> None:
        self.bot = bot
        self.paid = paid

    @classmethod
    def for_token(
        cls, token: str, *, base_url: str | None = None, rate_limiter: Any = None, paid: bool = False
    ) -> TelegramNoticeSender:
        """A sender with its own `ExtBot` (so that `rate_limiter`, the fleet's budget, paces every send)."""
        from telegram.ext import ExtBot

        options: dict[str, Any] = {"rate_limiter": rate_limiter}
        if base_url:
            options["base_url"] = base_url
        return cls(ExtBot(token, **options), paid=paid)

    async def __aenter__(self) -> TelegramNoticeSender:
        await self.bot.__aenter__()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.bot.__aexit__(kind, exc, tb)

    def parts(self, message: Message) -> list[Chunk]:
        return chunks(message)

    async def send(self, chat_id: int, part: Chunk) -> None:
        try:
            await self.bot.send_message(
                chat_id,
                part.html,
                parse_mode=ParseMode.HTML,
                reply_markup=part.markup,
                allow_paid_broadcast=True if self.paid else None,
            )
        except RetryAfter as exc:
            raise RetryLater(str(exc), error_code(exc), retry_seconds(exc)) from exc
        except Forbidden as exc:
            raise Blocked(str(exc), error_code(exc)) from exc
        except TelegramError as exc:
            raise NotDelivered(str(exc), error_code(exc)) from exc
