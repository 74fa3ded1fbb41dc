"""One Telegram send budget per bot token, shared by every process that sends with it.

Telegram allows a bot 30 messages in any second in all, 1 a second per private chat and 20 a minute
per group, and answers 429 past them. Each process limiting itself is not enough once two replicas,
or a replica and `fiml-bot notify`, send with the same token; so the budget lives in a store they all
reach, and every store applies the same rule, `take` below (Redis as its Lua twin):

* `MemoryBudget` (here): in process, for one process (the embedded default, no dependency);
* `RedisBudget` (`redis_budget.py`): one atomic Lua script per send, when `FIML_REDIS_URL` is set;
* `SqlBudget` (`sql_budget.py`): one short transaction per send on the bot's PostgreSQL database.

The rule bounds windows, it does not refill buckets: the guarantee is that no sliding 1-second window
holds more than `cap` counted sends (default 28, under Telegram's 30) and that a chat gets a send at
most every `chat_gap` seconds (groups `group_gap`). A send counts from its turn as in flight, then
(`sent`) from its answer: Telegram saw it before answering, so the bound holds at Telegram's end
whatever the delays between a turn and the arrival. The state is a set of named *slots*, each one integer time in microseconds of the store's clock (integers make
the Python rule and its Lua twin agree to the microsecond):

* `w:0` .. `w:<cap-1>`: when the fleet's last `cap` counted sends were answered (the window's log;
  in flight: the turn + `hold`). A send may go while fewer than `cap` of them are younger than a second; a broadcast only while fewer
  than `cap - reserve` are (the reserve is for replies), and not while replies wait (`replies`).
* `g`: the fleet's pace (GCRA: the theoretical time of the next send at `cap` a second, with a burst
  of `burst` inside the window's cap). The window alone would let a whole cap go at one instant and
  the next cap a second later, in bursts that stress every hop. Paced, a burst is `burst` sends, and broadcasts leave `reserve` of it to replies.
* `b`: when the next broadcast send may go (broadcasts are paced at `broadcast_share` of the cap:
  spread out, never a burst); `p`: the same for paid broadcasts (billed by Telegram instead of
  counted, up to 1,000/s).
* `pause`: until when nobody sends (a 429's `retry_after`); `chat:<id>`: the chat's next send.

A send `take`s its turn (0 to wait) or learns how long to wait before asking again. Times come from
the store's clock (Redis `TIME`, PostgreSQL `clock_timestamp()`), so the hosts' clocks need not agree.
"""

from __future__ import annotations

import enum
import hashlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol, TypeVar

from fiml_cms.errors import FimlError
from fiml_cms.settings import Setting, SettingsError

from ..settings import BROADCAST_SHARE, REDIS_URL, SEND_BUDGET, TELEGRAM_RATE

T = TypeVar("T")

US = 1_000_000  # microseconds a second: the rule's unit of time
WINDOW = US  # Telegram counts a token's sends per second


class Priority(str, enum.Enum):
    """Who a send is for; replies to a learner's own update go first."""

    REPLY = "reply"
    BROADCAST = "broadcast"
    PAID = "paid"


