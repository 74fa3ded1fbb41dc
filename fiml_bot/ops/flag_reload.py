"""Reloads the flag file on an interval and on SIGHUP, in a daemon thread.

It shares its loop (`Periodic`) and chained SIGHUP handler with the content refresher. A file that fails its
check (a syntax error too), or disappears when it was configured (FIML_FLAGS_FILE), keeps the last
good flags in use, is logged and counted, and raises an alert once per distinct problem; the next
good file resolves the alert. The default file (deploy/flags.json) absent means no flags, as at start.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..periodic import Periodic, on_sighup
from .alerts import Alert
from .flags import FeatureFlags, FlagFileError, read_file

log = logging.getLogger("fiml_bot.flags")

DEFAULT_INTERVAL = 30.0


class FlagReloader:
    def __init__(
        self,
        path: Path,
        flags: FeatureFlags,
        *,
        interval: float = DEFAULT_INTERVAL,
        metrics: Any = None,
        alert: Callable[[Alert], None] | None = None,
        required: bool = False,
    ) -> None:
        self.path = path
        self.required = required  # the operator named the file: its absence is a problem
        self.flags = flags
        self.interval = interval
        self.metrics = metrics
        self.alert = alert
        self._periodic = Periodic("flag-reloader", interval, self._reload_safely)
        self._restore_sighup: Callable[[], None] | None = None
        self._last_problem: str | None = None
        self._lock = threading.Lock()

    def reload(self) -> str:
        """Check and load the file now: "loaded", "unchanged" or "invalid" (the last good flags stay)."""
        with self._lock:
            try:
                if self.required and not self.path.exists():
                    raise FlagFileError(str(self.path), [f"{self.path}: the flag file is gone"])
                checked = read_file(self.path)  # an absent default file: no flags (EMPTY)
            except FlagFileError as exc:
                self._count("invalid")
                self._problem(str(exc))
                return "invalid"
            self._resolved()
            if checked.digest == self.flags.flags.digest:
                self._count("unchanged")
                return "unchanged"
            changed = self.flags.provider.replace(checked)
            log.info(
                "flags reloaded from %s: %d flag(s), changed: %s",
                self.path,
                len(checked.flags),
                ", ".join(changed) or "none",
            )
            self._count("loaded")
            if self.metrics is not None:
                self.metrics.flags_loaded_at.set_to_current_time()
            return "loaded"

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.flag_reloads.labels(outcome).inc()

    def _resolved(self) -> None:
        if self._last_problem is None:
            return
        self._last_problem = None
        log.info("the flag file %s is valid again", self.path)
        resolve = getattr(self.alert, "resolve", None)  # an AlertSender's
        if resolve is not None:
            resolve("FlagFileInvalid")

    def _problem(self, message: str) -> None:
        log.error("%s; keeping the last good flags", message)
        if message != self._last_problem and self.alert is not None:
            self.alert(
                Alert(
                    "FlagFileInvalid",
                    "warning",
                    "The feature-flag file is invalid; the bot keeps its last good flags",
                    message,
                )
            )
        self._last_problem = message

    # -- the loop -----------------------------------------------------------------------------
    def start(self) -> None:
        """Reload every `interval` seconds and on SIGHUP (when called from the main thread)."""
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGHUP"):
            self._restore_sighup = on_sighup(self._on_sighup)
        self._periodic.start()

    def stop(self) -> None:
        self._periodic.stop()
        if self._restore_sighup is not None:
            self._restore_sighup()
            self._restore_sighup = None

    def request(self) -> None:
        """Reload as soon as possible (what SIGHUP does)."""
        self._periodic.wake()

    def _on_sighup(self) -> None:
        log.info("SIGHUP: reloading the flag file")
        self.request()

    def _reload_safely(self) -> None:
        try:
            self.reload()
        except Exception:  # the loop must outlive any surprise
            log.exception("reloading the flag file failed")
