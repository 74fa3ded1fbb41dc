"""FakeBotApi: Telegram's Bot API as python-telegram-bot sees it, in process, with no network.

The core takes (token, method, parameters) and answers the body Telegram would answer; the transports
(`transport.py` for httpx in process, `server.py` for a loopback HTTP server) only carry bytes.
All state sits behind one lock, so the fake can serve a server's threads and an asyncio loop at once;
only `getUpdates` waits, with a blocking variant (`handle`) and an asyncio one (`handle_async`).

Where Telegram's exact behaviour is not documented the fake errs on the strict side (text length in
UTF-16 code units, a callback query answered at most once) and says so in the docstring concerned.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import itertools
import json
import marshal
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from .formatting import (
    EntityParseError,
    command_entities,
    parse_html,
    strip_text,
    utf16_len,
)
from .values import (
    BLOCKED,
    BUTTON_ACTIONS,
    CHAT_ACTIONS,
    COMMAND_NAME,
    DEFAULT_DESCRIPTIONS,
    DEFAULT_EXCLUDED_UPDATES,
    DEFAULT_TOKEN,
    MAX_CALLBACK_DATA_BYTES,
    MAX_INLINE_BUTTONS,
    MAX_TEXT_LENGTH,
    NOT_MODIFIED,
    POLL_TERMINATED,
    POLL_TERMINATED_BY_WEBHOOK,
    QUERY_INVALID,
    WEBHOOK_CONFLICT,
    AnsweredCallback,
    ApiError,
    Call,
    ChatMessage,
    RateLimits,
    Reply,
    Webhook,
    bad_request,
)
from .wire import UploadedFile, error_body, ok_body

if TYPE_CHECKING:
    import httpx
    from telegram import Bot
    from telegram.ext import ApplicationBuilder

T = TypeVar("T")
MAX_CAPTION_LENGTH = 1024  # a photo's caption, after entity parsing


# ---------------------------------------------------------------------------------------------- state


@dataclass
class _Failure:
    error_code: int
    description: str
    retry_after: int | None


@dataclass
class _Stored:
    raw: dict[str, Any]
    from_bot: bool
    edit_count: int = 0


@dataclass
class _Chat:
    info: dict[str, Any]
    messages: dict[int, _Stored] = field(default_factory=dict)
    next_message_id: int = 1
    deleted: list[int] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.info["id"]


@dataclass
class _CallbackQuery:
    chat_id: int | None
    message_id: int | None
    data: str | None
    answered: bool = False


PAID_BROADCAST_PER_SECOND = 1000  # allow_paid_broadcast: Telegram's ceiling


class _Window:
    """The times of the sends a sliding window of `seconds` still holds; at most `limit` of them."""

    def __init__(self, limit: int, seconds: float):
        self.limit = limit
        self.seconds = seconds
        self.times: collections.deque[float] = collections.deque()

    def wait_needed(self, now: float) -> float:
        while self.times and self.times[0] <= now - self.seconds:
            self.times.popleft()
        if len(self.times) < self.limit:
            return 0.0
        return self.times[len(self.times) - self.limit] + self.seconds - now

    def take(self, now: float) -> None:
        self.times.append(now)


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; (0, 0) for other data (Telegram would convert it)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return 0, 0
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _clone(value: T) -> T:
    """A deep copy of JSON-shaped data; marshal does it in C, several times faster than deepcopy."""
    try:
        return marshal.loads(marshal.dumps(value))
    except ValueError:  # not JSON-shaped (never for what the fake stores, but keep it correct)
        return copy.deepcopy(value)


def _update_type(update: dict[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return None


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1"}
    return bool(value)


def _json_param(value: Any, error: str) -> Any:
    """Telegram accepts JSON-serialized objects as strings in every encoding."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise bad_request(error) from exc
    return value


# ---------------------------------------------------------------------------------------------- the fake


class _Default:
    """The default of `FakeBotApi(rate_limits=...)`: Telegram's documented limits."""


_TELEGRAM = _Default()
#: `FakeBotApi(rate_limits=NO_LIMITS)`: a test that is not about flood control and sends faster than
#: Telegram allows (many messages to one chat within a second) says so by passing this.
NO_LIMITS: RateLimits | None = None