@dataclass(frozen=True)
class BudgetSettings:
    """The limits the fleet keeps for one bot token (a margin under Telegram's own)."""

    cap: int = 28  # counted sends in any sliding second, each counted from its answer (Telegram: 30)
    reserve: int = 2  # of the cap and the burst, broadcasts never take: a reply finds a place at once
    burst: int = 5  # sends at one instant, inside the cap (then paced at the cap)
    broadcast_share: float = 0.9  # of the cap, the pace of a broadcast when no reply competes
    chat_gap: float = 1.05  # seconds between two sends to one private chat (Telegram: 1)
    group_gap: float = 3.15  # seconds between two sends to one group or channel (Telegram: 20/min)
    reply_guard: float = 0.1  # seconds broadcasts hold back after a reply had to wait
    hold: float = 10.0  # seconds a granted send counts as in flight until its answer (`sent`) comes
    paid_per_second: float = 1000.0  # Telegram's ceiling for paid broadcasts

    def __post_init__(self) -> None:
        if isinstance(self.cap, bool) or not isinstance(self.cap, int) or not 1 <= self.cap <= 1000:
            raise BudgetConfigError(
                f"the send cap must be a whole number of messages a second, not {self.cap}"
            )
        if not 0 <= self.reserve < self.cap:
            raise BudgetConfigError(f"the reply reserve must be in [0, {self.cap}), not {self.reserve}")
        if not self.reserve < self.burst <= self.cap:
            raise BudgetConfigError(f"the burst must be in ({self.reserve}, {self.cap}], not {self.burst}")
        if not 0 < self.broadcast_share <= 1:
            raise BudgetConfigError(f"the broadcast share must be in (0, 1], not {self.broadcast_share}")
        if not 0 < self.paid_per_second <= 1000:
            raise BudgetConfigError("paid broadcasts go at most 1,000 messages/s (Telegram's limit)")
        if not (self.chat_gap >= 1.0 and self.group_gap >= 3.0):
            raise BudgetConfigError("a chat may get at most 1 message a second, a group 20 a minute")

    def chat_gap_us(self, chat: int) -> int:
        """Microseconds between two sends to `chat`: private chats have positive ids, groups negative."""
        return micros(self.chat_gap if chat > 0 else self.group_gap)

    def spacing_us(self) -> int:
        """Microseconds between two sends at the cap's pace (the GCRA's emission interval)."""
        return math.ceil(US / self.cap)

    def broadcast_gap_us(self) -> int:
        return max(1, math.ceil(US / (self.cap * self.broadcast_share)))

    def paid_gap_us(self) -> int:
        return max(1, math.ceil(US / self.paid_per_second))

    def with_cap(self, cap: int) -> BudgetSettings:
        """The same limits with another cap (a process's share of the fleet's), reserve scaled down."""
        cap = max(1, cap)
        return BudgetSettings(
            cap=cap,
            reserve=min(self.reserve, cap - 1),
            burst=max(min(self.burst, cap), min(self.reserve, cap - 1) + 1),
            broadcast_share=self.broadcast_share,
            chat_gap=self.chat_gap,
            group_gap=self.group_gap,
            reply_guard=self.reply_guard,
            hold=self.hold,
            paid_per_second=self.paid_per_second,
        )


class BudgetConfigError(FimlError, ValueError):
    """The budget's settings cannot work (a bad rate, share or URL, or FIML_SEND_BUDGET=redis without
    FIML_REDIS_URL): an environment problem, exit 2 like every other bad FIML_* setting."""

    exit_code = 2


class BudgetUnreachable(Exception):
    """The store did not answer (connection refused or lost, a timeout): an outage, not a bug."""


def micros(seconds: float) -> int:
    return round(seconds * US)


Slots = dict[str, int]


class Decision(NamedTuple):
    """A take's answer: microseconds to wait (0: send now), whether the fleet is paused, what to write;
    for a counted send granted, the log slot it holds and the time written there until it is `sent`."""

    wait: int
    paused: bool
    changes: Slots
    slot: str = ""
    held: int = 0


def chat_slot(chat: int | None) -> str | None:
    return None if chat is None else f"chat:{chat}"


def window_slots(settings: BudgetSettings) -> list[str]:
    return [f"w:{i}" for i in range(settings.cap)]


def window_wait(slots: Mapping[str, int], now: int, names: list[str], limit: int) -> tuple[int, str | None]:
    """(0, the log slot to overwrite) when fewer than `limit` sends are younger than a second, else
    (microseconds until enough of them are older, None)."""
    young = sorted(slots[n] for n in names if n in slots and slots[n] > now - WINDOW)
    if len(young) >= limit:
        return young[len(young) - limit] + WINDOW - now, None
    free = next(n for n in names if n not in slots or slots[n] <= now - WINDOW)
    return 0, free


def pace_wait(slots: Mapping[str, int], now: int, settings: BudgetSettings, headroom: int) -> tuple[int, int]:
    """(0, the pace's next `g`) when a send conforms at `now` leaving `headroom` sends of the burst
    unused, else (microseconds to wait, 0)."""
    spacing = settings.spacing_us()
    allowance = (settings.burst - 1 - headroom) * spacing
    tat = slots.get("g", 0)
    if tat - allowance > now:
        return tat - allowance - now, 0
    return 0, max(tat, now) + spacing


