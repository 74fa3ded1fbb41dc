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
from fiml_bot.adapters.telegram import bot_api_request

RESPONSE = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'


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
                    assert response.json() == {"ok": True}
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
