"""The Telegram adapter: python-telegram-bot updates in, tutor events; tutor messages out.

Thin by design: a handler names the learner (`telegram:<user id>`), turns the update into an event,
lets the tutor apply it in one transaction (keyed by the `update_id`, so a redelivered update is
applied once), and renders the replies: the shared message (fiml_cms/message.py) as HTML with
everything escaped, inline keyboards, `answerCallbackQuery` on every button; only texts no rule
bounds (lists, reports) are split over 4,096 UTF-16 units. Nothing a
second replica would need is kept in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import html
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from fiml_cms.errors import FimlError
from fiml_cms.message import CAPTION_LIMIT, Markup, convert
from fiml_cms.message import chunks as split

from ..keys.parsing import NOT_STORED
from ..keys.parsing import parse as key_command
from ..outage import OutageNotices
from ..redaction import masked, redact
from ..tutor.engine import STORAGE_DOWN, Tutor
from ..tutor.events import (
    Event,
    Pressed,
    Text,
    command_event,
)
from ..tutor.messages import Message
from ..tutor.observe import FAILED
from ..tutor.ports import StorageUnavailable
from .bot_api_http import bot_api_request
from .rate_limiter import BudgetMetrics, FleetRateLimiter
from .send_budget import MemoryBudget, SendBudget

if TYPE_CHECKING:
    from ..keys.commands import KeyCommands
    from ..marketdata.service import MarketData

log = logging.getLogger("fiml_bot.telegram")


class TokenRejected(FimlError):
    """Telegram refused the bot token (exit 2, like any other bad setting)."""

    def __init__(self, token: str) -> None:
        super().__init__(
            f"Telegram rejected the bot token {masked(token)} (FIML_TELEGRAM_TOKEN): copy it again from @BotFather"
        )


class BotApiUnreachable(FimlError):
    """The Bot API cannot be reached at start (or while sending): an environment problem, exit 2."""

    def __init__(self, base_url: str | None, detail: str) -> None:
        where = base_url or "https://api.telegram.org/bot"
        super().__init__(
            f"cannot reach the Telegram Bot API at {where} ({detail}): check FIML_TELEGRAM_API_URL "
            "(or --api-base-url), that the server runs, and the network"
        )


def _unreachable(exc: BaseException | None) -> bool:
    """A network failure (not Telegram's answer to a request: BadRequest is a NetworkError in PTB)."""
    return isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)


class _WithoutInvalidToken(logging.Filter):
    """Drops PTB's own log record of the rejected token (a traceback): TokenRejected says it in one
    line; and of the Bot API not reached at start-up (BotApiUnreachable says it in one line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, InvalidToken):
            return False
        return not (_unreachable(error) and "Bootstrap" in record.getMessage())


@contextlib.contextmanager
def token_rejection(token: str, base_url: str | None = None) -> Iterator[None]:
    """Turn PTB's InvalidToken (whose message and traceback carry the whole token) into TokenRejected,
    and a Bot API that cannot be reached (at `base_url`) into BotApiUnreachable: both exit 2."""
    quiet = _WithoutInvalidToken()
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        yield
    except InvalidToken:
        raise TokenRejected(token) from None
    except NetworkError as exc:
        if not _unreachable(exc):
            raise
        raise BotApiUnreachable(base_url, redact(str(exc), [token])) from None
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)


COMMANDS = (
    ("start", "Start learning"),
    ("lessons", "Browse the lessons"),
    ("progress", "Your XP, level, streak and badges"),
    ("timezone", "Set your time zone, e.g. /timezone Europe/Berlin"),
    ("report", "Report a problem in the section or question you are at"),
    ("settings", "Which messages I may send you"),
    ("help", "What I can do"),
    ("listkeys", "Your data-provider keys (add one: /addkey finnhub KEY)"),
)
HTML = Markup(
    escape=lambda text: html.escape(text, quote=False),
    bold=lambda inner: f"<b>{inner}</b>",
    italic=lambda inner: f"<i>{inner}</i>",
    code=lambda inner: f"<code>{inner}</code>",
)


def to_html(text: str) -> str:
    """The tutor's Markdown subset (fiml_cms/message.py) as Telegram HTML; everything else is escaped."""
    return convert(text, HTML)