def take(
    slots: Mapping[str, int], now: int, chat: int | None, priority: Priority, settings: BudgetSettings
) -> Decision:
    """Whether a send may go at `now` (microseconds), and the slots to write.

    Pure: the backends read the slots, call this (or its Lua twin) atomically and write the result.
    """
    pause = slots.get("pause", 0)
    if pause > now:
        return Decision(pause - now, True, {})
    changes: Slots = {}
    chat_name = chat_slot(chat)
    if chat_name is not None:
        due = slots.get(chat_name, 0)
        if due > now:
            return Decision(due - now, False, {})
        changes[chat_name] = now + settings.chat_gap_us(chat)  # type: ignore[arg-type]
    names = window_slots(settings)
    if priority is Priority.REPLY:
        wait, free = window_wait(slots, now, names, settings.cap)
        if free is None:
            guard = max(slots.get("replies", 0), now + min(wait, WINDOW) + micros(settings.reply_guard))
            return Decision(wait, False, {"replies": guard})
        wait, pace = pace_wait(slots, now, settings, 0)
        if wait:
            guard = max(slots.get("replies", 0), now + min(wait, WINDOW) + micros(settings.reply_guard))
            return Decision(wait, False, {"replies": guard})
        held = now + micros(settings.hold)
        changes[free] = held
        changes["g"] = pace
        return Decision(0, False, changes, free, held)
    elif priority is Priority.BROADCAST:
        replies = slots.get("replies", 0)
        if replies > now:
            return Decision(replies - now, False, {})
        due = slots.get("b", 0)
        if due > now:
            return Decision(due - now, False, {})
        wait, free = window_wait(slots, now, names, settings.cap - settings.reserve)
        if free is None:
            return Decision(wait, False, {})
        wait, pace = pace_wait(slots, now, settings, settings.reserve)
        if wait:
            return Decision(wait, False, {})
        gap = settings.broadcast_gap_us()
        held = now + micros(settings.hold)
        changes[free] = held
        changes["g"] = pace
        changes["b"] = max(due, now - gap) + gap  # one late wake-up is caught up, never more
        return Decision(0, False, changes, free, held)
    else:
        due = slots.get("p", 0)
        if due > now:
            return Decision(due - now, False, {})
        changes["p"] = now + settings.paid_gap_us()
    return Decision(0, False, changes)


def sent(
    slots: Mapping[str, int], now: int, chat: int | None, slot: str, held: int, settings: BudgetSettings
) -> Slots:
    """The slots after a granted send's answer came at `now`: its log slot counts from now (Telegram
    saw it at the latest now) instead of `held`, and its chat's next send is a gap after now.

    Why: a send's turn is granted before it reaches Telegram, by a delay that varies (the event loop,
    the network); counting each send from its answer makes the window's bound hold at Telegram's end
    whatever the delay. Nothing changes when the slot was reused meanwhile (it no longer holds `held`).
    """
    changes: Slots = {}
    if slot and slots.get(slot) == held:
        changes[slot] = now
    chat_name = chat_slot(chat)
    if chat_name is not None:
        changes[chat_name] = max(slots.get(chat_name, 0), now + settings.chat_gap_us(chat))  # type: ignore[arg-type]
    return changes


def paused_until(slots: Mapping[str, int], now: int, seconds: float) -> Slots:
    """The `pause` slot after a 429 asking to wait `seconds` (never shortening a longer pause)."""
    return {"pause": max(now + micros(seconds), slots.get("pause", 0))}


def live_senders(beats: Mapping[str, int], now: int, horizon: float) -> int:
    """How many senders sent a heartbeat within `horizon` seconds (at least 1: the asker)."""
    return max(1, sum(1 for at in beats.values() if at > now - micros(horizon)))


def budget_key(token: str) -> str:
    """The budget's name for a bot token: a digest (the token itself is never stored)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:24]


HEARTBEAT_HORIZON = 10.0  # seconds: a sender whose last heartbeat is older is gone


class SendBudget(Protocol):
    """Where the fleet's budget lives. `take` is atomic across every process using the same store."""

    settings: BudgetSettings

    async def take(self, chat: int | None, priority: Priority) -> Decision:
        """Wait 0: a send may go now (its turn is taken); else microseconds to wait before asking again."""
        ...

    async def pause(self, seconds: float) -> None:
        """Nothing is sent by anyone for `seconds` (Telegram answered 429)."""
        ...

    async def sent(self, chat: int | None, decision: Decision) -> None:
        """The send `decision` granted got its answer (delivered or not): it counts from now."""
        ...

    async def heartbeat(self, sender: str) -> int:
        """Record that `sender` is alive; how many senders are (the share a fallback keeps)."""
        ...

    async def close(self) -> None: ...


