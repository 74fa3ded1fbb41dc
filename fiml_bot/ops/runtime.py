"""The operations side of a running bot, wired from the environment: metrics, alerts, flags, canaries.

`Operations.from_env` is what `fiml-bot run` and `notify` build; tests build the pieces directly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..periodic import Periodic
from ..settings import COLOR, FLAGS_FILE, FLAGS_RELOAD_SECONDS
from ..tutor.observe import FAILED, ActionEvents
from .alerts import Alert, AlertSender, Deduplicated, from_env
from .canary import CanaryRollout
from .flag_reload import FlagReloader
from .flags import FeatureFlags, FlagFileProvider, read_file
from .metrics import BotMetrics

log = logging.getLogger("fiml_bot.ops")


def flags_path(content_root: Path, env: Mapping[str, str]) -> Path:
    """FIML_FLAGS_FILE, else deploy/flags.json in the content repository (where `fiml-cms` writes it)."""
    from fiml_cms.flagfile import DEFAULT_PATH

    given = FLAGS_FILE.read(env)
    return Path(given) if given else content_root / DEFAULT_PATH


def reload_interval(text: str) -> float:
    """FIML_FLAGS_RELOAD_SECONDS: seconds between flag-file checks (default 30)."""
    return FLAGS_RELOAD_SECONDS.read({FLAGS_RELOAD_SECONDS.name: text})


PROBE_INTERVAL = 15.0  # seconds between database probes while DatabaseUnavailable fires
RESOLVE_AFTER = 60.0  # seconds without a failure before a committed action resolves the alert


class AlertingObserver:
    """The tutor's observer: metrics, plus an alert when learners' actions fail (at most one per 5
    minutes), resolved by an action that commits once no action failed for RESOLVE_AFTER seconds (a
    bug that fails one action in ten must not fire and resolve on every other action)."""

    def __init__(
        self,
        metrics: BotMetrics,
        alert: Callable[[Alert], None] | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        resolve_after: float = RESOLVE_AFTER,
    ) -> None:
        self.metrics = metrics
        self.alert = Deduplicated(alert, clock=clock) if alert is not None else None
        self._resolve = getattr(alert, "resolve", None)  # an AlertSender's; a bare callable has none
        self._clock = clock
        self._resolve_after = resolve_after
        self._active: dict[str, float] = {}  # alert name -> when it last failed
        self._lock = threading.Lock()

    def action_done(self, events: ActionEvents) -> None:
        self.metrics.action_done(events)
        if events.outcome == FAILED:
            self._fire(
                Alert(
                    "LearnerActionsFailing",
                    "critical",
                    "A learner's action failed (database unavailable or a bug); see the bot's log",
                )
            )
        elif self._active:
            self._clear()

    def storage_error(self) -> None:
        self.metrics.storage_error()
        self._fire(
            Alert(
                "DatabaseUnavailable",
                "critical",
                "The bot cannot reach its database; learners are told to retry",
            )
        )

    def _fire(self, alert: Alert) -> None:
        if self.alert is None:
            return
        with self._lock:
            self._active[alert.name] = self._clock()
        self.alert(alert)

    def probe(self, database_answers: Callable[[], bool]) -> None:
        """While DatabaseUnavailable fires, ask the database itself (periodically, from `Operations`):
        with no learner acting after an outage, no action would ever resolve it."""
        if "DatabaseUnavailable" in self._active and database_answers():
            self._clear(("DatabaseUnavailable",))

    def _clear(self, only: tuple[str, ...] | None = None) -> None:
        """An action committed: resolve what has not failed for `resolve_after` seconds."""
        now = self._clock()
        with self._lock:
            quiet = sorted(
                n
                for n, at in self._active.items()
                if now - at >= self._resolve_after and (only is None or n in only)
            )
            for name in quiet:
                del self._active[name]
        for name in quiet:
            if self.alert is not None:
                self.alert.forget(name)  # a new outage alerts at once, not after the 5-minute window
            if self._resolve is not None:
                self._resolve(name)


@dataclass
class Operations:
    metrics: BotMetrics
    flags: FeatureFlags
    rollout: CanaryRollout
    observer: AlertingObserver
    alerts: AlertSender | None
    reloader: FlagReloader | None
    prober: Periodic | None = None  # resolves DatabaseUnavailable when nobody acts (watch_database)

    def watch_database(self, database_answers: Callable[[], bool], interval: float = PROBE_INTERVAL) -> None:
        """Probe the database every `interval` seconds while DatabaseUnavailable fires (from start())."""
        if self.alerts is not None:
            self.prober = Periodic("alert-probe", interval, lambda: self.observer.probe(database_answers))

    @classmethod
    def from_env(
        cls,
        content_root: Path,
        env: Mapping[str, str],
        *,
        admin_chat: Any = None,
        watch_flags: bool = True,
    ) -> Operations:
        """Reads the flag file (an invalid one stops the start: FlagFileError) and the alert settings."""
        metrics = BotMetrics()
        alerts = from_env(env, metrics=metrics, admin_chat=admin_chat)
        path = flags_path(content_root, env)
        flags = FeatureFlags(FlagFileProvider(read_file(path)))
        if path.exists():
            metrics.flags_loaded_at.set_to_current_time()
            log.info("feature flags from %s: %s", path, ", ".join(sorted(flags.flags.flags)) or "none")
        reloader = None
        if watch_flags:
            interval = FLAGS_RELOAD_SECONDS.read(env)
            reloader = FlagReloader(
                path,
                flags,
                interval=interval,
                metrics=metrics,
                alert=alerts,
                required=bool(FLAGS_FILE.read(env)),
            )
        return cls(metrics, flags, CanaryRollout(flags), AlertingObserver(metrics, alerts), alerts, reloader)

    def start(self) -> None:
        if self.reloader is not None:
            self.reloader.start()
        if self.prober is not None:
            self.prober.start()

    def stop(self) -> None:
        if self.reloader is not None:
            self.reloader.stop()
        if self.prober is not None:
            self.prober.stop()
        if self.alerts is not None:
            self.alerts.flush(timeout=10)


def database_answers(tutor: Any) -> bool:
    """One round trip through the tutor's unit of work (what /readyz does), for the alert probe."""
    try:
        with tutor.unit_of_work() as uow:
            uow.progress.learner("readyz")
    except Exception:  # any failure means "not yet"
        return False
    return True


def build_info(content: Any, database_url: str, env: Mapping[str, str]) -> dict[str, str]:
    """The labels of fiml_build_info: package version, schema revision, content ref, deployment color."""
    from .. import __version__
    from ..storage import migrations_api

    version = __version__  # the package's own, whatever the distribution is called (it was renamed once)
    try:
        revision = migrations_api.current(database_url) or "base"
    except Exception:
        revision = "unknown"
    return {
        "version": version,
        "schema_revision": revision,
        "content_ref": content_ref(content),
        "color": COLOR.read(env),
    }


def content_ref(content: Any) -> str:
    """The content commit served (LessonContent.served_ref); else the repository's HEAD commit (12 hex
    digits); without git "archive" or "worktree"."""
    served = getattr(content, "served_ref", None)
    if callable(served):
        return str(served())
    settings = getattr(content, "settings", None)
    root = Path(getattr(settings, "root", "."))
    try:
        if not (root / ".git").exists():
            archive = getattr(settings, "archive", None)
            return (
                "archive" if archive is not None and (Path(archive) / "index.json").is_file() else "worktree"
            )
        from fiml_cms.gitrepo import GitRepo

        sha = GitRepo(root).head()
        return sha[:12] if sha else "unknown"
    except Exception:
        return "unknown"
