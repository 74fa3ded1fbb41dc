"""The HTTP side shared by the data-provider adapters: httpx (which the bot already has through
python-telegram-bot), one client per event loop, failures as ProviderFailure values.

No error or log line carries a request URL: the key travels in its query string.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from typing import Any

import httpx

from ..marketdata.model import Unavailable

TIMEOUT = 10.0  # seconds: a learner waits at most the deadline; a late answer still fills the cache
# Trading days per chart period; a provider with weekly candles uses those beyond its daily reach.
PERIOD_DAYS = {"1d": 5, "5d": 5, "1mo": 22, "3mo": 66, "6mo": 130, "1y": 260, "5y": 1300, "max": 100_000}


_KEY_IN_QUERY = re.compile(r"\b(apikey|token)=[^&\s\"']+", re.I)


class _KeysOutOfUrls(logging.Filter):
    """httpx logs each request's URL (INFO), and the providers take the key in the query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _KEY_IN_QUERY.search(message):
            record.msg, record.args = _KEY_IN_QUERY.sub(r"\1=***", message), None
        return True


def _mask_keys_in_httpx_logs() -> None:
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, _KeysOutOfUrls) for f in httpx_log.filters):
        httpx_log.addFilter(_KeysOutOfUrls())


class JsonApi:
    """GET requests answering JSON, on a client made for (and closed with) the running event loop."""

    def __init__(
        self, base_url: str, *, timeout: float = TIMEOUT, transport: httpx.AsyncBaseTransport | None = None
    ):
        _mask_keys_in_httpx_logs()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.transport = transport
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            for old in [lp for lp in self._clients if lp.is_closed()]:
                del self._clients[old]
            client = self._clients[loop] = httpx.AsyncClient(
                base_url=self.base_url, timeout=self.timeout, transport=self.transport
            )
        return client

    async def get(self, path: str, params: dict[str, str]) -> tuple[int, Any]:
        """(HTTP status, decoded JSON or None); Unavailable when no answer came."""
        try:
            response = await self._client().get(path, params=params)
        except httpx.TimeoutException:
            raise Unavailable("the provider did not answer in time") from None
        except httpx.HTTPError as exc:
            raise Unavailable(f"the provider could not be reached ({type(exc).__name__})") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        return response.status_code, body

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()


def utc_midnight(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)


def number(value: Any) -> float | None:
    try:
        return None if value is None or value == "" else float(str(value).rstrip("%"))
    except ValueError:
        return None
