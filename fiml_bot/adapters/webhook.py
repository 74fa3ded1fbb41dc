"""Webhook mode: a small tornado HTTP server in front of the PTB Application (the only module importing tornado).

Routes:

* ``POST <path of the webhook URL>``: Telegram's deliveries. Without the right
  ``X-Telegram-Bot-Api-Secret-Token`` header → 403; a body that is not a JSON update → 400. The update
  is processed (through the application's update processor, so one learner's updates stay in order)
  *before* the answer: 200 means the tutor's transaction committed and the replies went out (a
  button's `answerCallbackQuery` rides in the 200's JSON body: one Bot API call fewer); an
  exception while processing → 500, so Telegram delivers it again (the ``update_id`` is the tutor's
  event key, so a redelivery is applied at most once). A delivery HAProxy marks ``X-Fiml-Role:
  canary`` (the new color of a running release) is answered 500 on a bug too, instead of the
  tutor's apology: the release rolls back and the old color applies it.
* ``GET /healthz``: 200 "ok" while the process is up.
* ``GET /readyz``: 200 when the database answers a round trip and the content has a lesson that has
  been refreshed within 5 refresh intervals, else 503 with the reason; either way a line with the
  schema revision and the window this code runs on.
* ``GET /metrics``: the Prometheus metrics, when the server was given them.
* ``GET /failures?seen=N&wait=S``: ``failed <count>``, the updates answered 500 since start, as soon
  as there are more than N (or after S seconds, at most 30): a release watches its new color with
  it, so the analysis looks at the evidence the moment it arrives instead of on its next poll.

PTB's own webhook runner is not used: it answers 200 before the update is processed.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import tornado.httpserver
import tornado.netutil
import tornado.web
from telegram import Update
from telegram.ext import Application, ContextTypes

from fiml_cms.errors import FimlError

from ..tutor.engine import Tutor
from .telegram import SERVING_CANARY, WEBHOOK_ANSWER

log = logging.getLogger("fiml_bot.webhook")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ROLE_HEADER = "X-Fiml-Role"  # "canary": HAProxy routed this update to a running release's new color
ALLOWED_UPDATES = ("message", "callback_query")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
MAX_BODY = 1024 * 1024  # an update is a few kilobytes; Telegram never sends more than this
READY_TIMEOUT = 5.0
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # Prometheus' text format
DRAIN_TIMEOUT = 25.0  # on shutdown, how long in-flight deliveries may take to finish
MAX_FAILURE_WAIT = 30.0  # the longest a /failures request is held open


class WebhookConfigError(FimlError, ValueError):
    """The webhook settings cannot work (no secret, a bad URL, ...): a usage error (exit 2)."""


def check_secret(secret: str | None) -> str:
    if not secret:
        raise WebhookConfigError(
            "webhook mode needs a secret token: set FIML_WEBHOOK_SECRET (1-256 characters of A-Z, a-z, 0-9, _ and -)"
        )
    if not _SECRET.fullmatch(secret):
        raise WebhookConfigError(
            "FIML_WEBHOOK_SECRET may only hold 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)"
        )
    return secret


def webhook_path(url: str) -> str:
    """The path Telegram will POST to, from the public webhook URL (`/` when the URL has none)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise WebhookConfigError(
            f"--webhook-url {url!r}: give an http(s) URL, e.g. https://bot.example.org/telegram"
        )
    return parts.path or "/"


def readiness(tutor: Tutor) -> str | None:
    """None when the bot can serve (database round trip, at least one lesson), else the reason."""
    try:
        with tutor.unit_of_work() as uow:
            uow.progress.learner("readyz")
    except Exception as exc:  # any failure here means "not ready", never a crash
        return f"database unavailable: {exc}"
    try:
        if not tutor.content.lesson_ids():
            return "content: no lessons to serve"
        if problem := tutor.content.staleness_problem():
            return problem
    except Exception as exc:
        return f"content unavailable: {exc}"
    return None


