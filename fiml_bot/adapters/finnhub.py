"""Finnhub (https://finnhub.io/docs/api): `/quote` and `/stock/candle`.

A quote is `{"c": price, "d": change, "dp": change %, "h", "l", "o", "pc", "t": unix time}`; an unknown
symbol answers zeros. A bad key is HTTP 401 `{"error": "Invalid API key"}`, the rate limit HTTP 429,
an endpoint the plan lacks HTTP 403 (candles are not in today's free plan). Free tier: 60 calls a
minute and at most 30 a second; US quotes are real time.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from ..marketdata.model import BadKey, Candle, History, NoData, Quote, RateLimited, Unavailable
from .market_http import PERIOD_DAYS, JsonApi, number

NAME = "finnhub"
BASE_URL = "https://finnhub.io"


class Finnhub:
    name = NAME
    limits: tuple[tuple[int, float], ...] = ((30, 1.0), (60, 60.0))

    def __init__(self, base_url: str = BASE_URL, *, delay_minutes: int = 0) -> None:
        self.api = JsonApi(base_url)
        self.delay_minutes = delay_minutes

    async def _get(self, path: str, key: str, **params: str) -> dict[str, Any]:
        status, body = await self.api.get(f"/api/v1{path}", {**params, "token": key})
        if status == 401:
            raise BadKey("Finnhub refused the key")
        if status == 429:
            raise RateLimited("Finnhub: the key is over its rate limit")
        if status == 403:
            raise NoData("Finnhub serves this only on a paid plan")
        if status != 200 or not isinstance(body, dict):
            raise Unavailable(f"Finnhub answered HTTP {status}")
        return body

    async def quote(self, symbol: str, key: str) -> Quote:
        body = await self._get("/quote", key, symbol=symbol)
        price, stamp = number(body.get("c")), number(body.get("t"))
        if not price or not stamp:
            raise NoData(f"Finnhub has no quote for {symbol}")
        return Quote(
            NAME,
            symbol,
            price,
            dt.datetime.fromtimestamp(stamp, dt.UTC),
            delay_minutes=self.delay_minutes,
            change=number(body.get("d")),
            change_percent=number(body.get("dp")),
            day_high=number(body.get("h")),
            day_low=number(body.get("l")),
        )

    async def history(self, symbol: str, period: str, key: str) -> History:
        days = PERIOD_DAYS.get(period, 260)
        resolution = "W" if days > 260 else "D"
        now = int(time.time())
        start = now - int(min(days, 20_000) * 7 / 5 * 86_400) - 4 * 86_400
        body = await self._get(
            "/stock/candle",
            key,
            symbol=symbol,
            resolution=resolution,
            to=str(now),
            **{"from": str(max(start, 0))},
        )
        if body.get("s") != "ok":
            raise NoData(f"Finnhub has no history for {symbol}")
        try:
            rows = zip(
                body["t"],
                body["o"],
                body["h"],
                body["l"],
                body["c"],
                body.get("v") or [None] * len(body["t"]),
            )
            candles = tuple(
                Candle(
                    dt.datetime.fromtimestamp(t, dt.UTC), float(o), float(h), float(lo), float(c), number(v)
                )
                for t, o, h, lo, c, v in rows
            )
        except (KeyError, TypeError, ValueError):
            raise Unavailable("Finnhub's candles are not in the documented shape") from None
        if not candles:
            raise NoData(f"Finnhub has no history for {symbol}")
        return History(NAME, symbol, period, candles)

    async def aclose(self) -> None:
        await self.api.aclose()
