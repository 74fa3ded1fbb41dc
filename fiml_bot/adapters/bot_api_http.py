"""How the bot's Bot API calls travel: PTB's HTTPXRequest with JSON bodies, on asyncio connections.

PTB posts every call as an HTML form, each value JSON-encoded and then percent-encoded by urllib
one byte at a time in Python: for a lesson's text and keyboard that was ~7% of the event loop's CPU
per update (bench/telegram_budget.py --profile). The Bot API takes `application/json` for every
call without files, so those go as one `json.dumps`; uploads keep PTB's multipart form. Timeouts,
the pool timeout's message and the error mapping (TimedOut, NetworkError) are PTB's.
"""

from __future__ import annotations

import json

import httpx
from telegram._utils.defaultvalue import DefaultValue  # what PTB passes for "no timeout given"
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from .asyncio_network import asyncio_transport

JSON_HEADERS = {"User-Agent": HTTPXRequest.USER_AGENT, "Content-Type": "application/json"}
POOL_TIMEOUT_MESSAGE = (
    "Pool timeout: All connections in the connection pool are occupied. Request was *not* sent to "
    "Telegram. Consider adjusting the connection pool size or the pool timeout."
)


class JsonBodyRequest(HTTPXRequest):
    """HTTPXRequest that sends calls without files as one JSON object (`application/json`)."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if request_data is None or request_data.contains_files or self._client.is_closed:
            return await super().do_request(
                url,
                method,
                request_data,
                read_timeout,
                write_timeout,
                connect_timeout,
                pool_timeout,
            )
        defaults = self._client.timeout
        timeout = httpx.Timeout(
            connect=_or(connect_timeout, defaults.connect),
            read=_or(read_timeout, defaults.read),
            write=_or(write_timeout, defaults.write),
            pool=_or(pool_timeout, defaults.pool),
        )
        body = json.dumps(request_data.parameters, ensure_ascii=False).encode("utf-8")
        try:
            response = await self._client.request(
                method=method, url=url, headers=JSON_HEADERS, timeout=timeout, content=body
            )
        except httpx.PoolTimeout as err:
            raise TimedOut(message=POOL_TIMEOUT_MESSAGE) from err
        except httpx.TimeoutException as err:
            raise TimedOut from err
        except httpx.HTTPError as err:
            raise NetworkError(f"httpx.{err.__class__.__name__}: {err}") from err
        return response.status_code, response.content


def _or(value: ODVInput[float], default: float | None) -> float | None:
    """A call's own timeout, or the request's default when the call left it at PTB's DEFAULT_NONE."""
    return default if isinstance(value, DefaultValue) else value


def bot_api_request(connections: int, *, pool_timeout: float | None = 1.0) -> HTTPXRequest:
    """The request object for `connections` concurrent Bot API calls: JSON bodies, asyncio connections."""
    return JsonBodyRequest(
        connection_pool_size=connections,
        pool_timeout=pool_timeout,
        httpx_kwargs={"transport": asyncio_transport(connections)},
    )
