"""python-telegram-bot's `BaseRateLimiter` on the fleet's shared send budget (`send_budget.py`).

Every Bot API call of an `ExtBot` built with this limiter passes through `process_request`:

* Calls that send or edit a message (`send*` but `sendChatAction`, `edit*`, `copy*`, `forward*`)
  wait their turn in the shared budget, and tell it when their answer came (`sent`: the send then
  counts in the window from its answer), with the limiter's priority: `Priority.REPLY` in `fiml-bot
  run`, `Priority.BROADCAST` in `notify`; a call may override it with
  `rate_limit_args={"priority": "broadcast"}`, and `allow_paid_broadcast=True` makes it `PAID`.
  Other calls (`answerCallbackQuery`, `getMe`, `setWebhook`, ...) count against nothing and go at once.
* A 429 (`RetryAfter`) pauses every sender of the token for `retry_after` (+0.1 s) through the
  budget (this process's own too: a lone sender pauses as well), counts it in
  `fiml_telegram_api_errors_total{code="429"}`, and the call is tried again (a 429 was not delivered,
  so a retry cannot duplicate), up to `max_retries`. Senders resume spread over `RESUME_JITTER`.
* When the budget's store fails, sends are not held hostage: the limiter falls back to an in-process
  budget limited to this process's share of the cap (cap ÷ the live senders its heartbeats last
  counted), counts it in `fiml_send_budget_fallbacks_total{reason}`, logs an outage once per outage
  and a script or protocol error (`reason="error"`) as a bug, and goes back to the shared budget as
  soon as it answers again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, runtime_checkable

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from .send_budget import US, BudgetUnreachable, Decision, MemoryBudget, Priority, SendBudget

log = logging.getLogger("fiml_bot.rate_limit")

RateLimitArgs = dict[str, Any]
_COUNTED_PREFIXES = ("send", "edit", "copy", "forward")
_UNCOUNTED = frozenset({"sendChatAction"})
RETRY_PADDING = 0.1  # seconds added to a 429's retry_after, as PTB's AIORateLimiter does
RESUME_JITTER = 0.5  # seconds over which paused senders resume, each at a random instant
FALLBACK_PROBE = 5.0  # seconds between attempts to reach a store that failed
HEARTBEAT_EVERY = 2.0  # seconds between a sender's heartbeats in the store
UNKNOWN_SENDERS = 2  # senders assumed alive when the store was never reached (the smallest fleet)


@runtime_checkable
class BudgetMetrics(Protocol):
    """What the limiter reports (`ops.metrics.BotMetrics` implements it)."""

    def telegram_error(self, method: str, code: str) -> None: ...

    def send_budget_fallback(self, reason: str) -> None: ...


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
        metrics: BudgetMetrics | None = None,
    ) -> None:
        self.budget = budget
        self.priority = priority
        self.max_retries = max_retries
        self.longest_nap = longest_nap
        self.metrics = metrics
        self.retries = 0  # 429s seen by this process
        self.fallbacks = 0  # takes answered by the in-process fallback
        self.sender = uuid.uuid4().hex[:16]
        self.live_senders: int | None = None  # from the last heartbeat the store answered
        self._local = self._fallback_budget()
        self._down_since: float | None = None
        self._next_probe = 0.0
        self._next_heartbeat = 0.0
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
            turn = await self.wait_for_turn(chat, priority) if limited else None
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == self.max_retries:
                    raise  # the caller counts what it is given
                self.retries += 1
                if self.metrics is not None:
                    self.metrics.telegram_error(endpoint, "429")
                seconds = retry_seconds(exc) + RETRY_PADDING
                log.warning("Telegram answered 429 to %s: every sender pauses %.1f s", endpoint, seconds)
                await self._pause(seconds)
                if not limited:
                    await asyncio.sleep(seconds + random.uniform(0.0, RESUME_JITTER))
            finally:
                if turn is not None:
                    await self._sent(chat, *turn)
        raise AssertionError("unreachable")  # pragma: no cover

    def _priority(self, data: dict[str, Any], rate_limit_args: RateLimitArgs | None) -> Priority:
        if data.get("allow_paid_broadcast"):
            return Priority.PAID
        asked = (rate_limit_args or {}).get("priority")
        return Priority(asked) if asked is not None else self.priority

    async def wait_for_turn(self, chat: int | None, priority: Priority) -> tuple[Decision, SendBudget]:
        """Return once the budget granted a send; naps are short so a freed budget is noticed soon.

        One request per priority is in flight to the store at a time: a process with many queued
        broadcast sends does not queue its replies' requests behind theirs. After a pause each
        waiting send resumes at a random instant of `RESUME_JITTER`: not all of them at once.
        """
        lock = self._asking.setdefault(priority, asyncio.Lock())
        while True:
            async with lock:
                decision, budget = await self._take(chat, priority)
            if decision.wait <= 0:
                return decision, budget
            if decision.paused:
                await asyncio.sleep(decision.wait / US + random.uniform(0.0, RESUME_JITTER))
            else:
                await asyncio.sleep(min(decision.wait / US, self.longest_nap))

    async def _take(self, chat: int | None, priority: Priority) -> tuple[Decision, SendBudget]:
        """The decision, and the budget that made it (the shared one, or this process's fallback)."""
        if self._down_since is None or time.monotonic() >= self._next_probe:
            try:
                await self._heartbeat()
                decision = await self.budget.take(chat, priority)
            except Exception as exc:  # the store failed: keep sending, limited to this process's share
                self._store_failed(exc)
            else:
                self._store_answered()
                return decision, self.budget
        self.fallbacks += 1
        return await self._local.take(chat, priority), self._local

    async def _sent(self, chat: int | None, decision: Decision, budget: SendBudget) -> None:
        """Tell the budget that granted the send that its answer came (a lost message is harmless:
        the send then counts as in flight for `hold` seconds, longer than needed, never shorter)."""
        try:
            await budget.sent(chat, decision)
        except Exception as exc:
            if budget is self.budget:
                self._store_failed(exc)

    async def _heartbeat(self) -> None:
        now = time.monotonic()
        if now < self._next_heartbeat:
            return
        self._next_heartbeat = now + HEARTBEAT_EVERY
        live = await self.budget.heartbeat(self.sender)
        if live != self.live_senders:
            self.live_senders = live
            self._local = self._fallback_budget(self._local)

    def _fallback_budget(self, previous: MemoryBudget | None = None) -> MemoryBudget:
        """This process's share of the cap (cap ÷ live senders), keeping what the previous one knew."""
        settings = self.budget.settings
        senders = self.live_senders if self.live_senders is not None else UNKNOWN_SENDERS
        local = MemoryBudget(settings.with_cap(settings.cap // max(1, senders)) if senders > 1 else settings)
        if previous is not None:
            local.adopt(previous)
        return local

    async def _pause(self, seconds: float) -> None:
        await self._local.pause(seconds)
        try:
            await self.budget.pause(seconds)
        except Exception as exc:
            self._store_failed(exc)

    def _store_failed(self, exc: Exception) -> None:
        now = time.monotonic()
        outage = isinstance(exc, BudgetUnreachable)
        reason = "unreachable" if outage else "error"
        if self.metrics is not None:
            self.metrics.send_budget_fallback(reason)
        if self._down_since is None:
            share = self._local.settings.cap
            if outage:
                log.error(
                    "the shared send budget is unreachable (%s); this process sends at most %d a second "
                    "(its share) until it is back",
                    exc,
                    share,
                )
            else:
                log.error(
                    "bug: the shared send budget failed (%s: %s); this process sends at most %d a second "
                    "(its share) until it answers",
                    type(exc).__name__,
                    exc,
                    share,
                    exc_info=exc,
                )
            self._down_since = now
        self._next_probe = now + FALLBACK_PROBE

    def _store_answered(self) -> None:
        if self._down_since is not None:
            log.warning(
                "the shared send budget answers again after %.0f s", time.monotonic() - self._down_since
            )
            self._down_since = None
