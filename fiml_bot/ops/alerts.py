"""Alerts to operators: an Alertmanager-compatible webhook (payload version 4) and, optionally, a Telegram chat.

The same receiver serves the bot and the CLI commands. Sending never blocks the caller: alerts go to a
bounded queue that one daemon thread delivers, retrying a receiver that is down with exponential
backoff, within DEADLINE seconds of the send in total (a receiver that accepts and never answers
cannot hold a command or the queue longer); every delivery, retry, failure and drop is counted
(`fiml_alerts_total{receiver,outcome}`). A short-lived command calls `flush()` before it exits.

An alert that fires for a condition is resolved when the condition clears: `resolve(name)` posts the
same alert with `status: resolved` and `endsAt` set, as Alertmanager does, so receivers can close it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from fiml_cms.errors import ConfigError

from ..settings import ALERT_WEBHOOK_URL, INSTANCE

log = logging.getLogger("fiml_bot.alerts")

QUEUE_SIZE = 100
ATTEMPTS = 5
FIRST_DELAY = 1.0
MAX_DELAY = 30.0
TIMEOUT = 5.0
DEADLINE = 10.0  # seconds from send() to giving up on a receiver, every attempt and pause included
NEVER = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt of an alert still firing


class AlertConfigError(ConfigError):
    """FIML_ALERT_WEBHOOK_URL is not an http(s) URL: refused at start, never retried."""


def check_url(url: str) -> str:
    """`url` when FIML_ALERT_WEBHOOK_URL's definition accepts it (http(s) with a host); AlertConfigError
    otherwise, without echoing the URL (it may hold a token)."""
    try:
        return ALERT_WEBHOOK_URL.parse(url)
    except ValueError as exc:
        raise AlertConfigError(f"{ALERT_WEBHOOK_URL.name}: {exc}") from None


@dataclass(frozen=True)
class Alert:
    name: str  # alertname, CamelCase as in Prometheus rules
    severity: str  # info | warning | critical
    summary: str
    description: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    starts_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    ends_at: dt.datetime | None = None  # set: the condition cleared (status "resolved")

    @property
    def status(self) -> str:
        return "firing" if self.ends_at is None else "resolved"

    @property
    def key(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        """What identifies one alert across firing and resolving: its name and labels."""
        return self.name, tuple(sorted(self.labels.items()))

    def resolved(self, at: dt.datetime | None = None) -> Alert:
        """This alert, resolved (same labels and startsAt; endsAt now)."""
        return replace(self, ends_at=at or dt.datetime.now(dt.UTC))

    def all_labels(self, source: str) -> dict[str, str]:
        return {
            "alertname": self.name,
            "severity": self.severity,
            "service": "fiml-bot",
            "instance": source,
            **self.labels,
        }

    def text(self) -> str:
        if self.ends_at is not None:
            return f"[RESOLVED] {self.name}: {self.summary}"
        return f"[{self.severity.upper()}] {self.name}: {self.summary}" + (
            f"\n{self.description}" if self.description else ""
        )


def payload(alert: Alert, source: str, receiver: str = "fiml") -> dict[str, Any]:
    """Alertmanager's webhook payload (version 4) with the one alert, firing or resolved."""
    labels = alert.all_labels(source)
    fingerprint = hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:16]
    annotations = {
        "summary": alert.summary,
        **({"description": alert.description} if alert.description else {}),
    }
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{alert.name}"}}',
        "truncatedAlerts": 0,
        "status": alert.status,
        "receiver": receiver,
        "groupLabels": {"alertname": alert.name},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "",
        "alerts": [
            {
                "status": alert.status,
                "labels": labels,
                "annotations": annotations,
                "startsAt": _timestamp(alert.starts_at),
                "endsAt": NEVER if alert.ends_at is None else _timestamp(alert.ends_at),
                "generatorURL": "",
                "fingerprint": fingerprint,
            }
        ],
    }


def _timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class Receiver(Protocol):
    name: str

    def deliver(self, alert: Alert, source: str) -> None:
        """Deliver once; raise on failure (the sender retries). A receiver whose `deliver` takes a
        `timeout` keyword is given the seconds left before the alert's deadline."""
        ...


class WebhookReceiver:
    name = "webhook"

    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        self.url = check_url(url)
        self.timeout = timeout

    def deliver(self, alert: Alert, source: str, timeout: float | None = None) -> None:
        """One POST, over within `timeout` seconds in total (httpx's own timeouts are per read, so a
        receiver that trickles bytes would outlast them: the whole exchange is cancelled instead)."""
        import asyncio

        limit = self.timeout if timeout is None else max(0.05, min(self.timeout, timeout))
        asyncio.run(asyncio.wait_for(self._post(alert, source, limit), limit))

    async def _post(self, alert: Alert, source: str, limit: float) -> None:
        import httpx

        async with httpx.AsyncClient(timeout=limit) as client:
            response = await client.post(self.url, json=payload(alert, source))
        if response.status_code >= 300:
            raise RuntimeError(f"the alert webhook answered {response.status_code}")


