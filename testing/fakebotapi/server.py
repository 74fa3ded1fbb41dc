"""The fake as a loopback HTTP server (for bots running in a subprocess), and webhook posting helpers.

    with FakeBotApiServer(fake) as server:
        env["FIML_TELEGRAM_API_URL"] = server.base_url      # http://127.0.0.1:PORT/bot
        ...start `fiml-bot run --api-base-url ...`...

The server binds 127.0.0.1 only. Each connection gets a thread (`http.server.ThreadingHTTPServer`),
keep-alive is supported (HTTP/1.1, as httpx uses it), long-polling getUpdates blocks its thread only.
`stop()` wakes waiting polls, closes open connections and joins the threads, so a test never hangs on it.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import httpx

from .wire import WireError, encode, error_body, parse_body, split_path

if TYPE_CHECKING:
    from .api import FakeBotApi

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() joins the threads itself, with a bound

    def __init__(self, address: tuple[str, int], fake: FakeBotApi):
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.threads: list[threading.Thread] = []
        self.connections_lock = threading.Lock()
        self.answering_polls = 0  # getUpdates requests between arrival and the end of their answer
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="fakebotapi-connection",
            daemon=True,
        )
        with self.connections_lock:
            self.threads = [t for t in self.threads if t.is_alive()]
            self.threads.append(thread)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (PTB cancelling a long poll, a killed subprocess) is not an error."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The status line, headers and body go out in separate writes: without TCP_NODELAY, Nagle's
    # algorithm meets the client's delayed ACK and every answer on a kept-alive connection waits ~40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: every call is in fake.calls."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        try:
            token, method = split_path(parts.path)
            params, files = parse_body(self.headers.get("Content-Type"), body, parts.query)
        except WireError as error:
            self._send(error.status, error_body(error.status, error.description))
            return
        is_poll = method.lower() == "getupdates"
        if is_poll:
            with self.server.connections_lock:
                self.server.answering_polls += 1
        try:
            reply = self.server.fake.handle(
                method, params, token=token, files=files, abandoned=self._client_gone
            )
            if reply.drop_connection:
                self.close_connection = True
                return
            self._send(reply.status, reply.body)
        finally:
            if is_poll:
                with self.server.connections_lock:
                    self.server.answering_polls -= 1

    def _client_gone(self) -> bool:
        """True once the client closed its end (PTB cancelling a long poll, a killed bot process)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _send(self, status: int, body: dict[str, Any]) -> None:
        payload = encode(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class FakeBotApiServer:
    """Serves a FakeBotApi on http://127.0.0.1:PORT (a free port unless given); a context manager."""

    def __init__(self, fake: FakeBotApi, port: int = 0):
        self.fake = fake
        self._port = port
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        self._httpd = _Server(("127.0.0.1", self._port), self.fake)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fakebotapi-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()  # no new connections
        self.fake.interrupt_polls()  # waiting getUpdates answer what they have, now
        deadline = time.monotonic() + timeout
        while httpd.answering_polls and time.monotonic() < deadline:  # let them write their answers
            time.sleep(0.01)
        with httpd.connections_lock:
            connections, threads = list(httpd.connections), list(httpd.threads)
        for connection in connections:
            try:  # idle keep-alive connections see end of file; answers being written still get out
                connection.shutdown(socket.SHUT_RD)
            except OSError:
                pass
        httpd.server_close()
        for thread in [self._thread, *threads]:
            if thread is not None:
                thread.join(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What PTB's `base_url` (and `fiml-bot run --api-base-url`) takes: http://127.0.0.1:PORT/bot"""
        return f"{self.url}/bot"

    def bot_kwargs(self, token: str | None = None) -> dict[str, Any]:
        """`telegram.Bot(**server.bot_kwargs())`: real HTTP over loopback, proxies from the environment ignored."""
        from telegram.request import HTTPXRequest

        return {
            "token": token or self.fake.default_token,
            "base_url": self.base_url,
            "request": HTTPXRequest(httpx_kwargs={"trust_env": False}),
            "get_updates_request": HTTPXRequest(httpx_kwargs={"trust_env": False}),
        }


# ---------------------------------------------------------------------------------------------- webhooks


def _require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host not in _LOOPBACK_HOSTS and not host.startswith("127."):
        raise ValueError(f"refusing to post an update outside loopback: {url}")


def _webhook_request(update: dict[str, Any], secret_token: str | None) -> tuple[bytes, dict[str, str]]:
    headers = {"Content-Type": "application/json"}
    if secret_token is not None:
        headers[SECRET_HEADER] = secret_token
    return json.dumps(update).encode("utf-8"), headers


def post_update(
    url: str,
    update: dict[str, Any],
    secret_token: str | None = None,
    *,
    timeout: float = 5.0,
    fake: FakeBotApi | None = None,
) -> int:
    """POST an update to a (loopback) webhook URL as Telegram does; returns the HTTP status.

    `secret_token` is sent as X-Telegram-Bot-Api-Secret-Token when given. Network errors propagate.
    With `fake`, a Bot API method carried in a 2xx answer (`{"method": "answerCallbackQuery", ...}`)
    is run on it, as Telegram runs it (its result reaches nobody).
    """
    _require_loopback(url)
    content, headers = _webhook_request(update, secret_token)
    with httpx.Client(trust_env=False, timeout=timeout) as client:
        response = client.post(url, content=content, headers=headers)
    _run_carried_method(fake, response)
    return response.status_code


async def apost_update(
    url: str,
    update: dict[str, Any],
    secret_token: str | None = None,
    *,
    timeout: float = 5.0,
    fake: FakeBotApi | None = None,
) -> int:
    """`post_update` for asyncio code (the webhook server may run on the caller's own loop)."""
    _require_loopback(url)
    content, headers = _webhook_request(update, secret_token)
    async with httpx.AsyncClient(trust_env=False, timeout=timeout) as client:
        response = await client.post(url, content=content, headers=headers)
    _run_carried_method(fake, response)
    return response.status_code


def carried_method(response: httpx.Response) -> dict[str, Any] | None:
    """The Bot API call a webhook's 2xx JSON answer carries (`{"method": ..., params...}`), if any."""
    if not 200 <= response.status_code < 300 or not response.headers.get("content-type", "").startswith(
        "application/json"
    ):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) and isinstance(body.get("method"), str) else None


def _run_carried_method(fake: FakeBotApi | None, response: httpx.Response) -> None:
    call = carried_method(response)
    if fake is not None and call is not None:
        params = dict(call)
        fake.handle(params.pop("method"), params)
