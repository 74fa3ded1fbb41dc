"""httpcore's network layer on plain asyncio streams, for the Bot API connections.

httpcore reaches sockets through anyio under asyncio. Per Bot API call that costs a cancel scope
per read and write, and, for every pooled connection each time the pool assigns a request, a call
to anyio's `extra_attributes` (a `getpeername` and a dict of lambdas) only to ask whether an idle
socket is readable. Under the bot's load that was about a tenth of the event loop's CPU
(bench/telegram_budget.py --profile). This backend does the same on asyncio's own streams:
`asyncio.timeout` for the timeouts, the socket itself for `is_readable`, and the same httpcore
exceptions (so httpx and PTB still report timeouts as timeouts and network errors as such).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx
from httpcore._utils import is_socket_readable

_StreamErrors = type[httpcore.NetworkError]


@contextlib.contextmanager
def _mapped(timeout_error: type[httpcore.TimeoutException], os_error: _StreamErrors) -> Iterator[None]:
    """asyncio's exceptions as the httpcore ones httpx maps to its own (and PTB to TimedOut/NetworkError)."""
    try:
        yield
    except TimeoutError as exc:
        raise timeout_error(str(exc) or "timed out") from exc
    except (OSError, EOFError, asyncio.IncompleteReadError) as exc:
        raise os_error(str(exc) or type(exc).__name__) from exc


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One TCP (or TLS) connection as an asyncio StreamReader/StreamWriter pair."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _mapped(httpcore.ReadTimeout, httpcore.ReadError):
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        with _mapped(httpcore.WriteTimeout, httpcore.WriteError):
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()

    async def aclose(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError, asyncio.CancelledError, ssl.SSLError):
            await self._writer.wait_closed()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "socket":
            return self._socket()
        if info == "is_readable":
            return is_socket_readable(self._socket())
        return None

    def _socket(self) -> socket.socket | None:
        sock = self._writer.get_extra_info("socket")
        return getattr(sock, "_sock", sock)  # asyncio hands out a TransportSocket wrapper


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens `AsyncioStream`s (TCP and Unix sockets); sleeps with asyncio."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, local_addr=(local_address, 0) if local_address else None
                )
        stream = AsyncioStream(reader, writer)
        sock = stream._socket()
        for option in socket_options or ():
            if sock is not None:
                sock.setsockopt(*option)
        return stream

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_unix_connection(path)
        return AsyncioStream(reader, writer)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def asyncio_transport(max_connections: int) -> httpx.AsyncHTTPTransport:
    """httpx's own transport (retries, HTTP/1.1, TLS as usual) with its pool on `AsyncioBackend`."""
    transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=max_connections))
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=transport._pool._ssl_context,
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=5.0,
        http1=True,
        http2=False,
        network_backend=AsyncioBackend(),
    )
    return transport