@dataclass
class WebhookServer:
    """Serves `application` on listen:port; `await start()`, `await stop()` (or `serve()` until a signal).

    `port=0` binds a free port (see `.port` once started).
    """

    application: Application
    tutor: Tutor
    url: str
    secret_token: str
    listen: str = "0.0.0.0"
    port: int = 8443
    allowed_updates: tuple[str, ...] = ALLOWED_UPDATES
    register_webhook: bool = True
    ready_check: Callable[[], str | None] | None = None
    metrics: Callable[[], bytes] | None = None  # the Prometheus exposition, served on /metrics
    _http: tornado.httpserver.HTTPServer | None = field(default=None, init=False, repr=False)
    _sockets: list[socket.socket] = field(default_factory=list, init=False, repr=False)
    _failures: dict[int, BaseException] = field(default_factory=dict, init=False, repr=False)
    _in_flight: int = field(default=0, init=False, repr=False)
    _idle: asyncio.Event | None = field(default=None, init=False, repr=False)
    _started_application: bool = field(default=False, init=False, repr=False)
    failed: int = field(default=0, init=False)  # deliveries answered 500 since start
    _failure: asyncio.Event | None = field(default=None, init=False, repr=False)
    _waiting: int = field(default=0, init=False, repr=False)  # /failures requests held open

    def count_failure(self) -> None:
        """One more delivery failed: wake whoever waits on /failures."""
        self.failed += 1
        if self._failure is not None:
            self._failure.set()
            self._failure = asyncio.Event()

    async def failures_after(self, seen: int, wait: float) -> int:
        """The failure count, once it is above `seen` or `wait` seconds have passed."""
        if self.failed <= seen and wait > 0:
            if self._failure is None:
                self._failure = asyncio.Event()
            self._waiting += 1
            try:
                await asyncio.wait_for(self._failure.wait(), wait)
            except TimeoutError:
                pass
            finally:
                self._waiting -= 1
        return self.failed

    async def _release_waiters(self) -> None:
        """On shutdown: answer the held /failures requests now (bounded), not when they time out."""
        if self._failure is None or not self._waiting:
            return
        self._failure.set()
        for _ in range(100):
            if not self._waiting:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # their answers are written out

    def __post_init__(self) -> None:
        self.secret_token = check_secret(self.secret_token)
        self.path = webhook_path(self.url)
        if self.ready_check is None:
            tutor = self.tutor
            self.ready_check = lambda: readiness(tutor)

    # ------------------------------------------------------------------ the tornado application

    def make_app(self) -> tornado.web.Application:
        if self.path in ("/healthz", "/readyz", "/metrics", "/failures"):
            raise WebhookConfigError(
                f"the webhook path {self.path} clashes with the health checks and metrics"
            )
        routes: list[Any] = [
            (re.escape(self.path), _UpdateHandler, {"server": self}),
            (r"/healthz", _HealthHandler),
            (r"/readyz", _ReadyHandler, {"server": self}),
            (r"/failures", _FailuresHandler, {"server": self}),
        ]
        if self.metrics is not None:
            routes.append((r"/metrics", _MetricsHandler, {"exposition": self.metrics}))
        return tornado.web.Application(
            routes,
            default_handler_class=_NotFound,
            log_function=_log_request,
        )

    async def process(self, update: Update) -> BaseException | None:
        """Process one update to the end; the exception it raised (through PTB's error handling), if any."""
        self._in_flight += 1
        if self._idle is not None:
            self._idle.clear()
        try:
            processor = self.application.update_processor
            await processor.process_update(update, self.application.process_update(update))
            return self._failures.pop(id(update), None)
        except Exception as exc:
            self._failures.pop(id(update), None)
            return exc
        finally:
            self._in_flight -= 1
            if self._in_flight == 0 and self._idle is not None:
                self._idle.set()

    async def _record_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """PTB's error handler: remember that this update failed, so its delivery is answered 500."""
        if update is not None and context.error is not None:
            self._failures[id(update)] = context.error
            log.error(
                "update %s failed: %r",
                getattr(update, "update_id", "?"),
                context.error,
                exc_info=context.error,
            )

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Initialize and start the application (no updater), listen, then register the webhook."""
        self._idle = asyncio.Event()
        self._idle.set()
        app = self.application
        app.add_error_handler(self._record_error)
        await app.initialize()
        try:
            if app.post_init is not None:
                await app.post_init(app)
            await app.start()
            self._started_application = True
            self._sockets = tornado.netutil.bind_sockets(self.port, self.listen)
            self.port = self._sockets[0].getsockname()[1]
            self._http = tornado.httpserver.HTTPServer(self.make_app(), max_body_size=MAX_BODY)
            self._http.add_sockets(self._sockets)
            log.info("webhook server listening on %s:%d (path %s)", self.listen, self.port, self.path)
            if self.register_webhook:
                await app.bot.set_webhook(
                    self.url, secret_token=self.secret_token, allowed_updates=list(self.allowed_updates)
                )
                log.info("webhook registered with Telegram")
        except BaseException:
            await self.stop()
            raise

    async def stop(self, drain_timeout: float = DRAIN_TIMEOUT) -> None:
        """Stop listening, let in-flight deliveries finish (bounded), then stop the application.

        The webhook stays registered: another replica may be serving it, and Telegram keeps the updates
        that could not be delivered meanwhile.
        """
        http, self._http = self._http, None
        if http is not None:
            http.stop()
            await self._release_waiters()
            if self._idle is not None and self._in_flight:
                log.info("waiting for %d update(s) in flight", self._in_flight)
                try:
                    await asyncio.wait_for(self._idle.wait(), drain_timeout)
                except TimeoutError:
                    log.warning(
                        "%d update(s) still in flight at shutdown; Telegram will redeliver them",
                        self._in_flight,
                    )
            await asyncio.wait_for(http.close_all_connections(), 5.0)
        self._sockets = []
        app = self.application
        if self._started_application:
            self._started_application = False
            await app.stop()
            if app.post_stop is not None:
                await app.post_stop(app)
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
        app.remove_error_handler(self._record_error)

    async def serve(self, stop: asyncio.Event | None = None) -> None:
        """Start, run until SIGTERM or SIGINT (or `stop` is set), then shut down gracefully."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, stop.set)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or not POSIX
                pass
        try:
            await self.start()
            await stop.wait()
            log.info("shutting down")
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            await self.stop()


