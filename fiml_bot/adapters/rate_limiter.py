"""python-telegram-bot's `BaseRateLimiter` on the fleet's shared send budget (`send_budget.py`).

Every Bot API call of an `ExtBot` built with this limiter passes through `process_request`:

* Calls that send or edit a message (`send*` but `sendChatAction`, `edit*`, `copy*`, `forward*`)
  wait their turn in the shared budget, with the limiter's priority: `Priority.REPLY` in `fiml-bot
  run`, `Priority.BROADCAST` in `notify`; a call may override it with
  `rate_limit_args={"priority": "broadcast"}`, and `allow_paid_broadcast=True` makes it `PAID`.
  Other calls (`answerCallbackQuery`, `getMe`, `setWebhook`, ...) count against nothing and go at once.
* A 429 (`RetryAfter`) pauses the whole fleet for `retry_after` (+0.1 s) through the budget, then
  the call is tried again (a 429 was not delivered, so a retry cannot duplicate), up to `max_retries`.
* When the budget's store is unreachable (Redis or the database down), sends are not held hostage:
  the limiter falls back to an in-process budget with the same settings, logs that once per outage,
  and goes back to the shared budget as soon as it answers again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from .send_budget import MemoryBudget, Priority, SendBudget

log = logging.getLogger("fiml_bot.rate_limit")

RateLimitArgs = dict[str, Any]
_COUNTED_PREFIXES = ("send", "edit", "copy", "forward")
_UNCOUNTED = frozenset({"sendChatAction"})
RETRY_PADDING = 0.1  # seconds added to a 429's retry_after, as PTB's AIORateLimiter does
FALLBACK_PROBE = 5.0  # seconds between attempts to reach a store that failed


def counted(endpoint: str) -> bool:
    """Whether a Bot API method sends or changes a message (what Telegram's flood limits count)."""
    return endpoint.startswith(_COUNTED_PREFIXES) and endpoint not in _UNCOUNTED


def retry_seconds(exc: RetryAfter) -> float:
    """`retry_after` in seconds (PTB 22 holds it as a timedelta; older releases as an int)."""
    import warnings

    with warnings.catch_warnings():  # PTB 22 deprecates the int form of retry_after
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)


def _chat_of(data: dict[str, Any]) -> int | None:
    chat = data.get("chat_id")
    if isinstance(chat, int):
        return chat
    if isinstance(chat, str):
        try:
            return int(chat)
        except ValueError:
            return -1  # "@channel": a channel, limited like a group (one bucket for all of them)
    return None


class FleetRateLimiter(BaseRateLimiter[RateLimitArgs]):
    """Throttles the calls of one `ExtBot` through a budget shared with every other sender."""

    def __init__(
        self,
        budget: SendBudget,
        *,
        priority: Priority = Priority.REPLY,
        max_retries: int = 5,
        longest_nap: float = 0.25,
    ) -> None:
        self.budget = budget
        self.priority = priority
        self.max_retries = max_retries
        self.longest_nap = longest_nap
        self.retries = 0  # 429s seen by this process
        settings = getattr(budget, "settings", None)
        self._local = MemoryBudget(settings) if settings is not None else MemoryBudget()
        self._down_since: float | None = None
        self._next_probe = 0.0
        self._asking: dict[Priority, asyncio.Lock] = {}

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        await self.budget.close()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: RateLimitArgs | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        limited = counted(endpoint)
        priority = self._priority(data, rate_limit_args)
        chat = _chat_of(data)
        for attempt in range(self.max_retries + 1):
            if limited:
                await self.wait_for_turn(chat, priority)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == self.max_retries:
                    raise
                seconds = retry_seconds(exc) + RETRY_PADDING
                self.retries += 1
                log.warning("Telegram answered 429 to %s: the whole fleet pauses %.1f s", endpoint, seconds)
                await self._pause(seconds)
                if not limited:
                    await asyncio.sleep(seconds)
        raise AssertionError("unreachable")  # pragma: no cover

    def _priority(self, data: dict[str, Any], rate_limit_args: RateLimitArgs | None) -> Priority:
        if data.get("allow_paid_broadcast"):
            return Priority.PAID
        asked = (rate_limit_args or {}).get("priority")
        return Priority(asked) if asked is not None else self.priority

    async def wait_for_turn(self, chat: int | None, priority: Priority) -> None:
        """Return once the budget granted a send; naps are short so a freed budget is noticed soon.

        One request per priority is in flight to the store at a time: a process with many queued
        broadcast sends does not queue its replies' requests behind theirs.
        """
        lock = self._asking.setdefault(priority, asyncio.Lock())
        while True:
            async with lock:
                wait = await self._take(chat, priority)
            if wait <= 0:
                return
            await asyncio.sleep(min(wait, self.longest_nap))

    async def _take(self, chat: int | None, priority: Priority) -> float:
        if self._down_since is None or time.monotonic() >= self._next_probe:
            try:
                wait = await self.budget.take(chat, priority)
            except Exception as exc:  # the store is down: keep sending, locally limited
                self._store_failed(exc)
            else:
                self._store_answered()
                return wait
        return await self._local.take(chat, priority)

    async def _pause(self, seconds: float) -> None:
        await self._local.pause(seconds)
        try:
            await self.budget.pause(seconds)
        except Exception as exc:
            self._store_failed(exc)

    def _store_failed(self, exc: Exception) -> None:
        now = time.monotonic()
        if self._down_since is None:
            log.error(
                "the shared send budget is unreachable (%s); limiting this process alone until it is back",
                exc,
            )
            self._down_since = now
        self._next_probe = now + FALLBACK_PROBE

    def _store_answered(self) -> None:
        if self._down_since is not None:
            log.warning(
                "the shared send budget answers again after %.0f s", time.monotonic() - self._down_since
            )
            self._down_since = None