def monotonic_us() -> int:
    return time.monotonic_ns() // 1000


class MemoryBudget:
    """The budget of one process: the same rule, in a dict (the embedded default)."""

    def __init__(
        self, settings: BudgetSettings | None = None, clock: Callable[[], int] = monotonic_us
    ) -> None:
        self.settings = settings or BudgetSettings()
        self.clock = clock
        self._slots: Slots = {}
        self._takes = 0

    async def take(self, chat: int | None, priority: Priority) -> Decision:
        now = self.clock()
        decision = take(self._slots, now, chat, priority, self.settings)
        self._slots.update(decision.changes)
        self._takes += 1
        if self._takes % 4096 == 0:
            self._forget_past_chats(now)
        return decision

    async def pause(self, seconds: float) -> None:
        self._slots.update(paused_until(self._slots, self.clock(), seconds))

    async def sent(self, chat: int | None, decision: Decision) -> None:
        self._slots.update(sent(self._slots, self.clock(), chat, decision.slot, decision.held, self.settings))

    def adopt(self, other: MemoryBudget) -> None:
        """Take over `other`'s slots (same clock): a new share keeps the pause and the chats' gaps."""
        names = set(window_slots(self.settings))
        self._slots = {n: at for n, at in other._slots.items() if not n.startswith("w:") or n in names}

    async def heartbeat(self, sender: str) -> int:
        return 1

    async def close(self) -> None:
        return None

    def _forget_past_chats(self, now: int) -> None:
        """A chat whose next send is due already is the same as no slot: drop it."""
        for name in [n for n, due in self._slots.items() if n.startswith("chat:") and due <= now]:
            del self._slots[name]


# ---------------------------------------------------------------------------------------------- wiring


def _checked(setting: Setting[T], env: Mapping[str, str]) -> T:
    """The setting's value through its definition; its error as a BudgetConfigError (exit 2), the
    budget's one error for a mapping nobody checked yet."""
    try:
        return setting.read(env)
    except SettingsError as exc:
        raise BudgetConfigError(str(exc)) from None


def settings_from_env(env: Mapping[str, str]) -> BudgetSettings:
    """`FIML_TELEGRAM_RATE` (the cap: messages in any second per token, default 28) and
    `FIML_BROADCAST_SHARE` (of the cap, default 0.9)."""
    return BudgetSettings(cap=_checked(TELEGRAM_RATE, env), broadcast_share=_checked(BROADCAST_SHARE, env))


def store_for(env: Mapping[str, str], database_url: str) -> str:
    """Which store holds the budget: FIML_SEND_BUDGET, else Redis when configured, else PostgreSQL, else memory."""
    chosen, redis_url = _checked(SEND_BUDGET, env), _checked(REDIS_URL, env)
    if chosen == "redis" and not redis_url:
        raise BudgetConfigError(
            f"{SEND_BUDGET.name}=redis needs {REDIS_URL.name} (e.g. redis://127.0.0.1:6379/0)"
        )
    if chosen:
        return chosen
    if redis_url:
        return "redis"
    if database_url.startswith(("postgres", "postgresql")):
        return "database"
    return "memory"


def open_budget(token: str, database_url: str, env: Mapping[str, str]) -> SendBudget:
    """The budget every sender with `token` shares, from the environment (see `store_for`).

    Redis and SQLAlchemy are imported only when chosen: the embedded default needs neither.
    """
    settings = settings_from_env(env)
    store = store_for(env, database_url)
    if store == "redis":
        from .redis_budget import RedisBudget

        return RedisBudget(_checked(REDIS_URL, env), budget_key(token), settings)
    if store == "database":
        from .sql_budget import SqlBudget

        return SqlBudget(database_url, budget_key(token), settings)
    return MemoryBudget(settings)
