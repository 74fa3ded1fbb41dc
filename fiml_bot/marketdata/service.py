"""Live sections as a learner sees them: data from the cache or one provider call, within a deadline.

An adapter calls `MarketData.show` after the tutor's transaction, for a message carrying `LiveData`.
The learner's own key for the provider is tried first, then the operator's; each call is counted in
`fiml_market_data_requests_total{provider,outcome}`. Whatever happens (a 429, a bad key, an outage, the
deadline) the learner gets the section: live, or the lesson's fallback with its "as of" line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from fiml_cms import message

from ..tutor.messages import LiveData
from . import codec, present
from .cache import TtlCache
from .limits import KeyLimits
from .model import BadKey, History, ProviderFailure, Quote, RateLimited, Throttled
from .ports import Provider, SharedStore

log = logging.getLogger("fiml_bot.marketdata")

DEADLINE = "deadline"  # the outcome counted when a learner's section went out without waiting longer
LearnerKey = Callable[[str, str], str | None]  # (learner id, provider) -> the learner's key, or None
KeyUsed = Callable[[str, str], None]  # (learner id, provider): one call made with the learner's key
ChartRenderer = Callable[[History, str], bytes]
V = TypeVar("V")
LATE_WAIT = 0.05  # seconds a learner still waits for a call already past the deadline (it may just land)
RENDER_BOUND = 10.0  # seconds a learner may wait for a chart being drawn from data already in hand


@dataclass(frozen=True)
class Shown:
    """A live section ready to send: text, or a picture with `text` as its caption."""

    text: str
    live: bool
    photo: bytes | None = None
    history: History | None = None  # for a terminal's sparkline


@dataclass
class MarketData:
    provider: Provider
    operator_key: str = ""
    ttl: float = 60.0
    deadline: float = 2.0
    count: Callable[[str, str], None] = lambda provider, outcome: None
    learner_key: LearnerKey = lambda learner, provider: None
    key_used: KeyUsed = lambda learner, provider: None
    used_today: Callable[[str, str], int] = lambda learner, provider: 0  # calls with the learner's key today
    limits: KeyLimits = field(default_factory=KeyLimits)
    shared: SharedStore | None = None
    renderer: ChartRenderer | None = None
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self.quotes: TtlCache[Quote] = TtlCache(
            self.ttl, clock=self.clock, shared=self.shared, encode=codec.encode, decode=codec.decode_quote
        )
        self.histories: TtlCache[History] = TtlCache(
            self.ttl, clock=self.clock, shared=self.shared, encode=codec.encode, decode=codec.decode_history
        )
        self.pictures: TtlCache[bytes] = TtlCache(self.ttl, clock=self.clock)

    async def show(self, live: LiveData, learner_id: str) -> Shown:
        """The section with live data, or with its fallback once the deadline passes or the data fails.

        The deadline bounds the data (cache or provider); drawing a chart from data in hand is bounded
        apart (RENDER_BOUND), and without a picture the chart's live summary goes out as text."""
        name = self.provider.name
        # A call already in flight for longer than the deadline (a provider hanging) is not waited for
        # again by every learner: each waits only what is left of the deadline since it began.
        budget = max(self.deadline - self._pending_for(live), LATE_WAIT)
        try:
            data = await asyncio.wait_for(self._data(live, learner_id), budget)
        except TimeoutError:
            self.count(name, DEADLINE)
            log.info("%s %s: no data within %.1f s; sent the fallback", name, live.symbol, self.deadline)
            return Shown(fallback_text(live), live=False)
        except ProviderFailure as exc:
            log.info("%s %s: %s; sent the fallback", name, live.symbol, exc)
            return Shown(fallback_text(live), live=False)
        except Exception:  # a bug here must cost the live figures, never the learner's update
            log.exception("%s %s: live data failed; sent the fallback", name, live.symbol)
            return Shown(fallback_text(live), live=False)
        if isinstance(data, Quote):
            block = present.quote_text(data, live.metrics, live.fallback, live.as_of)
            if block is None:
                return Shown(fallback_text(live), live=False)
            return Shown(f"{live.head}\n\n{block}", live=True)
        return Shown(
            chart_caption(live, data), live=True, photo=await self._picture(live, data), history=data
        )

    async def aclose(self) -> None:
        """Close this event loop's connections (the provider's, the shared store's)."""
        await self.provider.aclose()
        if self.shared is not None:
            await self.shared.aclose()

    def _key(self, live: LiveData) -> str:
        if live.kind == "quote":
            return f"q:{self.provider.name}:{live.symbol}"
        return f"h:{self.provider.name}:{live.symbol}:{live.period}"

    def _pending_for(self, live: LiveData) -> float:
        cache = self.quotes if live.kind == "quote" else self.histories
        return cache.pending_for(self._key(live))

    async def _data(self, live: LiveData, learner_id: str) -> Quote | History:
        if live.kind == "quote":
            return await self.quotes.get(
                self._key(live),
                lambda: self._call(learner_id, lambda k: self.provider.quote(live.symbol, k)),
            )
        return await self.histories.get(
            self._key(live),
            lambda: self._call(learner_id, lambda k: self.provider.history(live.symbol, live.period, k)),
        )

    async def _picture(self, live: LiveData, history: History) -> bytes | None:
        """The chart as PNG, drawn in a worker thread (never on the event loop), cached per TTL."""
        renderer = self.renderer
        if renderer is None:
            return None
        key = f"p:{history.provider}:{history.symbol}:{history.period}:{live.chart_kind}:{history.time.isoformat()}"
        try:
            return await asyncio.wait_for(
                self.pictures.get(key, lambda: asyncio.to_thread(renderer, history, live.chart_kind)),
                RENDER_BOUND,
            )
        except Exception:
            log.exception(
                "%s %s: the chart could not be drawn; sent its summary as text",
                history.provider,
                history.symbol,
            )
            return None

    async def _call(self, learner_id: str, call: Callable[[str], Awaitable[V]]) -> V:
        """One provider call: the learner's key first (if stored), then the operator's."""
        name = self.provider.name
        own = await asyncio.to_thread(self.learner_key, learner_id, name)
        keys = ([(own, True)] if own else []) + ([(self.operator_key, False)] if self.operator_key else [])
        if not keys:
            raise BadKey(f"no {name} key: set FIML_MARKET_DATA_KEY, or add your own with /addkey")
        failure: ProviderFailure = BadKey("no key")
        daily = daily_limit(self.provider.limits)
        for key, learners in keys:
            over_today = (
                learners
                and daily is not None
                and await asyncio.to_thread(self.used_today, learner_id, name) >= daily
            )  # the day's quota of a learner's key, counted in the database for every replica
            if over_today or not self.limits.take(name, key, self.provider.limits):
                self.count(name, Throttled.outcome)
                failure = Throttled(f"{name}: the key's free-tier limit is used up for now")
                continue
            try:
                value = await call(key)
            except ProviderFailure as exc:
                self.count(name, exc.outcome)
                failure = exc
                if isinstance(exc, RateLimited | BadKey):
                    continue  # another key may still be good
                raise
            else:
                self.count(name, "ok")
                return value
            finally:
                if learners:
                    await asyncio.to_thread(self.key_used, learner_id, name)
        raise failure


def daily_limit(limits: tuple[tuple[int, float], ...]) -> int | None:
    """The calls a key may make per day by the provider's limits (None: no daily limit)."""
    daily = [count for count, seconds in limits if seconds >= 86_400]
    return min(daily) if daily else None


def fallback_text(live: LiveData) -> str:
    """The section without its data (fiml_cms/message.py, so FIML041 measures this form too)."""
    if live.kind == "quote":
        return message.without_live_data(
            live.head, message.quote_label(live.symbol, live.metrics), live.as_of, live.fallback
        )
    label = message.chart_label(live.symbol, live.period, live.chart_kind)
    return message.without_live_data(live.head, label, live.as_of, live.fallback, live.caption)


def chart_caption(live: LiveData, history: History) -> str:
    parts = [
        live.head,
        f"*{live.caption}*" if live.caption else "",
        present.chart_summary(history),
        present.NOT_ADVICE,
    ]
    return "\n\n".join(p for p in parts if p)
