"""Alpha Vantage (https://www.alphavantage.co/documentation/): GLOBAL_QUOTE and TIME_SERIES_DAILY/WEEKLY.

Every answer is HTTP 200; the kind of answer is in the body: `{"Global Quote": {...}}` (empty for an
unknown symbol), `{"Error Message": ...}` (a bad call or, naming "apikey", a bad key) and
`{"Information": ...}` / `{"Note": ...}` (the rate limit, or a premium-only endpoint).
The free tier: 25 requests a day; quotes are the latest trading day's (no bid/ask, no intraday time).
"""

from __future__ import annotations

from typing import Any

from ..marketdata.model import (
    BadKey,
    Candle,
    History,
    NoData,
    ProviderFailure,
    Quote,
    RateLimited,
    Unavailable,
)
from .market_http import PERIOD_DAYS, JsonApi, number, utc_midnight

NAME = "alphavantage"
BASE_URL = "https://www.alphavantage.co"
COMPACT = 100  # daily candles in the free `outputsize=compact` answer


class AlphaVantage:
    name = NAME
    limits: tuple[tuple[int, float], ...] = ((5, 60.0), (25, 86_400.0))

    def __init__(self, base_url: str = BASE_URL, *, delay_minutes: int = 0) -> None:
        self.api = JsonApi(base_url)
        self.delay_minutes = delay_minutes

    async def _query(self, key: str, **params: str) -> dict[str, Any]:
        status, body = await self.api.get("/query", {**params, "apikey": key})
        if status != 200 or not isinstance(body, dict):
            raise Unavailable(f"Alpha Vantage answered HTTP {status}")
        failure = _failure(body)
        if failure is not None:
            raise failure
        return body

    async def quote(self, symbol: str, key: str) -> Quote:
        body = await self._query(key, function="GLOBAL_QUOTE", symbol=symbol)
        raw = body.get("Global Quote")
        if not isinstance(raw, dict) or not raw:
            raise NoData(f"Alpha Vantage has no quote for {symbol}")
        price = number(raw.get("05. price"))
        day = raw.get("07. latest trading day")
        if price is None or not isinstance(day, str):
            raise Unavailable("Alpha Vantage's quote has no price or day")
        return Quote(
            NAME,
            symbol,
            price,
            utc_midnight(day),
            date_only=True,
            delay_minutes=self.delay_minutes,
            change=number(raw.get("09. change")),
            change_percent=number(raw.get("10. change percent")),
            volume=number(raw.get("06. volume")),
            day_high=number(raw.get("03. high")),
            day_low=number(raw.get("04. low")),
        )

    async def history(self, symbol: str, period: str, key: str) -> History:
        days = PERIOD_DAYS.get(period, 260)
        weekly = days > COMPACT
        function = "TIME_SERIES_WEEKLY" if weekly else "TIME_SERIES_DAILY"
        body = await self._query(key, function=function, symbol=symbol, outputsize="compact")
        series = body.get("Weekly Time Series" if weekly else "Time Series (Daily)")
        if not isinstance(series, dict) or not series:
            raise NoData(f"Alpha Vantage has no history for {symbol}")
        wanted = max(days // 5, 2) if weekly else days
        candles = []
        for day in sorted(series)[-wanted:]:
            bar = series[day]
            values = [number(bar.get(f"{i}. {n}")) for i, n in enumerate(("open", "high", "low", "close"), 1)]
            if None in values:
                raise Unavailable("Alpha Vantage's history has a bar without prices")
            o, h, lo, c = (float(v) for v in values)  # type: ignore[arg-type]
            candles.append(Candle(utc_midnight(day), o, h, lo, c, number(bar.get("5. volume"))))
        return History(NAME, symbol, period, tuple(candles))

    async def aclose(self) -> None:
        await self.api.aclose()


def _failure(body: dict[str, Any]) -> ProviderFailure | None:
    error = body.get("Error Message")
    if isinstance(error, str):
        return BadKey("Alpha Vantage refused the key") if "apikey" in error.lower() else NoData(error[:200])
    note = body.get("Information") or body.get("Note")
    if isinstance(note, str):
        lowered = note.lower()
        if "apikey" in lowered and "invalid" in lowered:
            return BadKey("Alpha Vantage refused the key")
        if "premium" in lowered and "rate limit" not in lowered:
            return NoData("Alpha Vantage serves this only on a premium plan")
        return RateLimited("Alpha Vantage: the key is over its rate limit")
    return None