class AlertSender:
    """Queues alerts and delivers them to every receiver from one daemon thread."""

    def __init__(
        self,
        receivers: list[Receiver],
        *,
        metrics: Any = None,
        source: str | None = None,
        first_delay: float = FIRST_DELAY,
        attempts: int = ATTEMPTS,
        sleep: Callable[[float], None] | None = None,
        deadline: float = DEADLINE,
    ) -> None:
        self.receivers = receivers
        self.metrics = metrics
        self.source = source or socket.gethostname()
        self.first_delay = first_delay
        self.attempts = attempts
        self.deadline = deadline
        self._queue: queue.Queue[tuple[Alert, Receiver, float] | None] = queue.Queue(QUEUE_SIZE)
        self._firing: dict[tuple[str, tuple[tuple[str, str], ...]], Alert] = {}
        self._stopping = threading.Event()
        self._sleep = sleep or self._stopping.wait
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self, alert: Alert) -> None:
        self.send(alert)

    def send(self, alert: Alert) -> None:
        """Queue `alert` for every receiver; returns at once (a full queue drops it, counted).

        A firing alert is remembered until `resolve()`; a resolved one (`ends_at` set) is sent as is."""
        with self._lock:
            if alert.ends_at is None:
                self._firing[alert.key] = alert
            else:
                self._firing.pop(alert.key, None)
        if alert.ends_at is None:
            log.warning("alert %s (%s): %s", alert.name, alert.severity, alert.summary)
        else:
            log.info("alert %s resolved: %s", alert.name, alert.summary)
        deadline = time.monotonic() + self.deadline
        for receiver in self.receivers:
            try:
                self._queue.put_nowait((alert, receiver, deadline))
            except queue.Full:
                self._count(receiver, "dropped")
                continue
            self._ensure_thread()

    def resolve(self, name: str, labels: Mapping[str, str] | None = None) -> bool:
        """Send `name` (with `labels`) as resolved if it fired from here and was not resolved yet."""
        with self._lock:
            firing = self._firing.get((name, tuple(sorted((labels or {}).items()))))
        if firing is None:
            return False
        self.send(firing.resolved())
        return True

    def firing(self) -> list[str]:
        """The names of the alerts fired from here and not resolved yet."""
        with self._lock:
            return sorted({name for name, _ in self._firing})

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until the queue is delivered (or given up); False on timeout. For commands about to exit."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="alert-sender", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._deliver(*item)
            finally:
                self._queue.task_done()

    def _deliver(self, alert: Alert, receiver: Receiver, deadline: float) -> None:
        delay = self.first_delay
        takes_timeout = "timeout" in inspect.signature(receiver.deliver).parameters
        for attempt in range(1, self.attempts + 1):
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise TimeoutError(f"the {self.deadline:g} s deadline passed")
                if takes_timeout:
                    receiver.deliver(alert, self.source, timeout=left)  # type: ignore[call-arg]
                else:
                    receiver.deliver(alert, self.source)
            except Exception as exc:
                left = deadline - time.monotonic()
                if attempt == self.attempts or left <= delay:  # no time for a pause and one more try
                    log.error(
                        "alert %s not delivered to the %s receiver after %d attempt(s) in %g s: %s",
                        alert.name,
                        receiver.name,
                        attempt,
                        self.deadline,
                        _reason(exc),
                    )
                    self._count(receiver, "failed")
                    return
                log.warning(
                    "alert %s: the %s receiver failed (%s); retrying in %.0f s",
                    alert.name,
                    receiver.name,
                    _reason(exc),
                    delay,
                )
                self._count(receiver, "retried")
                self._sleep(delay)
                delay = min(delay * 2, MAX_DELAY)
                continue
            self._count(receiver, "sent")
            return

    def _count(self, receiver: Receiver, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.alerts.labels(receiver.name, outcome).inc()


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__  # asyncio's TimeoutError has no message


def from_env(
    env: Mapping[str, str], *, metrics: Any = None, admin_chat: Receiver | None = None
) -> AlertSender | None:
    """The sender configured by FIML_ALERT_WEBHOOK_URL (and a Telegram admin chat); None when neither is set."""
    receivers: list[Receiver] = []
    url = ALERT_WEBHOOK_URL.raw(env)  # checked by WebhookReceiver, whose error does not echo it
    if url:  # not http(s): AlertConfigError (exit 2), never a receiver retried for ever
        receivers.append(WebhookReceiver(url))
    if admin_chat is not None:
        receivers.append(admin_chat)
    return AlertSender(receivers, metrics=metrics, source=INSTANCE.read(env) or None) if receivers else None


class Deduplicated:
    """Raises each alert name at most once per `window` seconds (a database outage is one alert, not thousands)."""

    def __init__(
        self,
        send: Callable[[Alert], None],
        window: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.send = send
        self.window = window
        self.clock = clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def forget(self, name: str) -> None:
        """The condition behind `name` cleared: its next occurrence is a new alert, sent at once."""
        with self._lock:
            self._last.pop(name, None)

    def __call__(self, alert: Alert) -> None:
        now = self.clock()
        with self._lock:
            last = self._last.get(alert.name)
            if last is not None and now - last < self.window:
                return
            self._last[alert.name] = now
        self.send(alert)
