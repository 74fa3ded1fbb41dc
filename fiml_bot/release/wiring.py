"""Builds a `Release` from deploy/rollout.yaml and the environment: HAProxy's socket, the replicas'
health and metrics, alerts, and the state as metrics; the doctor and the migration (snapshot, then
upgrade) are the services' (`fiml_bot/services/releases.py` passes them in)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from . import config as config_
from .controller import Hooks, Release
from .haproxy import RuntimeApi
from .state import STATUSES, ReleaseState


def readiness(address: str, timeout: float) -> str | None:
    """None when the replica's /readyz answers 200, else why not."""
    import httpx

    from .analysis import http

    try:
        response = http().get(f"http://{address}/readyz", timeout=timeout)
    except httpx.HTTPError as exc:
        return f"unreachable ({type(exc).__name__})"
    if response.status_code != 200:
        return f"/readyz answered {response.status_code}: {response.text.strip().splitlines()[0] if response.text.strip() else ''}"
    return None


def alert_sender(env: Mapping[str, str]) -> Any:
    """(name, severity, summary) -> delivered, through FIML_ALERT_WEBHOOK_URL; None when unset."""
    from types import SimpleNamespace

    from prometheus_client import CollectorRegistry, Counter

    from ..ops.alerts import Alert, from_env

    outcomes = Counter(
        "fiml_alerts", "Alert deliveries by outcome.", ("receiver", "outcome"), registry=CollectorRegistry()
    )
    sender = from_env(env, metrics=SimpleNamespace(alerts=outcomes))
    if sender is None:
        return None
    sender.first_delay = 0.5

    def undelivered() -> float:
        return sum(
            s.value
            for m in outcomes.collect()
            for s in m.samples
            if s.name.endswith("_total") and s.labels["outcome"] in ("failed", "dropped")
        )

    def send(name: str, severity: str, summary: str, *, resolved: bool = False) -> bool:
        """Post the alert (or, `resolved=True`, its resolution: `status: resolved`, `endsAt` now);
        True when delivered, within the sender's deadline (10 s)."""
        before = undelivered()
        alert = Alert(name, severity, summary, labels={"component": "release"})
        sender.send(alert.resolved() if resolved else alert)
        return sender.flush(timeout=sender.deadline + 1) and undelivered() == before

    return send


class FailureWatch:
    """Holds a /failures request open on each replica watched (a thread each): `wait` returns as soon
    as one of them answered an update 500, so a release acts on the evidence when it arrives."""

    HOLD = 25.0  # seconds a request is held open by the replica

    def __init__(self) -> None:
        self.woken = threading.Event()
        self.watched: dict[str, threading.Thread] = {}

    def wait(self, replicas: tuple[str, ...], seconds: float) -> None:
        connected = []
        for address in replicas:
            if address not in self.watched:
                first = threading.Event()
                thread = threading.Thread(target=self._watch, args=(address, first), daemon=True)
                self.watched[address] = thread
                thread.start()
                connected.append(first)
        for first in connected:  # new watches hold their request before the wait starts (bounded)
            first.wait(2.0)
        self.woken.wait(seconds)
        self.woken.clear()

    def _watch(self, address: str, first: threading.Event) -> None:
        import httpx

        seen: int | None = None
        with httpx.Client(trust_env=False, timeout=self.HOLD + 5) as client:
            while True:
                try:
                    wait = 0 if seen is None else self.HOLD
                    params: dict[str, Any] = {"seen": -1 if seen is None else seen, "wait": wait}
                    response = client.get(f"http://{address}/failures", params=params)
                    count = int(response.text.split()[1]) if response.status_code == 200 else None
                except (httpx.HTTPError, ValueError, IndexError):
                    count = None
                if count is None:  # down, restarting, or a version without /failures: poll slowly
                    seen = None
                    first.set()
                    time.sleep(2.0)
                    continue
                if seen is not None and count > seen:
                    self.woken.set()
                seen = count  # a restarted replica counts from zero again
                first.set()


def textfile_exporter(path: Path) -> Any:
    """The release's state as Prometheus metrics in a textfile (node_exporter's textfile collector)."""

    def export(state: ReleaseState) -> None:
        from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

        registry = CollectorRegistry()
        status = Gauge(
            "fiml_release_status",
            "The release's status: 1 on the current one (idle, running, promoted, rolled_back).",
            ("release", "status"),
            registry=registry,
        )
        for name in STATUSES:
            status.labels(state.release or "", name).set(1 if name == state.status else 0)
        share = Gauge(
            "fiml_release_traffic_percent",
            "Percent of learners each color serves.",
            ("color",),
            registry=registry,
        )
        share.labels(state.canary).set(state.canary_percent)
        share.labels(state.stable).set(100 - state.canary_percent)
        Gauge(
            "fiml_release_phase",
            "The phase the release is in (1-based; 0 outside a release).",
            registry=registry,
        ).set(state.phase + 1 if state.status == "running" else 0)
        Gauge(
            "fiml_release_held",
            "1 while the running release holds at a health gate (too few ready new-color replicas).",
            registry=registry,
        ).set(1 if state.status == "running" and state.hold else 0)
        Gauge(
            "fiml_release_paused",
            "1 while the running release is paused by hand (`fiml-bot release pause`).",
            registry=registry,
        ).set(1 if state.status == "running" and state.paused else 0)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(path), registry)

    return export


def build(
    config_path: Path,
    *,
    doctor: Callable[[], str | None],
    migrate: Callable[[], tuple[str | None, str | None]],
    out: Any = print,
    env: Mapping[str, str],
) -> Release:
    """The release of the rollout file; `doctor` and `migrate` come from the services (the doctor's
    first problem or None; snapshot then upgrade, as (revision before, snapshot file)); `env`: the
    checked FIML_* settings the entry point read."""
    config = config_.load(config_path)
    timeout = config.readiness_timeout
    hooks = Hooks(
        doctor=doctor,
        migrate=migrate,
        alert=alert_sender(env),
        ready=lambda address: readiness(address, timeout),
        metrics=textfile_exporter(config.metrics_file),
        watch=FailureWatch().wait,
    )
    api = RuntimeApi(config.haproxy.admin_socket, config.haproxy.split_map)
    return Release(config, api, hooks, out=out)