def html_messages(text: str) -> list[str]:
    """The HTML of the messages `text` goes out as: one, unless no rule bounds it (lists, reports)."""
    return [to_html(chunk) for chunk in split(text)]


def keyboard(message: Message) -> InlineKeyboardMarkup | None:
    if not message.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in message.buttons]
    )


def event_for(update: Update) -> Event | None:
    """The tutor event an update stands for; None for updates the bot ignores."""
    if update.callback_query is not None:
        return Pressed(update.callback_query.data or "")
    message = update.effective_message
    if message is None or message.text is None:
        return None
    text = message.text.strip()
    return command_event(text) if text.startswith("/") else Text(text)


WEBHOOK_ANSWER: ContextVar[list[dict[str, Any]] | None] = ContextVar("fiml_webhook_answer", default=None)
"""Set by the webhook server around one update: the Bot API call its HTTP answer will carry."""

SERVING_CANARY: ContextVar[bool] = ContextVar("fiml_serving_canary", default=False)
"""Set by the webhook server around an update HAProxy routed to the canary color of a running
release: a bug then fails the update (no apology; Telegram redelivers it, to the old color once the
release is rolled back) instead of answering it as done."""


def carry_in_webhook_answer(callback_query_id: str) -> bool:
    """Leave answerCallbackQuery to the webhook's HTTP answer when there is one; False in polling mode."""
    carried = WEBHOOK_ANSWER.get()
    if carried is None or carried:
        return False
    carried.append({"method": "answerCallbackQuery", "callback_query_id": callback_query_id})
    return True


class PerLearnerOrder(BaseUpdateProcessor):
    """Updates of one learner are applied in order; different learners are served concurrently."""

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        user = update.effective_user if isinstance(update, Update) else None
        if user is None:
            await coroutine
            return
        lock = self._locks[user.id]
        try:
            async with lock:
                await coroutine
        finally:
            if not lock.locked() and not lock._waiters:
                self._locks.pop(user.id, None)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


def update_kind(update: Update) -> str:
    return (
        "callback_query"
        if update.callback_query is not None
        else "message"
        if update.message is not None
        else "other"
    )


def error_code(exc: TelegramError) -> str:
    """A Bot API failure as a metric label: the HTTP status it stands for, or timeout/network."""
    for kind, code in (
        (RetryAfter, "429"),
        (Forbidden, "403"),
        (BadRequest, "400"),
        (TimedOut, "timeout"),
        (NetworkError, "network"),
    ):
        if isinstance(exc, kind):
            return code
    return "other"


class UpdateMetrics(Protocol):
    def update_done(self, kind: str, outcome: str, seconds: float) -> None: ...

    def telegram_error(self, method: str, code: str) -> None: ...