class FakeBotApi:
    """An in-memory Telegram Bot API.

    Args:
        token: if given, requests with another token get 401 "Unauthorized"; if None any token works
            (the bot's id is then the numeric prefix of each request's token).
        bot_username, bot_first_name: what getMe answers.
        rate_limits: flood control (429 with retry_after); by default Telegram's documented limits
            (`RateLimits()`). A test that needs looser ones says so: `rate_limits=NO_LIMITS` (off) or
            limits of its own.
        strict_chats: if True, sending to a chat the fake has never seen (no update built for it, no
            `add_chat`) gets 400 "Bad Request: chat not found", as Telegram does; default lenient.
        max_poll_wait: cap, in seconds, on how long getUpdates waits (Telegram: its `timeout`).
        clock: the time source of the rate limits (inject one to test them without sleeping).
        first_update_id: the first update_id the builders hand out.
        record_calls: keep every Call in `calls` (turn off for long benchmarks).
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        bot_username: str = "fiml_test_bot",
        bot_first_name: str = "FIML Test Bot",
        rate_limits: RateLimits | _Default | None = _TELEGRAM,
        strict_chats: bool = False,
        max_poll_wait: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        first_update_id: int = 1,
        record_calls: bool = True,
    ):
        self.token = token
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.rate_limits: RateLimits | None = (
            RateLimits() if isinstance(rate_limits, _Default) else rate_limits
        )
        self.strict_chats = strict_chats
        self.max_poll_wait = max_poll_wait
        self.clock = clock
        self.record_calls = record_calls

        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

        self._calls: list[Call] = []
        self._chats: dict[int, _Chat] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = first_update_id
        self._webhook: Webhook | None = None
        self._allowed_updates: list[str] = []
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._failures: dict[str, deque[_Failure]] = {}
        self._disconnects: dict[str, deque[bool]] = {}
        self._blocked: set[int] = set()
        self._callback_queries: dict[str, _CallbackQuery] = {}
        self._answers: list[AnsweredCallback] = []
        self._callback_ids = itertools.count(4_000_000_000_000_000_001)
        self._windows: dict[object, _Window] = {}
        self._poll_generation = 0  # bumped by every getUpdates: an older waiting poll is terminated
        self._poll_end_reason = POLL_TERMINATED
        self._polls_waiting = 0
        self._interrupts = 0  # bumped by interrupt_polls(): waiting polls return at once
        self._uploads: tuple[UploadedFile, ...] = ()  # the files of the request being dispatched
        self._photos: dict[str, bytes] = {}  # file_id -> the bytes uploaded with sendPhoto

        self._methods: dict[str, tuple[str, Callable[[str | None, dict[str, Any]], Any]]] = {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": self._get_me,
                "logOut": lambda token, params: True,
                "close": lambda token, params: True,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "sendPhoto": self._send_photo,
                "answerCallbackQuery": self._answer_callback_query,
                "sendChatAction": self._send_chat_action,
                "getUpdates": self._get_updates_now,  # only for the canonical name: handled apart
            }.items()
        }

    # ------------------------------------------------------------------ plugging in (see transport.py)

    def transport(self) -> httpx.MockTransport:
        """An httpx transport answering from this fake, for `HTTPXRequest(httpx_kwargs={"transport": ...})`."""
        from .transport import FakeTransport

        return FakeTransport(self)

    def bot_kwargs(self, token: str | None = None, base_url: str | None = None) -> dict[str, Any]:
        """Keyword arguments for `telegram.Bot(**kwargs)`: token, base_url, request, get_updates_request."""
        from .transport import bot_kwargs

        return bot_kwargs(self, token, base_url)

    def bot(self, token: str | None = None) -> Bot:
        """A `telegram.Bot` wired to this fake (use `async with bot:`)."""
        from telegram import Bot

        return Bot(**self.bot_kwargs(token))

    def application_builder(self, token: str | None = None) -> ApplicationBuilder:
        """A `telegram.ext.ApplicationBuilder` with token, base_url, request and get_updates_request set."""
        from .transport import application_builder

        return application_builder(self, token)

    @property
    def default_token(self) -> str:
        return self.token or DEFAULT_TOKEN

    # ------------------------------------------------------------------ serving requests

    def handle(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        files: Iterable[UploadedFile] = (),
        abandoned: Callable[[], bool] | None = None,
    ) -> Reply:
        """Answer one request; blocks (a thread) while getUpdates long-polls.

        `abandoned`, if given, is polled while getUpdates waits: once it returns True (the client hung
        up, as PTB does when it stops polling) the poll ends unrecorded, like a cancelled async poll.
        """
        params = dict(params or {})
        files = tuple(files)
        token = self.default_token if token is None else token
        with self._lock:
            canonical, early, drop_after = self._prelude(method, params, token, files)
            if early is not None:
                return early
            if canonical != "getUpdates":
                return self._dispatch(canonical, params, token, files, drop_after)
            deadline, generation, interrupts = self._poll_start(params)
            self._polls_waiting += 1
            first = True
            try:
                while True:
                    if abandoned is not None and abandoned():
                        return Reply(0, {}, drop_connection=True)
                    reply = self._poll_step(
                        params, token, generation, interrupts, deadline, drop_after, first
                    )
                    first = False
                    if reply is not None:
                        return reply
                    remaining = max(deadline - time.monotonic(), 0.0)
                    self._changed.wait(remaining if abandoned is None else min(remaining, 0.05))
            finally:
                self._polls_waiting -= 1
                self._notify()

    async def handle_async(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        files: Iterable[UploadedFile] = (),
    ) -> Reply:
        """Answer one request without blocking the event loop (getUpdates waits asynchronously).

        If the awaiting task is cancelled (PTB cancels its pending long poll on `updater.stop()`), the
        poll is abandoned without a Call being recorded and without confirming anything.
        """
        params = dict(params or {})
        files = tuple(files)
        token = self.default_token if token is None else token
        loop = asyncio.get_running_loop()
        with self._lock:
            canonical, early, drop_after = self._prelude(method, params, token, files)
            if early is not None:
                return early
            if canonical != "getUpdates":
                return self._dispatch(canonical, params, token, files, drop_after)
            deadline, generation, interrupts = self._poll_start(params)
            self._polls_waiting += 1
        first = True
        try:
            while True:
                with self._lock:
                    reply = self._poll_step(
                        params, token, generation, interrupts, deadline, drop_after, first
                    )
                    first = False
                    if reply is not None:
                        return reply
                    event = asyncio.Event()
                    waiter = (loop, event)
                    self._async_waiters.append(waiter)
                try:
                    await asyncio.wait_for(event.wait(), max(deadline - time.monotonic(), 0.0))
                except TimeoutError:
                    pass
                finally:
                    with self._lock:
                        if waiter in self._async_waiters:
                            self._async_waiters.remove(waiter)
        finally:
            with self._lock:
                self._polls_waiting -= 1
                self._notify()

    def _prelude(
        self, method: str, params: dict[str, Any], token: str | None, files: tuple[UploadedFile, ...]
    ) -> tuple[str, Reply | None, bool]:
        """Method lookup, token check and injections: what happens before the method runs.

        Returns the canonical method name, a Reply if the method must not run, and whether the answer
        is to be dropped after the method ran (`disconnect_next(after_apply=True)`).
        """
        known = self._methods.get(method.lower())
        if known is None:
            return (
                method,
                self._answer(method, params, token, files, 404, error_body(404, "Not Found")),
                False,
            )
        canonical = known[0]
        if self.token is not None and token != self.token:
            body = error_body(401, "Unauthorized")
            return canonical, self._answer(canonical, params, token, files, 401, body), False
        drop = self._take(self._disconnects, canonical)
        if drop is False:
            return canonical, self._answer(canonical, params, token, files, 0, {}, drop=True), False
        failure = self._take(self._failures, canonical)
        if failure is not None:
            body = error_body(failure.error_code, failure.description, failure.retry_after)
            return canonical, self._answer(canonical, params, token, files, failure.error_code, body), False
        return canonical, None, drop is True

    def _dispatch(
        self,
        method: str,
        params: dict[str, Any],
        token: str | None,
        files: tuple[UploadedFile, ...],
        drop_after: bool = False,
    ) -> Reply:
        handler = self._methods[method.lower()][1]
        self._uploads = files
        try:
            result = handler(token, params)
        except ApiError as error:
            body = error_body(error.error_code, error.description, error.retry_after)
            return self._answer(method, params, token, files, error.error_code, body)
        description = None
        if isinstance(result, tuple):
            result, description = result
        return self._answer(method, params, token, files, 200, ok_body(result, description), drop=drop_after)

    def _answer(
        self,
        method: str,
        params: dict[str, Any],
        token: str | None,
        files: tuple[UploadedFile, ...],
        status: int,
        body: dict[str, Any],
        drop: bool = False,
    ) -> Reply:
        if self.record_calls:
            self._calls.append(Call(method, params, body, status, token, files, time.monotonic(), drop))
        self._notify()
        return Reply(status, body, drop)

    def _notify(self) -> None:
        self._changed.notify_all()
        for loop, event in self._async_waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop is closed; its waiter is gone
                pass

    @staticmethod
    def _take(queues: dict[str, deque[T]], method: str) -> T | None:
        for key in (method.lower(), "*"):
            queue = queues.get(key)
            if queue:
                return queue.popleft()
        return None

    # ------------------------------------------------------------------ getUpdates

    def _poll_start(self, params: dict[str, Any]) -> tuple[float, int, int]:
        self._poll_generation += 1
        self._poll_end_reason = POLL_TERMINATED
        self._notify()  # a poll still waiting is now terminated (409), as on Telegram
        timeout = params.get("timeout")
        seconds = (
            float(timeout) if isinstance(timeout, int | float) and not isinstance(timeout, bool) else 0.0
        )
        if isinstance(timeout, str):
            try:
                seconds = float(timeout)
            except ValueError:
                seconds = 0.0
        seconds = max(seconds, 0.0)
        if self.max_poll_wait is not None:
            seconds = min(seconds, self.max_poll_wait)
        return time.monotonic() + seconds, self._poll_generation, self._interrupts

    def _poll_step(
        self,
        params: dict[str, Any],
        token: str | None,
        generation: int,
        interrupts: int,
        deadline: float,
        drop_after: bool = False,
        first: bool = False,
    ) -> Reply | None:
        """One look at the queue: a Reply to send now, or None to keep waiting."""

        def done(status: int, body: dict[str, Any]) -> Reply:
            return self._answer("getUpdates", params, token, (), status, body, drop=drop_after)

        if generation != self._poll_generation:
            return done(409, error_body(409, self._poll_end_reason))
        try:
            updates = self._collect_updates(params, confirm=first)
        except ApiError as error:
            return done(error.error_code, error_body(error.error_code, error.description))
        if updates or interrupts != self._interrupts or time.monotonic() >= deadline:
            return done(200, ok_body(updates))
        return None

    def _get_updates_now(self, token: str | None, params: dict[str, Any]) -> list[dict[str, Any]]:
        """What getUpdates answers right now. The offset confirms (forgets) earlier updates; a negative
        offset keeps only the last -offset ones. Applied once per call: later looks pass `confirm=False`."""
        return self._collect_updates(params, confirm=True)

    def _collect_updates(self, params: dict[str, Any], confirm: bool) -> list[dict[str, Any]]:
        if self._webhook is not None:
            raise ApiError(409, WEBHOOK_CONFLICT)
        if confirm:
            offset = _as_int(params.get("offset")) or 0
            if offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            elif offset < 0:
                self._updates = self._updates[offset:]
            allowed = _json_param(params.get("allowed_updates"), "can't parse allowed updates")
            if isinstance(allowed, list):
                self._allowed_updates = [str(kind) for kind in allowed]
        self._updates = [u for u in self._updates if self._is_allowed(_update_type(u))]
        limit = _as_int(params.get("limit"))
        limit = 100 if limit is None else min(max(limit, 1), 100)
        return _clone(self._updates[:limit])

    def _is_allowed(self, kind: str) -> bool:
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in DEFAULT_EXCLUDED_UPDATES

    def interrupt_polls(self) -> None:
        """Make every waiting getUpdates return (with what it has) now; used when a server stops."""
        with self._lock:
            self._interrupts += 1
            self._notify()

    # ------------------------------------------------------------------ injections

    def fail_next(
        self,
        method: str,
        times: int = 1,
        error_code: int = 500,
        description: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """The next `times` calls of `method` ("*" = any method) answer this error instead of running.

        A 429 storm: `fail_next("sendMessage", 3, 429, retry_after=1)` (description defaults to
        "Too Many Requests: retry after 1"). A flaky network: `error_code=502` (PTB: NetworkError).
        """
        if error_code == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            if error_code == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = DEFAULT_DESCRIPTIONS.get(error_code, "Internal Server Error")
        with self._lock:
            queue = self._failures.setdefault(method.lower(), deque())
            queue.extend(_Failure(error_code, description, retry_after) for _ in range(times))

    def disconnect_next(self, method: str, times: int = 1, *, after_apply: bool = False) -> None:
        """The next `times` calls of `method` get no answer: the connection is dropped (PTB: NetworkError).

        With `after_apply=True` the method takes effect first (the message IS sent) and only the answer
        is lost, as when a response times out: the case that makes a naive retry send twice.
        """
        with self._lock:
            self._disconnects.setdefault(method.lower(), deque()).extend([after_apply] * times)

    def clear_injections(self) -> None:
        with self._lock:
            self._failures.clear()
            self._disconnects.clear()

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: sends and edits to this chat answer 403."""
        with self._lock:
            self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        with self._lock:
            self._blocked.discard(chat_id)

    def set_rate_limits(self, limits: RateLimits | None) -> None:
        with self._lock:
            self.rate_limits = limits
            self._windows.clear()

    # ------------------------------------------------------------------ incoming updates

    def add_chat(self, chat_id: int, **info: Any) -> dict[str, Any]:
        """Make a chat known (needed with strict_chats); returns its Chat object."""
        with self._lock:
            chat = self._ensure_chat(chat_id)
            chat.info.update(info)
            return _clone(chat.info)

    def add_update(self, update: dict[str, Any], *, enqueue: bool = True) -> dict[str, Any]:
        """Queue any update (an update_id is assigned if missing); returns it."""
        with self._lock:
            update = _clone(update)
            if "update_id" not in update:
                update = {"update_id": self._next_update_id, **update}
            self._next_update_id = max(self._next_update_id, update["update_id"] + 1)
            if enqueue:
                self._updates.append(update)
                self._notify()
            return _clone(update)

    def user_message(
        self,
        chat_id: int,
        text: str,
        user: dict[str, Any] | int | None = None,
        *,
        enqueue: bool = True,
        **fields: Any,
    ) -> dict[str, Any]:
        """A user writes `text` in the chat: stored in the history, returned as an Update (queued by default).

        A text starting with /command gets a `bot_command` entity at offset 0, as Telegram adds.
        `fields` are added to the Message object (e.g. reply_to_message=...).
        """
        with self._lock:
            chat = self._ensure_chat(chat_id)
            message: dict[str, Any] = {
                "message_id": self._new_message_id(chat),
                "from": self._user(chat_id, user),
                "chat": _clone(chat.info),
                "date": int(time.time()),
                "text": text,
            }
            entities = command_entities(text)
            if entities:
                message["entities"] = entities
            message.update(fields)
            chat.messages[message["message_id"]] = _Stored(message, from_bot=False)
            return self.add_update({"message": _clone(message)}, enqueue=enqueue)

    def callback(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        user: dict[str, Any] | int | None = None,
        *,
        enqueue: bool = True,
    ) -> dict[str, Any]:
        """A user taps a button with `data` on message `message_id`: a callback_query Update.

        The data is not checked against the message's buttons, so a test can forge one; `press` taps a
        button that really is there. Raises LookupError if the message is not in the chat's history.
        """
        with self._lock:
            chat = self._chats.get(chat_id)
            stored = chat.messages.get(message_id) if chat else None
            if stored is None:
                raise LookupError(f"no message {message_id} in chat {chat_id}")
            query_id = str(next(self._callback_ids))
            self._callback_queries[query_id] = _CallbackQuery(chat_id, message_id, data)
            query = {
                "id": query_id,
                "from": self._user(chat_id, user),
                "message": _clone(stored.raw),
                "chat_instance": str(-abs(chat_id) * 7919 - 1),
                "data": data,
            }
            return self.add_update({"callback_query": query}, enqueue=enqueue)

    def press(
        self,
        chat_id: int,
        button_text: str,
        *,
        message_id: int | None = None,
        user: dict[str, Any] | int | None = None,
        enqueue: bool = True,
    ) -> dict[str, Any]:
        """Tap the inline button labelled `button_text` on a message (default: the last bot message)."""
        with self._lock:
            message = self._find_message(chat_id, message_id)
            for text, data in message.buttons:
                if text == button_text:
                    if data is None:
                        raise ValueError(f"button {button_text!r} has no callback_data")
                    return self.callback(chat_id, message.message_id, data, user, enqueue=enqueue)
            raise LookupError(f"no button {button_text!r} on message {message.message_id}: {message.buttons}")

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by a getUpdates offset (or not yet delivered to the webhook)."""
        with self._lock:
            return _clone(self._updates)

    def confirm_updates(self, up_to: int) -> None:
        """Forget updates with update_id <= up_to (what a webhook 200 or a getUpdates offset does)."""
        with self._lock:
            self._updates = [u for u in self._updates if u["update_id"] > up_to]

    # ------------------------------------------------------------------ inspecting

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if c.method.lower() == method.lower()]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def errors(self, error_code: int | None = None) -> list[Call]:
        """Calls answered with ok=false (optionally only those with this error_code, e.g. 429).

        Dropped connections are not answers: see `dropped()`.
        """
        with self._lock:
            return [
                c
                for c in self._calls
                if not c.ok and not c.dropped and (error_code is None or c.error_code == error_code)
            ]

    def dropped(self) -> list[Call]:
        """Calls whose connection `disconnect_next` dropped."""
        with self._lock:
            return [c for c in self._calls if c.dropped]

    def messages(self, chat_id: int) -> list[ChatMessage]:
        """The chat as it stands: every message not deleted, users' and bot's, by message_id."""
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is None:
                return []
            return [self._snapshot(chat_id, mid, stored) for mid, stored in sorted(chat.messages.items())]

    def sent(self, chat_id: int) -> list[ChatMessage]:
        """The bot's messages in the chat as they stand now (edits applied, deletions gone)."""
        return [m for m in self.messages(chat_id) if m.from_bot]

    def last_sent(self, chat_id: int) -> ChatMessage | None:
        sent = self.sent(chat_id)
        return sent[-1] if sent else None

    def last_buttons(self, chat_id: int) -> list[tuple[str, str | None]]:
        """(text, callback_data) of the inline keyboard of the bot's last message in the chat ([] if none)."""
        last = self.last_sent(chat_id)
        return last.buttons if last else []

    def deleted(self, chat_id: int) -> list[int]:
        with self._lock:
            chat = self._chats.get(chat_id)
            return list(chat.deleted) if chat else []

    def answered_callbacks(self) -> list[AnsweredCallback]:
        with self._lock:
            return list(self._answers)

    def unanswered_callbacks(self) -> list[str]:
        """Ids of callback queries built by `callback`/`press` that the bot never answered."""
        with self._lock:
            return [qid for qid, q in self._callback_queries.items() if not q.answered]

    def commands(self, scope: dict[str, Any] | None = None, language_code: str = "") -> list[dict[str, Any]]:
        with self._lock:
            return _clone(self._commands.get((self._scope_key(scope), language_code), []))

    @property
    def webhook(self) -> Webhook | None:
        with self._lock:
            return self._webhook

    @property
    def polls_waiting(self) -> int:
        """How many getUpdates calls are open right now (waiting or about to answer)."""
        with self._lock:
            return self._polls_waiting

    def is_blocked(self, chat_id: int) -> bool:
        with self._lock:
            return chat_id in self._blocked

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Block until predicate() is truthy (re-checked after every call the fake answers); returns it.

        Not from the thread running the bot's event loop: use `async_wait_for` there.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met within {timeout} s")
                self._changed.wait(remaining)

    async def async_wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """`wait_for` for asyncio code: yields to the loop while waiting."""
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met within {timeout} s")
                event = asyncio.Event()
                waiter = (loop, event)
                self._async_waiters.append(waiter)
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass
            finally:
                with self._lock:
                    if waiter in self._async_waiters:
                        self._async_waiters.remove(waiter)

    # ------------------------------------------------------------------ webhook delivery (see server.py)

    def deliver_webhook(self, timeout: float = 5.0) -> list[int | None]:
        """POST the pending updates, in order, to the webhook set with setWebhook, as Telegram would.

        Each answered 2xx is confirmed; delivery stops at the first other answer (Telegram retries that
        one later) or network error (None). Returns the statuses. Loopback URLs only.
        """
        import httpx

        from .server import post_update

        def post(url: str, update: dict[str, Any], secret: str | None) -> int | None:
            try:
                return post_update(url, update, secret, timeout=timeout, fake=self)
            except httpx.HTTPError:
                return None

        return self._deliver(post)

    async def adeliver_webhook(self, timeout: float = 5.0) -> list[int | None]:
        """`deliver_webhook` for asyncio code (the webhook server may run on the same loop)."""
        import httpx

        from .server import apost_update

        statuses: list[int | None] = []
        while True:
            target = self._next_delivery()
            if target is None:
                return statuses
            webhook, update = target
            try:
                status: int | None = await apost_update(
                    webhook.url, update, webhook.secret_token, timeout=timeout, fake=self
                )
            except httpx.HTTPError:
                status = None
            statuses.append(status)
            if status is None or not 200 <= status < 300:
                return statuses
            self.confirm_updates(update["update_id"])

    def _deliver(self, post: Callable[[str, dict[str, Any], str | None], int | None]) -> list[int | None]:
        statuses: list[int | None] = []
        while True:
            target = self._next_delivery()
            if target is None:
                return statuses
            webhook, update = target
            status = post(webhook.url, update, webhook.secret_token)
            statuses.append(status)
            if status is None or not 200 <= status < 300:
                return statuses
            self.confirm_updates(update["update_id"])

    def _next_delivery(self) -> tuple[Webhook, dict[str, Any]] | None:
        with self._lock:
            if self._webhook is None:
                raise RuntimeError("no webhook is set")
            self._updates = [u for u in self._updates if self._is_allowed(_update_type(u))]
            return (self._webhook, _clone(self._updates[0])) if self._updates else None

    # ------------------------------------------------------------------ helpers for the methods

    def _bot_user(self, token: str | None) -> dict[str, Any]:
        prefix = (token or self.default_token).split(":", 1)[0]
        bot_id = int(prefix) if prefix.isdigit() else int(DEFAULT_TOKEN.split(":", 1)[0])
        return {
            "id": bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _user(self, chat_id: int, user: dict[str, Any] | int | None) -> dict[str, Any]:
        user_id = user if isinstance(user, int) else (user or {}).get("id")
        if user_id is None:
            user_id = chat_id if chat_id > 0 else 1000
        default = {
            "id": user_id,
            "is_bot": False,
            "first_name": f"User{user_id}",
            "username": f"user{user_id}",
            "language_code": "en",
        }
        return {**default, **user} if isinstance(user, dict) else default

    def _ensure_chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            if chat_id > 0:
                info = {
                    "id": chat_id,
                    "type": "private",
                    "first_name": f"User{chat_id}",
                    "username": f"user{chat_id}",
                }
            else:
                kind = "supergroup" if str(chat_id).startswith("-100") else "group"
                info = {"id": chat_id, "type": kind, "title": f"Group {chat_id}"}
            chat = self._chats[chat_id] = _Chat(info)
        return chat

    def _new_message_id(self, chat: _Chat) -> int:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        return message_id

    def _snapshot(self, chat_id: int, message_id: int, stored: _Stored) -> ChatMessage:
        raw = _clone(stored.raw)
        return ChatMessage(
            chat_id=chat_id,
            message_id=message_id,
            from_bot=stored.from_bot,
            text=raw.get("text", ""),
            entities=raw.get("entities", []),
            reply_markup=raw.get("reply_markup"),
            edited=stored.edit_count > 0,
            edit_count=stored.edit_count,
            raw=raw,
        )

    def _find_message(self, chat_id: int, message_id: int | None) -> ChatMessage:
        if message_id is None:
            last = self.last_sent(chat_id)
            if last is None:
                raise LookupError(f"the bot has sent nothing to chat {chat_id}")
            return last
        for message in self.messages(chat_id):
            if message.message_id == message_id:
                return message
        raise LookupError(f"no message {message_id} in chat {chat_id}")

    def _chat(self, params: dict[str, Any]) -> _Chat:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        chat_id = _as_int(raw)
        if chat_id is None:
            if isinstance(raw, str) and raw.startswith("@"):
                for chat in self._chats.values():
                    if chat.info.get("username") == raw[1:]:
                        return chat
            raise bad_request("chat not found")
        if chat_id not in self._chats and (self.strict_chats or chat_id == 0):
            raise bad_request("chat not found")
        return self._ensure_chat(chat_id)

    def _check_blocked(self, chat: _Chat) -> None:
        if chat.id in self._blocked:
            raise ApiError(403, BLOCKED)

    @staticmethod
    def _message_id(params: dict[str, Any]) -> int:
        message_id = _as_int(params.get("message_id"))
        if message_id is None:
            raise bad_request("message identifier is not specified")
        return message_id

    @staticmethod
    def _text(params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        """Text and entities after parse_mode, trimmed; enforces Telegram's length and emptiness rules.

        The length is counted in UTF-16 code units (the unit of entity offsets). Telegram's documentation
        says "characters"; for BMP text both agree, and for astral characters (emoji) this is the
        stricter reading, so a bot that passes here passes on Telegram.
        Only the HTML parse mode is really parsed; Markdown/MarkdownV2 texts are counted as sent.
        """
        text = params.get("text")
        if text is None or text == "":
            raise bad_request("message text is empty")
        text = str(text)
        parse_mode = params.get("parse_mode")
        entities: list[dict[str, Any]]
        if parse_mode:
            mode = str(parse_mode).lower()
            if mode == "html":
                try:
                    text, entities = parse_html(text)
                except EntityParseError as error:
                    raise bad_request(f"can't parse entities: {error}") from error
            elif mode in {"markdown", "markdownv2"}:
                entities = []
            else:
                raise bad_request("unsupported parse_mode")
        else:
            given = _json_param(params.get("entities"), "can't parse entities JSON object")
            entities = [dict(e) for e in given] if isinstance(given, list) else []
        text, entities = strip_text(text, entities)
        if not text:
            raise bad_request("message text is empty")
        if utf16_len(text) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
        return text, entities

    @staticmethod
    def _markup(params: dict[str, Any], inline_only: bool = False) -> dict[str, Any] | None:
        """Validate reply_markup; returns the inline keyboard to attach (None: no keyboard).

        Reply keyboards, keyboard removal and force_reply are accepted but are not part of the message
        (Telegram only returns inline keyboards in Message.reply_markup).
        """
        raw = params.get("reply_markup")
        if raw is None or raw == "":
            return None
        markup = _json_param(raw, "can't parse reply keyboard markup JSON object")
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            if inline_only:
                raise bad_request("inline keyboard expected")
            return None
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an Array")
        count = 0
        for row in rows:
            for button in row:
                count += 1
                if not isinstance(button, dict):
                    raise bad_request(
                        "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                    )
                if not isinstance(button.get("text"), str):
                    raise bad_request(
                        'can\'t parse inline keyboard button: Field "text" must be of type String'
                    )
                if "callback_data" in button:
                    data = button["callback_data"]
                    if (
                        not isinstance(data, str)
                        or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
                    ):
                        raise bad_request("BUTTON_DATA_INVALID")
                elif not BUTTON_ACTIONS & button.keys():
                    raise bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                    )
        if count > MAX_INLINE_BUTTONS:
            raise bad_request("reply markup is too long")
        rows = [row for row in rows if row]
        return {"inline_keyboard": _clone(rows)} if rows else None

    def _rate_check(self, chat: _Chat, token: str | None = None, *, paid: bool = False) -> None:
        """Per token (overall; a paid broadcast is billed instead, up to 1,000/s) and per chat."""
        limits = self.rate_limits
        if limits is None:
            return
        now = self.clock()
        name = ("paid" if paid else "overall", token)
        overall = self._windows.get(name)
        if overall is None:
            limit = PAID_BROADCAST_PER_SECOND if paid else limits.overall_per_second
            overall = self._windows[name] = _Window(limit, 1.0)
        per_chat = self._windows.get(chat.id)
        if per_chat is None:
            if chat.id > 0:
                per_chat = _Window(limits.per_chat_per_second, 1.0)
            else:
                per_chat = _Window(limits.group_per_minute, 60.0)
            self._windows[chat.id] = per_chat
        wait = max(overall.wait_needed(now), per_chat.wait_needed(now))
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        overall.take(now)
        per_chat.take(now)

    def _stored_for_edit(self, chat: _Chat, params: dict[str, Any]) -> _Stored:
        stored = chat.messages.get(self._message_id(params))
        if stored is None:
            raise bad_request("message to edit not found")
        if not stored.from_bot:
            raise bad_request("message can't be edited")
        return stored

    @staticmethod
    def _scope_key(scope: Any) -> str:
        if not scope:
            scope = {"type": "default"}
        return json.dumps(scope, sort_keys=True)

    # ------------------------------------------------------------------ the methods

    def _get_me(self, token: str | None, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self._bot_user(token),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _send_message(self, token: str | None, params: dict[str, Any]) -> dict[str, Any]:
        text, entities = self._text(params)
        markup = self._markup(params)
        chat = self._chat(params)
        reply_to = self._reply_to(chat, params)
        self._check_blocked(chat)
        self._rate_check(chat, token, paid=params.get("allow_paid_broadcast") in (True, "true", "True"))
        message: dict[str, Any] = {
            "message_id": self._new_message_id(chat),
            "from": self._bot_user(token),
            "chat": _clone(chat.info),
            "date": int(time.time()),
            "text": text,
        }
        if entities:
            message["entities"] = entities
        if markup:
            message["reply_markup"] = markup
        if reply_to is not None:
            message["reply_to_message"] = _clone(reply_to.raw)
        chat.messages[message["message_id"]] = _Stored(message, from_bot=True)
        return _clone(message)

    def _send_photo(self, token: str | None, params: dict[str, Any]) -> dict[str, Any]:
        """An uploaded photo (multipart part `photo`, or `attach://name`) or a file_id sent before; the
        caption is parsed like a text, at most 1,024 characters. The PNG's size comes from its header."""
        data = self._uploaded(params.get("photo"))
        caption, entities = ("", [])
        if params.get("caption"):
            caption, entities = self._text(
                {"text": params["caption"], "parse_mode": params.get("parse_mode")}
            )
            if utf16_len(caption) > MAX_CAPTION_LENGTH:
                raise bad_request("message caption is too long")
        markup = self._markup(params)
        chat = self._chat(params)
        self._check_blocked(chat)
        self._rate_check(chat, token)
        file_id = f"photo-{len(self._photos) + 1}"
        self._photos[file_id] = data
        width, height = png_size(data)
        message: dict[str, Any] = {
            "message_id": self._new_message_id(chat),
            "from": self._bot_user(token),
            "chat": _clone(chat.info),
            "date": int(time.time()),
            "photo": [
                {
                    "file_id": file_id,
                    "file_unique_id": f"u{file_id}",
                    "width": width,
                    "height": height,
                    "file_size": len(data),
                }
            ],
        }
        if caption:
            message["caption"] = caption
        if entities:
            message["caption_entities"] = entities
        if markup:
            message["reply_markup"] = markup
        chat.messages[message["message_id"]] = _Stored(message, from_bot=True)
        return _clone(message)

    def _uploaded(self, value: Any) -> bytes:
        name = str(value or "")
        if name in self._photos:
            return self._photos[name]
        field = name.removeprefix("attach://") or "photo"
        for upload in self._uploads:
            if upload.field == field:
                if not upload.data:
                    raise bad_request("file must be non-empty")
                return upload.data
        raise bad_request("there is no photo in the request")

    def photo(self, chat_id: int, message_id: int) -> bytes:
        """The bytes of the (largest) photo of a message the bot sent."""
        with self._lock:
            raw = self._chats[chat_id].messages[message_id].raw
            return self._photos[raw["photo"][-1]["file_id"]]

    def _reply_to(self, chat: _Chat, params: dict[str, Any]) -> _Stored | None:
        reply = _json_param(params.get("reply_parameters"), "can't parse reply parameters JSON object")
        allow_missing = _as_bool(params.get("allow_sending_without_reply"))
        message_id = _as_int(params.get("reply_to_message_id"))
        if isinstance(reply, dict):
            message_id = _as_int(reply.get("message_id"))
            allow_missing = allow_missing or _as_bool(reply.get("allow_sending_without_reply"))
        if message_id is None:
            return None
        stored = chat.messages.get(message_id)
        if stored is None and not allow_missing:
            raise bad_request("message to be replied not found")
        return stored

    def _edit_message_text(self, token: str | None, params: dict[str, Any]) -> dict[str, Any]:
        text, entities = self._text(params)
        markup = self._markup(params, inline_only=True)
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")  # inline messages are not modelled
        chat = self._chat(params)
        self._check_blocked(chat)
        stored = self._stored_for_edit(chat, params)
        raw = stored.raw
        if "text" not in raw:
            raise bad_request("there is no text in the message to edit")
        if (
            raw.get("text") == text
            and raw.get("entities", []) == entities
            and raw.get("reply_markup") == markup
        ):
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        self._rate_check_edit(chat, token)
        raw["text"] = text
        self._set_or_drop(raw, "entities", entities)
        self._set_or_drop(raw, "reply_markup", markup)  # an edit without reply_markup removes the keyboard
        return self._edited(stored)

    def _edit_message_reply_markup(self, token: str | None, params: dict[str, Any]) -> dict[str, Any]:
        markup = self._markup(params, inline_only=True)
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._chat(params)
        self._check_blocked(chat)
        stored = self._stored_for_edit(chat, params)
        if stored.raw.get("reply_markup") == markup:
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        self._rate_check_edit(chat, token)
        self._set_or_drop(stored.raw, "reply_markup", markup)
        return self._edited(stored)

    def _rate_check_edit(self, chat: _Chat, token: str | None) -> None:
        if self.rate_limits is not None and self.rate_limits.count_edits:
            self._rate_check(chat, token)

    @staticmethod
    def _set_or_drop(raw: dict[str, Any], key: str, value: Any) -> None:
        if value:
            raw[key] = value
        else:
            raw.pop(key, None)

    @staticmethod
    def _edited(stored: _Stored) -> dict[str, Any]:
        stored.edit_count += 1
        stored.raw["edit_date"] = int(time.time())
        return _clone(stored.raw)

    def _delete_message(self, token: str | None, params: dict[str, Any]) -> bool:
        chat = self._chat(params)
        message_id = self._message_id(params)
        if chat.messages.pop(message_id, None) is None:
            raise bad_request("message to delete not found")
        chat.deleted.append(message_id)
        return True

    def _answer_callback_query(self, token: str | None, params: dict[str, Any]) -> bool:
        """Strict: an unknown id, or one already answered, gets Telegram's "query is too old" 400."""
        query_id = str(params.get("callback_query_id") or "")
        query = self._callback_queries.get(query_id)
        if query is None or query.answered:
            raise ApiError(400, QUERY_INVALID)
        query.answered = True
        cache_time = _as_int(params.get("cache_time"))
        self._answers.append(
            AnsweredCallback(
                callback_query_id=query_id,
                text=params.get("text"),
                show_alert=_as_bool(params.get("show_alert")),
                url=params.get("url"),
                cache_time=cache_time,
                chat_id=query.chat_id,
                message_id=query.message_id,
                data=query.data,
            )
        )
        return True

    def _send_chat_action(self, token: str | None, params: dict[str, Any]) -> bool:
        if params.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        chat = self._chat(params)
        self._check_blocked(chat)
        return True

    def _set_my_commands(self, token: str | None, params: dict[str, Any]) -> bool:
        commands = _json_param(params.get("commands"), "can't parse commands JSON object")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, dict) or not COMMAND_NAME.fullmatch(str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        scope = _json_param(params.get("scope"), "can't parse BotCommandScope JSON object")
        key = (self._scope_key(scope), str(params.get("language_code") or ""))
        self._commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
        return True

    def _get_my_commands(self, token: str | None, params: dict[str, Any]) -> list[dict[str, Any]]:
        scope = _json_param(params.get("scope"), "can't parse BotCommandScope JSON object")
        return _clone(
            self._commands.get((self._scope_key(scope), str(params.get("language_code") or "")), [])
        )

    def _delete_my_commands(self, token: str | None, params: dict[str, Any]) -> bool:
        scope = _json_param(params.get("scope"), "can't parse BotCommandScope JSON object")
        self._commands.pop((self._scope_key(scope), str(params.get("language_code") or "")), None)
        return True

    def _set_webhook(self, token: str | None, params: dict[str, Any]) -> tuple[bool, str]:
        """Lenient on the URL: http:// is accepted (Telegram wants https on 443/80/88/8443) so loopback
        webhook servers can be used; any other scheme is refused."""
        url = str(params.get("url") or "")
        if not url:
            return self._delete_webhook(token, params)
        if not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: HTTPS url must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None:
            secret = str(secret)
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
                raise bad_request("secret token contains unallowed characters")
        allowed = _json_param(params.get("allowed_updates"), "can't parse allowed updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed]
        webhook = Webhook(
            url=url,
            secret_token=secret,
            max_connections=_as_int(params.get("max_connections")) or 40,
            allowed_updates=list(self._allowed_updates) or None,
            ip_address=params.get("ip_address"),
        )
        if _as_bool(params.get("drop_pending_updates")):
            self._updates.clear()
        unchanged = webhook == self._webhook
        self._webhook = webhook
        self._poll_generation += 1  # a waiting getUpdates ends with 409, as on Telegram
        self._poll_end_reason = POLL_TERMINATED_BY_WEBHOOK
        return True, "Webhook is already set" if unchanged else "Webhook was set"

    def _delete_webhook(self, token: str | None, params: dict[str, Any]) -> tuple[bool, str]:
        if _as_bool(params.get("drop_pending_updates")):
            self._updates.clear()
        was_set = self._webhook is not None
        self._webhook = None
        return True, "Webhook was deleted" if was_set else "Webhook is already deleted"

    def _get_webhook_info(self, token: str | None, params: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self._webhook.url if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook is not None:
            info["max_connections"] = self._webhook.max_connections
            if self._webhook.ip_address:
                info["ip_address"] = self._webhook.ip_address
            if self._webhook.allowed_updates:
                info["allowed_updates"] = list(self._webhook.allowed_updates)
        return info