def run_webhook(
    application: Application,
    tutor: Tutor,
    *,
    url: str,
    secret_token: str,
    listen: str,
    port: int,
    metrics: Callable[[], bytes] | None = None,
) -> None:
    """The blocking entry point of `fiml-bot run --webhook-url ...`."""
    server = WebhookServer(
        application, tutor, url=url, secret_token=secret_token, listen=listen, port=port, metrics=metrics
    )
    asyncio.run(server.serve())


# ---------------------------------------------------------------------------------------------- handlers


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """Access log: failures as warnings; health probes and accepted updates only at debug level."""
    status = handler.get_status()
    level = logging.DEBUG if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    request = handler.request
    log.log(
        level,
        "%d %s %s (%s) %.1f ms",
        status,
        request.method,
        request.path,
        request.remote_ip,
        1000 * request.request_time(),
    )


class _Base(tornado.web.RequestHandler):
    def _text(self, status: int, text: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(text + "\n")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{status_code} {self._reason}\n")


class _NotFound(_Base):
    def prepare(self) -> None:
        self._text(404, "not found")


class _UpdateHandler(_Base):
    def initialize(self, server: WebhookServer) -> None:
        self.server = server

    async def post(self) -> None:
        server = self.server
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode("utf-8"), server.secret_token.encode("utf-8")):
            log.warning("webhook request without the right secret token from %s", self.request.remote_ip)
            self._text(403, "forbidden")
            return
        try:
            data = json.loads(self.request.body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise TypeError("not an update")
            update = Update.de_json(data, server.application.bot)
        except Exception as exc:
            log.warning("malformed webhook request: %s", exc)
            self._text(400, "bad request: not a Telegram update")
            return
        carried: list[dict[str, Any]] = []
        context = WEBHOOK_ANSWER.set(carried)
        canary = SERVING_CANARY.set(self.request.headers.get(ROLE_HEADER, "") == "canary")
        try:
            error = await server.process(update)
        finally:
            SERVING_CANARY.reset(canary)
            WEBHOOK_ANSWER.reset(context)
        if error is not None:
            log.error("update %s not processed; answering 500 so Telegram redelivers it", update.update_id)
            server.count_failure()
            self._text(500, "update not processed")
            return
        if carried:  # Telegram runs the one method a webhook's answer may carry (answerCallbackQuery)
            self.set_status(200)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(carried[0]))
            return
        self._text(200, "ok")

    def get(self) -> None:
        self._text(405, "POST updates here")


class _HealthHandler(_Base):
    def get(self) -> None:
        self._text(200, "ok")


class _MetricsHandler(_Base):
    def initialize(self, exposition: Callable[[], bytes]) -> None:
        self.exposition = exposition

    def get(self) -> None:
        self.set_header("Content-Type", METRICS_CONTENT_TYPE)
        self.finish(self.exposition())


class _FailuresHandler(_Base):
    def initialize(self, server: WebhookServer) -> None:
        self.server = server

    async def get(self) -> None:
        try:
            seen = int(self.get_query_argument("seen", "-1"))
            wait = min(max(float(self.get_query_argument("wait", "0")), 0.0), MAX_FAILURE_WAIT)
        except ValueError:
            self._text(400, "seen is a whole number and wait a number of seconds")
            return
        self._text(200, f"failed {await self.server.failures_after(seen, wait)}")


class _ReadyHandler(_Base):
    def initialize(self, server: WebhookServer) -> None:
        self.server = server

    async def get(self) -> None:
        check = self.server.ready_check
        assert check is not None
        try:
            reason = await asyncio.wait_for(asyncio.to_thread(check), READY_TIMEOUT)
        except TimeoutError:
            reason = f"readiness check took longer than {READY_TIMEOUT:g} s"
        from ..storage.window import status_line

        schema = status_line(self.server.tutor.unit_of_work.schema_revision())
        # the content commit this replica serves, after its latest refresh
        schema += f"\ncontent: {await asyncio.to_thread(self.server.tutor.content.served_ref)}"
        if reason is None:
            self._text(200, f"ready\n{schema}")
        else:
            self._text(503, f"not ready: {reason}\n{schema}")
