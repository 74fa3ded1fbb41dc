"""A TTL cache with one fetch in flight per key: however many learners open a live section at once, a
replica asks the provider once per TTL (and, with a shared store, once per TTL for the whole fleet).

A failure is remembered too (for `failure_ttl`), so a provider that is down or over its limit is not
asked again by every learner; the learners get the lesson's fallback meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from .model import ProviderFailure
from .ports import SharedStore

log = logging.getLogger("fiml_bot.marketdata")
T = TypeVar("T")
POLL = 0.05  # seconds between looks at the shared store while another replica fetches


@dataclass
class _Entry(Generic[T]):
    expires: float
    value: T | None = None
    failure: ProviderFailure | None = None


class TtlCache(Generic[T]):
    def __init__(
        self,
        ttl: float,
        *,
        failure_ttl: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedStore | None = None,
        encode: Callable[[T], bytes] | None = None,
        decode: Callable[[bytes], T] | None = None,
        max_entries: int = 10_000,
    ) -> None:
        self.ttl = ttl
        self.failure_ttl = min(ttl, 15.0) if failure_ttl is None else failure_ttl
        self.clock = clock
        self.shared = shared if encode is not None and decode is not None else None
        self.encode, self.decode = encode, decode
        self.max_entries = max_entries
        self._entries: dict[str, _Entry[T]] = {}
        self._flights: dict[str, asyncio.Future[T]] = {}
        self._started: dict[str, float] = {}  # when each fetch in flight began (time.monotonic)

    def pending_for(self, key: str) -> float:
        """Seconds the fetch of `key` has been in flight (0.0 when none is)."""
        started = self._started.get(key)
        return 0.0 if started is None or key not in self._flights else time.monotonic() - started

    def get(self, key: str, fetch: Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
        """The value for `key`: cached, or the one fetch in flight, or a new fetch (shielded: a caller's
        deadline cancels only its own wait, and the fetch goes on to serve the learners after it)."""
        loop = asyncio.get_running_loop()
        entry = self._entries.get(key)
        if entry is not None and entry.expires > self.clock():
            done: asyncio.Future[T] = loop.create_future()
            if entry.failure is not None:
                done.set_exception(entry.failure)
            else:
                done.set_result(entry.value)  # type: ignore[arg-type]
            return done
        flight = self._flights.get(key)
        if flight is None or flight.get_loop() is not loop:
            flight = self._flights[key] = asyncio.ensure_future(self._fill(key, fetch))
            self._started[key] = time.monotonic()
            flight.add_done_callback(lambda f: self._landed(key, f))
        return asyncio.shield(flight)

    async def _fill(self, key: str, fetch: Callable[[], Awaitable[T]]) -> T:
        if self.shared is None:
            return await fetch()
        assert self.encode is not None and self.decode is not None
        deadline = self.clock() + self.ttl
        try:
            while True:
                raw = await self.shared.get(key)
                if raw is not None:
                    return self.decode(raw)
                if self.clock() >= deadline or await self.shared.claim(key, self.failure_ttl or 1.0):
                    break
                await asyncio.sleep(POLL)  # another replica is fetching it
        except (OSError, ConnectionError, ValueError) as exc:  # the shared store is down: ask alone
            log.warning(
                "the shared market-data cache is unavailable (%s); fetching without it", type(exc).__name__
            )
            return await fetch()
        value = await fetch()
        try:
            await self.shared.put(key, self.encode(value), self.ttl)
        except (OSError, ConnectionError) as exc:
            log.warning("could not share a market-data answer (%s)", type(exc).__name__)
        return value

    def _landed(self, key: str, flight: asyncio.Future[T]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
            self._started.pop(key, None)
        if flight.cancelled():
            return
        failure = flight.exception()
        now = self.clock()
        if failure is None:
            self._entries[key] = _Entry(now + self.ttl, value=flight.result())
        elif isinstance(failure, ProviderFailure):
            self._entries[key] = _Entry(now + self.failure_ttl, failure=failure)
        if len(self._entries) > self.max_entries:
            self._entries = {k: e for k, e in self._entries.items() if e.expires > now}
