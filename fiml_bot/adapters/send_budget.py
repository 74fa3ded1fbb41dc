"""One Telegram send budget per bot token, shared by every process that sends with it.

Telegram allows a bot about 30 messages per second in all, about 1 per second per private chat and
20 per minute per group. Each process limiting itself is not enough once two replicas, or a replica
and `fiml-bot notify`, send with the same token; so the budget lives in a store they all reach:

* `MemoryBudget` (here): in process, for one process (the embedded default, no dependency);
* `RedisBudget` (`redis_budget.py`): one atomic Lua script per send, when `FIML_REDIS_URL` is set;
* `SqlBudget` (`sql_budget.py`): one short transaction per send on the bot's PostgreSQL database.

All three apply the same rule, `take` below (Redis as Lua, the others in Python), to named *slots*,
each a token bucket stored as (tokens, time of the last update); a missing slot is a full bucket:

* `all`: the fleet's bucket (`per_second`, `burst`); every counted send takes one token.
* `broadcast`: broadcasts (notify, announcements) also take from this bucket, refilled at
  `broadcast_share` of the rate, and only while `all` keeps `reserve` tokens for replies, and not
  while replies wait (`replies` holds until when): replies overtake a running broadcast at once.
* `paid`: paid broadcasts (`allow_paid_broadcast`) are billed by Telegram instead of counting
  against the free budget; they take from this bucket only (`paid_per_second`).
* `pause`: until when the whole fleet sends nothing (set from a 429's `retry_after`).
* `chat:<id>`: the per-chat bucket (1/s after a small burst; groups 20/min).

A send `take`s a token (0 seconds to wait) or learns how long to wait before asking again. Times
come from the store's clock (Redis `TIME`, PostgreSQL `clock_timestamp()`), so the hosts' clocks
need not agree.
"""

from __future__ import annotations

import enum
import hashlib
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from fiml_cms.errors import FimlError


class Priority(str, enum.Enum):
    """Who a send is for; replies to a learner's own update go first."""

    REPLY = "reply"
    BROADCAST = "broadcast"
    PAID = "paid"


@dataclass(frozen=True)
class BudgetSettings:
    """Telegram's limits for one bot token, kept a little under the real ones (the burst sizes)."""

    per_second: float = 30.0
    burst: float = 10.0
    chat_per_second: float = 1.0
    chat_burst: float = 3.0
    group_per_minute: float = 20.0
    group_burst: float = 10.0
    broadcast_share: float = 0.8  # of per_second, at most, and only what replies leave
    reserve: float = 2.0  # tokens of `all` a broadcast never takes: replies find one at once
    reply_guard: float = 0.5  # seconds broadcasts hold back after a reply had to wait
    paid_per_second: float = 1000.0  # Telegram's ceiling for paid broadcasts

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise BudgetConfigError("the send rate must be positive and the burst at least 1")
        if not 0 < self.broadcast_share <= 1:
            raise BudgetConfigError(f"the broadcast share must be in (0, 1], not {self.broadcast_share}")
        if not 0 < self.paid_per_second <= 1000:
            raise BudgetConfigError("paid broadcasts go at most 1,000 messages/s (Telegram's limit)")

    def chat_bucket(self, chat: int) -> tuple[float, float]:
        """(rate per second, burst) of a chat: private chats have positive ids, groups negative."""
        if chat > 0:
            return self.chat_per_second, self.chat_burst
        return self.group_per_minute / 60.0, self.group_burst


class BudgetConfigError(FimlError, ValueError):
    """The budget's settings cannot work (a bad rate, share or URL): exit 1."""

    exit_code = 1


@dataclass(frozen=True)
class Slot:
    """A token bucket's state: `tokens` at time `at` (for `pause`/`replies`: `tokens` is a time)."""

    tokens: float
    at: float


Slots = dict[str, Slot]


def chat_slot(chat: int | None) -> str | None:
    return None if chat is None else f"chat:{chat}"


def fill(slots: Mapping[str, Slot], name: str, now: float, rate: float, burst: float) -> float:
    """The tokens of bucket `name` at `now` (a missing bucket is full)."""
    slot = slots.get(name)
    if slot is None:
        return burst
    return min(burst, slot.tokens + max(0.0, now - slot.at) * rate)


def take(
    slots: Mapping[str, Slot], now: float, chat: int | None, priority: Priority, settings: BudgetSettings
) -> tuple[float, Slots]:
    """(0, the slots to write) when a send may go now; else (seconds to wait, the slots to write).

    Pure: the backends read the slots, call this (or its Lua twin) atomically and write the result.
    """
    paused = slots.get("pause")
    if paused is not None and paused.tokens > now:
        return paused.tokens - now, {}
    changes: Slots = {}
    rate, burst = settings.per_second, settings.burst
    fleet = fill(slots, "all", now, rate, burst)
    chat_name = chat_slot(chat)
    chat_tokens = 0.0
    if chat_name is not None:
        chat_rate, chat_burst = settings.chat_bucket(chat)  # type: ignore[arg-type]
        chat_tokens = fill(slots, chat_name, now, chat_rate, chat_burst)
        if chat_tokens < 1.0:
            return (1.0 - chat_tokens) / chat_rate, {}
    if priority is Priority.REPLY:
        if fleet < 1.0:
            wait = (1.0 - fleet) / rate
            changes["replies"] = Slot(now + wait + settings.reply_guard, now)
            return wait, changes
        changes["all"] = Slot(fleet - 1.0, now)
    elif priority is Priority.BROADCAST:
        replies = slots.get("replies")
        if replies is not None and replies.tokens > now:
            return replies.tokens - now, {}
        need = 1.0 + settings.reserve
        if fleet < need:
            return (need - fleet) / rate, {}
        share_rate = rate * settings.broadcast_share
        mine = fill(slots, "broadcast", now, share_rate, 1.0)
        if mine < 1.0:
            return (1.0 - mine) / share_rate, {}
        changes["all"] = Slot(fleet - 1.0, now)
        changes["broadcast"] = Slot(mine - 1.0, now)
    else:
        paid = fill(slots, "paid", now, settings.paid_per_second, 1.0)
        if paid < 1.0:
            return (1.0 - paid) / settings.paid_per_second, {}
        changes["paid"] = Slot(paid - 1.0, now)
    if chat_name is not None:
        changes[chat_name] = Slot(chat_tokens - 1.0, now)
    return 0.0, changes


