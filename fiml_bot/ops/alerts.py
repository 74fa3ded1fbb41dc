"""Alerts to operators: an Alertmanager-compatible webhook (payload version 4) and, optionally, a Telegram chat.

The same receiver serves the bot and the CLI commands. Sending never blocks the caller: alerts go to a
bounded queue that one daemon thread delivers, retrying a receiver that is down with exponential
backoff; every delivery, retry, failure and drop is counted (`fiml_alerts_total{receiver,outcome}`).
A short-lived command calls `flush()` before it exits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger("fiml_bot.alerts")

QUEUE_SIZE = 100
ATTEMPTS = 5
FIRST_DELAY = 1.0
MAX_DELAY = 30.0
TIMEOUT = 5.0


@dataclass(frozen=True)
class Alert:
    name: str  # alertname, CamelCase as in Prometheus rules
    severity: str  # info | warning | critical
    summary: str
    description: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    starts_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def all_labels(self, source: str) -> dict[str, str]:
        return {
            "alertname": self.name,
            "severity": self.severity,
            "service": "fiml-bot",
            "instance": source,
            **self.labels,
        }

    def text(self) -> str:
        return f"[{self.severity.upper()}] {self.name}: {self.summary}" + (
            f"\n{self.description}" if self.description else ""
        )


def payload(alert: Alert, source: str, receiver: str = "fiml") -> dict[str, Any]:
    """Alertmanager's webhook payload (version 4) with the one firing alert."""
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
        "status": "firing",
        "receiver": receiver,
        "groupLabels": {"alertname": alert.name},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": annotations,
                "startsAt": alert.starts_at.isoformat().replace("+00:00", "Z"),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": fingerprint,
            }
        ],
    }


class Receiver(Protocol):
    name: str

    def deliver(self, alert: Alert, source: str) -> None:
        """Deliver once; raise on failure (the sender retries)."""
        ...


class WebhookReceiver:
    name = "webhook"

    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        self.url = url
        self.timeout = timeout

    def deliver(self, alert: Alert, source: str) -> None:
        import httpx

        response = httpx.post(self.url, json=payload(alert, source), timeout=self.timeout)
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
    ) -> None:
        self.receivers = receivers
        self.metrics = metrics
        self.source = source or socket.gethostname()
        self.first_delay = first_delay
        self.attempts = attempts
        self._queue: queue.Queue[tuple[Alert, Receiver] | None] = queue.Queue(QUEUE_SIZE)
        self._stopping = threading.Event()
        self._sleep = sleep or self._stopping.wait
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self, alert: Alert) -> None:
        self.send(alert)

    def send(self, alert: Alert) -> None:
        """Queue `alert` for every receiver; returns at once (a full queue drops it, counted)."""
        log.warning("alert %s (%s): %s", alert.name, alert.severity, alert.summary)
        for receiver in self.receivers:
            try:
                self._queue.put_nowait((alert, receiver))
            except queue.Full:
                self._count(receiver, "dropped")
                continue
            self._ensure_thread()

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

    def _deliver(self, alert: Alert, receiver: Receiver) -> None:
        delay = self.first_delay
        for attempt in range(1, self.attempts + 1):
            try:
                receiver.deliver(alert, self.source)
            except Exception as exc:
                if attempt == self.attempts:
                    log.error(
                        "alert %s not delivered to the %s receiver after %d attempts: %s",
                        alert.name,
                        receiver.name,
                        attempt,
                        exc,
                    )
                    self._count(receiver, "failed")
                    return
                log.warning(
                    "alert %s: the %s receiver failed (%s); retrying in %.0f s",
                    alert.name,
                    receiver.name,
                    exc,
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


def from_env(
    env: Mapping[str, str] | None = None, *, metrics: Any = None, admin_chat: Receiver | None = None
) -> AlertSender | None:
    """The sender configured by FIML_ALERT_WEBHOOK_URL (and a Telegram admin chat); None when neither is set."""
    env = os.environ if env is None else env
    receivers: list[Receiver] = []
    url = env.get("FIML_ALERT_WEBHOOK_URL", "").strip()
    if url:
        receivers.append(WebhookReceiver(url))
    if admin_chat is not None:
        receivers.append(admin_chat)
    return (
        AlertSender(receivers, metrics=metrics, source=env.get("FIML_INSTANCE") or None)
        if receivers
        else None
    )


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

    def __call__(self, alert: Alert) -> None:
        now = self.clock()
        with self._lock:
            last = self._last.get(alert.name)
            if last is not None and now - last < self.window:
                return
            self._last[alert.name] = now
        self.send(alert)
