"""The operator's market-data settings, from FIML_* variables (ConfigError, exit 2, for a bad one)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fiml_cms.errors import ConfigError

if TYPE_CHECKING:
    from .ports import Provider

PROVIDERS = ("alphavantage", "finnhub")


@dataclass(frozen=True)
class MarketDataSettings:
    provider: str = ""  # "": no provider, every live section shows its fallback
    key: str = ""  # the operator's key (learners may add their own with /addkey)
    base_url: str = ""  # another address for the provider's API (a proxy, or the tests' fake)
    ttl: float = 60.0
    deadline: float = 2.0
    delay_minutes: int = 0  # how late the operator's plan delivers quotes ("15 min delayed")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MarketDataSettings:
        """From the FIML_MARKET_DATA_* settings (fiml_bot/settings.py); ConfigError for a bad one."""
        from .. import settings as s

        return cls(
            s.MARKET_DATA_PROVIDER.read(env),
            s.MARKET_DATA_KEY.read(env),
            s.MARKET_DATA_URL.read(env),
            s.MARKET_DATA_TTL.read(env),
            s.MARKET_DATA_DEADLINE.read(env),
            int(s.MARKET_DATA_DELAY_MINUTES.read(env)),
        )


def open_provider(name: str, base_url: str = "", delay_minutes: int = 0) -> Provider:
    """The adapter for provider `name` (imported only when chosen)."""
    if name == "alphavantage":
        from ..adapters.alphavantage import BASE_URL, AlphaVantage

        return AlphaVantage(base_url or BASE_URL, delay_minutes=delay_minutes)
    if name == "finnhub":
        from ..adapters.finnhub import BASE_URL as FINNHUB_URL
        from ..adapters.finnhub import Finnhub

        return Finnhub(base_url or FINNHUB_URL, delay_minutes=delay_minutes)
    raise ConfigError(f"{name!r} is not a data provider: give one of {', '.join(PROVIDERS)}")
