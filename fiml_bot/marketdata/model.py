"""Market data as plain values, and the ways a provider call can fail (each one a metric outcome)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Quote:
    """The latest quote a provider gives; a figure it does not give is None."""

    provider: str
    symbol: str
    price: float
    time: dt.datetime  # UTC: when the price was made (a date-only provider: that day's close)
    date_only: bool = False  # the provider gives the trading day, not the time
    delay_minutes: int = 0  # how late the provider's data is by its own documentation
    bid: float | None = None
    ask: float | None = None
    change: float | None = None
    change_percent: float | None = None
    volume: float | None = None
    day_high: float | None = None
    day_low: float | None = None


@dataclass(frozen=True)
class Candle:
    time: dt.datetime
    open: float
    high: float
    low: float
    close: float
    volume: float | None = None


@dataclass(frozen=True)
class History:
    """A chart's data: candles oldest first."""

    provider: str
    symbol: str
    period: str
    candles: tuple[Candle, ...]

    @property
    def time(self) -> dt.datetime:
        return self.candles[-1].time


class ProviderFailure(Exception):
    """A provider call that gave no data; `outcome` is its label in fiml_market_data_requests_total."""

    outcome = "error"


class RateLimited(ProviderFailure):
    """The provider said the key is over its limit (or our own per-key limiter would not ask)."""

    outcome = "rate_limited"


class Throttled(RateLimited):
    """Our per-key limiter kept the call back, so the provider's documented free-tier limit holds."""

    outcome = "throttled"


class BadKey(ProviderFailure):
    """The provider refused the key."""

    outcome = "bad_key"


class NoData(ProviderFailure):
    """The provider knows no data for the symbol (or the plan does not include it)."""

    outcome = "no_data"


class Unavailable(ProviderFailure):
    """Outage: connection failure, timeout, 5xx or an answer in an unknown shape."""

    outcome = "error"
