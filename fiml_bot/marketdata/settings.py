"""The operator's market-data settings, from FIML_* variables (ConfigError, exit 2, for a bad one)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fiml_cms.errors import ConfigError

from ..env import float_variable

if TYPE_CHECKING:
    from .ports import Provider

PROVIDERS = ("alphavantage", "finnhub")
PROVIDER_VARIABLE = "FIML_MARKET_DATA_PROVIDER"
KEY_VARIABLE = "FIML_MARKET_DATA_KEY"


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
        provider = env.get(PROVIDER_VARIABLE, "").strip().lower()
        if provider in ("off", "none"):
            provider = ""
        if provider and provider not in PROVIDERS:
            raise ConfigError(
                f"{PROVIDER_VARIABLE}={provider!r}: give one of {', '.join(PROVIDERS)} (or leave it unset)"
            )
        ttl = float_variable(
            env, "FIML_MARKET_DATA_TTL", 60.0, "the quote cache's lifetime in seconds, e.g. 60"
        )
        deadline = float_variable(
            env, "FIML_MARKET_DATA_DEADLINE", 2.0, "seconds to wait for a provider, e.g. 2"
        )
        delay = float_variable(
            env, "FIML_MARKET_DATA_DELAY_MINUTES", 0.0, "your plan's delay in minutes, e.g. 15"
        )
        if ttl <= 0 or deadline <= 0 or delay < 0:
            raise ConfigError(
                "FIML_MARKET_DATA_TTL and FIML_MARKET_DATA_DEADLINE must be above 0, FIML_MARKET_DATA_DELAY_MINUTES 0 or more"
            )
        return cls(
            provider,
            env.get(KEY_VARIABLE, "").strip(),
            env.get("FIML_MARKET_DATA_URL", "").strip(),
            ttl,
            deadline,
            int(delay),
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