def paused_until(slots: Mapping[str, Slot], now: float, seconds: float) -> Slots:
    """The `pause` slot after a 429 asking to wait `seconds` (never shortening a longer pause)."""
    current = slots.get("pause")
    until = max(now + seconds, current.tokens if current is not None else 0.0)
    return {"pause": Slot(until, now)}


def budget_key(token: str) -> str:
    """The budget's name for a bot token: a digest (the token itself is never stored)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:24]


class SendBudget(Protocol):
    """Where the fleet's budget lives. `take` is atomic across every process using the same store."""

    async def take(self, chat: int | None, priority: Priority) -> float:
        """0 when a send may go now (its tokens are taken), else seconds to wait before asking again."""
        ...

    async def pause(self, seconds: float) -> None:
        """Nothing is sent by anyone for `seconds` (Telegram answered 429)."""
        ...

    async def close(self) -> None: ...


class MemoryBudget:
    """The budget of one process: the same rule, in a dict (the embedded default)."""

    def __init__(
        self, settings: BudgetSettings | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings or BudgetSettings()
        self.clock = clock
        self._slots: Slots = {}
        self._takes = 0

    async def take(self, chat: int | None, priority: Priority) -> float:
        now = self.clock()
        wait, changes = take(self._slots, now, chat, priority, self.settings)
        self._slots.update(changes)
        self._takes += 1
        if self._takes % 4096 == 0:
            self._forget_full_chats(now)
        return wait

    async def pause(self, seconds: float) -> None:
        self._slots.update(paused_until(self._slots, self.clock(), seconds))

    async def close(self) -> None:
        return None

    def _forget_full_chats(self, now: float) -> None:
        """A chat bucket idle long enough to be full again is the same as no bucket: drop it."""
        horizon = max(
            self.settings.chat_burst / self.settings.chat_per_second,
            self.settings.group_burst * 60.0 / self.settings.group_per_minute,
        )
        for name in [n for n, s in self._slots.items() if n.startswith("chat:") and now - s.at > horizon]:
            del self._slots[name]


# ---------------------------------------------------------------------------------------------- wiring

REDIS_URL_VARIABLE = "FIML_REDIS_URL"
STORE_VARIABLE = "FIML_SEND_BUDGET"  # memory | redis | database; default: redis if configured, else
# the database when it is PostgreSQL, else memory
STORES = ("memory", "redis", "database")


def settings_from_env(env: Mapping[str, str]) -> BudgetSettings:
    """`FIML_TELEGRAM_RATE` (messages/s per token, default 30) and `FIML_BROADCAST_SHARE` (default 0.8)."""
    values: dict[str, float] = {}
    for variable, name in (("FIML_TELEGRAM_RATE", "per_second"), ("FIML_BROADCAST_SHARE", "broadcast_share")):
        raw = env.get(variable, "").strip()
        if not raw:
            continue
        try:
            value = float(raw)
        except ValueError:
            raise BudgetConfigError(f"{variable}={raw!r}: give a number") from None
        if not math.isfinite(value):
            raise BudgetConfigError(f"{variable}={raw!r}: give a finite number")
        values[name] = value
    return BudgetSettings(**values)


def store_for(env: Mapping[str, str], database_url: str) -> str:
    """Which store holds the budget: FIML_SEND_BUDGET, else Redis when configured, else PostgreSQL, else memory."""
    chosen = env.get(STORE_VARIABLE, "").strip().lower()
    if chosen:
        if chosen not in STORES:
            raise BudgetConfigError(f"{STORE_VARIABLE}={chosen!r}: choose one of {', '.join(STORES)}")
        if chosen == "redis" and not env.get(REDIS_URL_VARIABLE, "").strip():
            raise BudgetConfigError(
                f"{STORE_VARIABLE}=redis needs {REDIS_URL_VARIABLE} (e.g. redis://127.0.0.1:6379/0)"
            )
        return chosen
    if env.get(REDIS_URL_VARIABLE, "").strip():
        return "redis"
    if database_url.startswith(("postgres", "postgresql")):
        return "database"
    return "memory"


def open_budget(token: str, database_url: str, env: Mapping[str, str] | None = None) -> SendBudget:
    """The budget every sender with `token` shares, from the environment (see `store_for`).

    Redis and SQLAlchemy are imported only when chosen: the embedded default needs neither.
    """
    env = os.environ if env is None else env
    settings = settings_from_env(env)
    store = store_for(env, database_url)
    if store == "redis":
        from .redis_budget import RedisBudget

        return RedisBudget(env[REDIS_URL_VARIABLE].strip(), budget_key(token), settings)
    if store == "database":
        from .sql_budget import SqlBudget

        return SqlBudget(database_url, budget_key(token), settings)
    return MemoryBudget(settings)
