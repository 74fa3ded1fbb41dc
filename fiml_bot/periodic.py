"""A job run every N seconds on a daemon thread, at once when woken, until stopped (content refresh,
flag reload, pruning), and SIGHUP handlers that chain."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

log = logging.getLogger("fiml_bot.periodic")


class Periodic:
    """Runs `job` every `interval` seconds (0: only when woken); `job` handles its own errors."""

    def __init__(
        self, name: str, interval: float, job: Callable[[], object], *, run_first: bool = False
    ) -> None:
        self.name = name
        self.interval = interval
        self.job = job
        self.run_first = run_first
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        if self.run_first:
            self._safely()
        while not self._stop.is_set():
            self._wake.wait(self.interval if self.interval > 0 else None)
            if self._stop.is_set():
                return
            self._wake.clear()
            self._safely()

    def _safely(self) -> None:
        try:
            self.job()
        except Exception:  # a failing job must not end the thread: it runs again next time
            log.exception("%s failed", self.name)


def on_sighup(action: Callable[[], None]) -> Callable[[], None]:
    """Run `action` on SIGHUP, then whatever handled SIGHUP before (the content refresher and the flag
    reloader both listen); returns a function that restores the previous handler. Main thread only
    (ValueError elsewhere, as `signal.signal` raises)."""
    previous = signal.getsignal(signal.SIGHUP)

    def handler(signum: int, frame: FrameType | None) -> None:
        action()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGHUP, handler)

    def restore() -> None:
        signal.signal(signal.SIGHUP, previous)

    return restore
