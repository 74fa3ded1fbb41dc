"""Plugging the fake into python-telegram-bot in process: an httpx transport and PTB helpers.

PTB 22.8's `HTTPXRequest(httpx_kwargs={...})` passes the dict to `httpx.AsyncClient(...)` after its own
defaults, so `{"transport": fake.transport()}` replaces the network entirely: nothing is resolved, no
socket is opened. The base URL used here ends in `.invalid` (RFC 2606), so even a misconfigured client
could not reach a real host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from .wire import WireError, encode, error_body, parse_body, split_path

if TYPE_CHECKING:
    from telegram.ext import ApplicationBuilder

    from .api import FakeBotApi, Reply

IN_PROCESS_BASE_URL = "http://fakebotapi.invalid/bot"


class FakeTransport(httpx.MockTransport):
    """An `httpx.MockTransport` whose answers come from a FakeBotApi.

    Works with both `httpx.AsyncClient` (what PTB uses; getUpdates then waits without blocking the
    loop) and `httpx.Client` (getUpdates then blocks the calling thread).
    """

    def __init__(self, fake: FakeBotApi):
        super().__init__(self._handle_sync)
        self.fake = fake

    def _handle_sync(self, request: httpx.Request) -> httpx.Response:
        try:
            token, method, params, files = _read(request)
        except WireError as error:
            return _error_response(error)
        return _response(request, self.fake.handle(method, params, token=token, files=files))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        try:
            token, method, params, files = _read(request)
        except WireError as error:
            return _error_response(error)
        return _response(request, await self.fake.handle_async(method, params, token=token, files=files))


def _read(request: httpx.Request) -> tuple[str, str, dict[str, Any], list[Any]]:
    token, method = split_path(request.url.path)
    query = (
        request.url.query.decode("ascii") if isinstance(request.url.query, bytes) else str(request.url.query)
    )
    params, files = parse_body(request.headers.get("content-type"), request.content, query)
    return token, method, params, files


def _response(request: httpx.Request, reply: Reply) -> httpx.Response:
    if reply.drop_connection:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
    return httpx.Response(
        reply.status, content=encode(reply.body), headers={"content-type": "application/json"}
    )


def _error_response(error: WireError) -> httpx.Response:
    return httpx.Response(
        error.status,
        content=encode(error_body(error.status, error.description)),
        headers={"content-type": "application/json"},
    )


def bot_kwargs(fake: FakeBotApi, token: str | None = None, base_url: str | None = None) -> dict[str, Any]:
    """`telegram.Bot(**bot_kwargs(fake))`: token, base_url and two HTTPXRequests on the fake's transport."""
    from telegram.request import HTTPXRequest

    return {
        "token": token or fake.default_token,
        "base_url": base_url or IN_PROCESS_BASE_URL,
        "request": HTTPXRequest(httpx_kwargs={"transport": fake.transport()}),
        "get_updates_request": HTTPXRequest(httpx_kwargs={"transport": fake.transport()}),
    }


def application_builder(fake: FakeBotApi, token: str | None = None) -> ApplicationBuilder:
    """An ApplicationBuilder with token, base_url, request and get_updates_request set to the fake.

    Add what the test needs (`.updater(None)`, `.concurrent_updates(...)`, `.rate_limiter(...)`) and
    `.build()`.
    """
    from telegram.ext import ApplicationBuilder

    kwargs = bot_kwargs(fake, token)
    return (
        ApplicationBuilder()
        .token(kwargs["token"])
        .base_url(kwargs["base_url"])
        .request(kwargs["request"])
        .get_updates_request(kwargs["get_updates_request"])
    )
