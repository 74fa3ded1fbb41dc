"""The Bot API's HTTP connections on plain asyncio (fiml_bot/adapters/asyncio_network.py).

httpx must behave as on its own network layer: keep-alive reuse, timeouts and refused connections as
httpx's exceptions (which PTB turns into TimedOut and NetworkError), a server that closed an idle
connection noticed before the next request.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from fiml_bot.adapters.asyncio_network import AsyncioStream, asyncio_transport
from fiml_bot.adapters.bot_api_http import bot_api_request

HEADS: list[bytes] = []  # the Content-Type of every request the tiny server saw
RESPONSE = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 25\r\n\r\n{"ok":true,"result":true}'


@asynccontextmanager
async def server(*, answer: bool = True, close_after: bool = False) -> AsyncIterator[tuple[str, list[int]]]:
    """A tiny HTTP/1.1 server: (its URL, the number of requests seen per connection)."""
    per_connection: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        per_connection.append(0)
        index = len(per_connection) - 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                HEADS.extend(
                    line.split(b":", 1)[1].strip()
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-type")
                )
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                await reader.readexactly(length)
                per_connection[index] += 1
                if not answer:
                    await asyncio.sleep(10)
                writer.write(RESPONSE)
                await writer.drain()
                if close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    listener = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/botTOKEN/sendMessage", per_connection
    finally:
        listener.close()


def test_requests_reuse_one_kept_alive_connection_on_asyncio_streams() -> None:
    async def scenario() -> None:
        async with server() as (url, per_connection):
            transport = asyncio_transport(4)
            async with httpx.AsyncClient(transport=transport) as client:
                for n in range(3):
                    response = await client.post(url, data={"chat_id": "1", "text": f"hello {n}"})
                    assert response.json() == {"ok": True, "result": True}
                connections = transport._pool.connections
                assert len(connections) == 1
                assert isinstance(connections[0]._connection._network_stream, AsyncioStream)  # type: ignore[attr-defined]
            assert per_connection == [3]

    asyncio.run(scenario())


def test_a_connection_the_server_closed_is_replaced() -> None:
    async def scenario() -> None:
        async with server(close_after=True) as (url, per_connection):
            async with httpx.AsyncClient(transport=asyncio_transport(4)) as client:
                for _ in range(3):
                    assert (await client.post(url, data={"text": "x"})).status_code == 200
                    await asyncio.sleep(0.05)  # the server's FIN arrives: the idle socket turns readable
            assert per_connection == [1, 1, 1]

    asyncio.run(scenario())


def test_a_slow_answer_is_a_read_timeout() -> None:
    async def scenario() -> None:
        async with (
            server(answer=False) as (url, _),
            httpx.AsyncClient(transport=asyncio_transport(1), timeout=0.2) as client,
        ):
            with pytest.raises(httpx.ReadTimeout):
                await client.post(url, data={"text": "x"})

    asyncio.run(scenario())


def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the socket is closed

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=asyncio_transport(1), timeout=2.0) as client:
            with pytest.raises(httpx.ConnectError):
                await client.post(f"http://127.0.0.1:{port}/", data={"text": "x"})

    asyncio.run(scenario())


def test_ptb_maps_the_errors_as_before() -> None:
    """PTB's HTTPXRequest over this transport: a timeout is TimedOut, a refused connection NetworkError."""
    from telegram.error import NetworkError, TimedOut

    async def scenario() -> None:
        async with server(answer=False) as (url, _):
            request = bot_api_request(1)
            await request.initialize()
            try:
                with pytest.raises(TimedOut):
                    await request.post(url, read_timeout=0.2)
            finally:
                await request.shutdown()
        request = bot_api_request(1)
        await request.initialize()
        try:
            with pytest.raises(NetworkError):
                await request.post(url, connect_timeout=2.0)
        finally:
            await request.shutdown()

    asyncio.run(scenario())


def test_calls_go_as_json_and_uploads_as_multipart_to_the_fake_bot_api() -> None:
    """Through the real HTTP fake: a text with a keyboard (JSON body) and a document (multipart form)."""
    from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup

    from testing.fakebotapi import DEFAULT_TOKEN, NO_LIMITS, FakeBotApi, FakeBotApiServer

    fake = FakeBotApi(rate_limits=NO_LIMITS, record_calls=True)
    fake.user_message(42, "hi")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Next ▶", callback_data="n|market")]])

    async def scenario(base_url: str) -> None:
        bot = Bot(DEFAULT_TOKEN, base_url=base_url, request=bot_api_request(2))
        async with bot:
            sent = await bot.send_message(
                42, "<b>Markets</b> & «prices»", parse_mode="HTML", reply_markup=keyboard
            )
            assert sent.text == "Markets & «prices»"

    with FakeBotApiServer(fake) as api:
        asyncio.run(scenario(api.base_url))
    assert fake.last_buttons(42) == [("Next ▶", "n|market")]
    call = fake.calls_to("sendMessage")[-1]
    assert call.params["chat_id"] == 42 and call.params["parse_mode"] == "HTML"


def test_an_upload_keeps_the_multipart_form() -> None:
    from telegram import InputFile
    from telegram.request import RequestData
    from telegram.request._requestparameter import RequestParameter  # PTB builds these itself

    async def scenario() -> None:
        async with server() as (url, _):
            request = bot_api_request(1)
            await request.initialize()
            try:
                for parameters in (
                    [RequestParameter.from_input("chat_id", 42)],
                    [RequestParameter.from_input("document", InputFile(b"notes", filename="notes.txt"))],
                ):
                    assert await request.post(url, RequestData(parameters)) is True
            finally:
                await request.shutdown()
            assert [h.split(b";")[0] for h in HEADS[-2:]] == [b"application/json", b"multipart/form-data"]

    asyncio.run(scenario())
