"""The market-data service from the operator's settings (None when no provider is configured)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..settings import REDIS_URL
from .settings import MarketDataSettings, open_provider

if TYPE_CHECKING:
    from .ports import SharedStore
    from .service import KeyUsed, LearnerKey, MarketData


def open_market_data(
    env: Mapping[str, str],
    *,
    count: Callable[[str, str], None] | None = None,
    learner_key: LearnerKey | None = None,
    key_used: KeyUsed | None = None,
    used_today: Callable[[str, str], int] | None = None,
    charts: bool = True,
) -> MarketData | None:
    """FIML_MARKET_DATA_PROVIDER's adapter, the operator's key, TTL and deadline; FIML_REDIS_URL shares
    the cache between replicas."""
    settings = MarketDataSettings.from_env(env)
    if not settings.provider:
        return None
    from .charts import render_png, warm_up
    from .service import MarketData

    if charts:
        warm_up()

    market = MarketData(
        open_provider(settings.provider, settings.base_url, settings.delay_minutes),
        settings.key,
        ttl=settings.ttl,
        deadline=settings.deadline,
        renderer=render_png if charts else None,
        shared=_shared(env),
    )
    if count is not None:
        market.count = count
    if learner_key is not None:
        market.learner_key = learner_key
    if key_used is not None:
        market.key_used = key_used
    if used_today is not None:
        market.used_today = used_today
    return market


def _shared(env: Mapping[str, str]) -> SharedStore | None:
    """Redis's quote cache when FIML_REDIS_URL is set: every replica reuses one provider answer."""
    url = REDIS_URL.read(env)
    if not url:
        return None
    from ..adapters.redis_quotes import RedisQuotes

    return RedisQuotes(url)