class TelegramAdapter:
    def __init__(
        self,
        tutor: Tutor,
        *,
        send_retries: int = 3,
        metrics: UpdateMetrics | None = None,
        market: MarketData | None = None,
        keys: KeyCommands | None = None,
    ) -> None:
        self.tutor = tutor
        self.send_retries = send_retries
        self.metrics = metrics
        self.market = market
        self.keys = keys
        self.outage = OutageNotices()

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if self.metrics is None:
            await self._on_update(update, context)
            return
        started, outcome = time.perf_counter(), FAILED
        try:
            outcome = await self._on_update(update, context)
        finally:
            self.metrics.update_done(update_kind(update), outcome, time.perf_counter() - started)

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
        """Handle one update; the outcome of the tutor's action (ok, user_error, failed)."""
        user = update.effective_user
        event = event_for(update)
        query = update.callback_query
        if user is None or event is None:
            if query is not None and not carry_in_webhook_answer(query.id):
                await self._safely(query.answer(), "answerCallbackQuery")
            return "ok"
        learner = f"telegram:{user.id}"
        chat = update.effective_chat
        message = update.effective_message
        if query is None and message is not None and message.text and chat is not None:
            command = key_command(message.text)
            if command is not None:
                await self._key_command(context, learner, chat.id, message.message_id, command)
                return "ok"
        # In webhook mode the HTTP answer carries answerCallbackQuery (one call fewer); in polling mode
        # the button's spinner stops while the tutor's transaction runs: the two overlap.
        answered = None
        if query is not None and not carry_in_webhook_answer(query.id):
            answered = asyncio.ensure_future(self._safely(query.answer(), "answerCallbackQuery"))
        try:
            replies, outcome = await asyncio.to_thread(
                self.tutor.handle_reporting,
                learner,
                event,
                event_key=f"telegram:{update.update_id}",
                name=user.first_name or "",
                raise_unavailable=True,
                language=user.language_code or "",
                raise_unexpected=SERVING_CANARY.get(),
            )
        except StorageUnavailable:
            # Nothing was applied: say so, and fail the update, so a webhook answers 500 and
            # Telegram delivers it again once the database is back.
            # Told once per outage: redeliveries and repeated presses stay silent.
            if chat is not None and self.outage.first_notice(learner):
                await self._safely(self._send(context, chat.id, Message(STORAGE_DOWN)), "sendMessage")
            raise
        finally:
            if answered is not None:
                await answered
        self.outage.recovered()
        if chat is None:
            return outcome
        try:
            for index, reply in enumerate(replies):
                if reply.live is not None and self.market is not None:
                    shown = await self.market.show(reply.live, learner)
                    reply = replace(reply, text=shown.text)
                    if shown.photo is not None:
                        await self._send_photo(context, chat.id, reply, shown.photo)
                        continue
                if index == 0 and reply.replace and query is not None and query.message is not None:
                    await self._edit(context, chat.id, query.message.message_id, reply)
                else:
                    await self._send(context, chat.id, reply)
        except Forbidden:
            log.info("learner %s blocked the bot; marking them inactive", learner)
            await asyncio.to_thread(self.tutor.deactivate, learner)
        return outcome

    async def _key_command(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        learner: str,
        chat_id: int,
        message_id: int,
        command: tuple[str, str],
    ) -> None:
        """/addkey, /listkeys, /removekey: a message carrying a key is deleted before anything else."""
        if command[0] == "addkey":
            await self._safely(context.bot.delete_message(chat_id, message_id), "deleteMessage")
        reply = await self.keys.handle(learner, *command) if self.keys is not None else NOT_STORED
        await self._send(context, chat_id, Message(reply))

    async def _send(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, reply: Message) -> None:
        chunks = html_messages(reply.text)
        for i, chunk in enumerate(chunks):
            markup = keyboard(reply) if i == len(chunks) - 1 else None
            await self._with_retries(
                "sendMessage",
                functools.partial(
                    context.bot.send_message, chat_id, chunk, parse_mode=ParseMode.HTML, reply_markup=markup
                ),
            )

    async def _send_photo(
        self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, reply: Message, photo: bytes
    ) -> None:
        """A chart: the picture with the text as its caption (a caption over 1,024 characters goes on
        in text messages after it; the buttons sit under the last one)."""
        chunks = split(reply.text, CAPTION_LIMIT)
        rest = html_messages("\n\n".join(chunks[1:])) if len(chunks) > 1 else []
        await self._with_retries(
            "sendPhoto",
            functools.partial(
                context.bot.send_photo,
                chat_id,
                photo,
                caption=to_html(chunks[0]),
                parse_mode=ParseMode.HTML,
                reply_markup=None if rest else keyboard(reply),
            ),
        )
        for i, chunk in enumerate(rest):
            markup = keyboard(reply) if i == len(rest) - 1 else None
            await self._with_retries(
                "sendMessage",
                functools.partial(
                    context.bot.send_message, chat_id, chunk, parse_mode=ParseMode.HTML, reply_markup=markup
                ),
            )

    async def _edit(
        self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, message_id: int, reply: Message
    ) -> None:
        chunks = html_messages(reply.text)
        if len(chunks) > 1:
            await self._send(context, chat_id, reply)
            return
        try:
            await self._with_retries(
                "editMessageText",
                lambda: context.bot.edit_message_text(
                    chunks[0], chat_id, message_id, parse_mode=ParseMode.HTML, reply_markup=keyboard(reply)
                ),
            )
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return
            if any(
                part in str(exc).lower()
                for part in ("not found", "can't be edited", "no text in the message")
            ):
                await self._send(context, chat_id, reply)
                return
            raise

    async def _with_retries(self, method: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """Network errors are retried with backoff; RetryAfter is the rate limiter's business."""
        delay = 0.5
        for attempt in range(self.send_retries + 1):
            try:
                return await call()
            except TelegramError as exc:
                self._count_error(method, exc)
                if not isinstance(exc, (TimedOut, NetworkError)):
                    raise
                if isinstance(exc, (BadRequest, Forbidden, RetryAfter)) or attempt == self.send_retries:
                    raise
                log.warning("network error talking to Telegram (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay *= 2
        return None  # pragma: no cover

    def _count_error(self, method: str, exc: TelegramError) -> None:
        if self.metrics is not None:
            self.metrics.telegram_error(method, error_code(exc))

    async def _safely(self, awaitable: Awaitable[Any], method: str) -> None:
        try:
            await awaitable
        except (BadRequest, Forbidden, NetworkError) as exc:  # e.g. a query too old to answer: nothing to do
            if method == "answerCallbackQuery":  # sends count their errors where they are retried
                self._count_error(method, exc)
            log.info("a best-effort call to Telegram failed: %s", exc)


async def _register_commands(application: Application) -> None:
    await application.bot.set_my_commands([BotCommand(name, text) for name, text in COMMANDS])


CONCURRENT_UPDATES = 8  # learners served at once: with ~50-100 ms per Bot API round trip, > 30 updates/s
CONNECTION_POOL = (
    8  # one connection per learner served; httpcore scans them (and the queued calls) per request
)
POOL_TIMEOUT = 10.0  # seconds a call may wait for a free connection (PTB's default of 1 s fails bursts)


def default_builder(token: str) -> ApplicationBuilder:
    """PTB's builder with a bounded connection pool.

    The connections run on `asyncio_network` rather than anyio (less CPU per call). PTB's default
    pool of 256 grows to one connection per concurrent update (64 were served at once),
    and httpcore looks at every pooled connection for every queued call on every request: with ~150
    connections that was the largest CPU cost per update (bench/telegram_budget.py). Sends are
    limited to 30/s by the budget anyway; 8 learners at once keep 8 connections busy.
    """
    return (
        ApplicationBuilder()
        .token(token)
        .request(bot_api_request(CONNECTION_POOL, pool_timeout=POOL_TIMEOUT))
        .get_updates_request(bot_api_request(1))
    )


def build_application(
    tutor: Tutor,
    token: str,
    *,
    base_url: str | None = None,
    builder: ApplicationBuilder | None = None,
    rate_limit: bool = True,
    budget: SendBudget | None = None,
    metrics: UpdateMetrics | None = None,
    market: MarketData | None = None,
    keys: KeyCommands | None = None,
) -> Application:
    """The PTB application: one handler for everything, per-learner ordering, Telegram's rate limits
    (the fleet's shared `budget`, else one for this process alone)."""
    builder = builder or default_builder(token)
    if base_url:
        builder = builder.base_url(base_url)
    if rate_limit:
        counts = metrics if isinstance(metrics, BudgetMetrics) else None  # 429s and fallbacks
        builder = builder.rate_limiter(FleetRateLimiter(budget or MemoryBudget(), metrics=counts))
    application = (
        builder.concurrent_updates(PerLearnerOrder(CONCURRENT_UPDATES)).post_init(_register_commands).build()
    )
    adapter = TelegramAdapter(tutor, metrics=metrics, market=market, keys=keys)
    application.add_handler(CallbackQueryHandler(adapter.on_update))
    application.add_handler(MessageHandler(filters.TEXT, adapter.on_update))
    return application
