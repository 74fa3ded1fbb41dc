"""Live content: a running bot picks up newly published tags without a restart.

A daemon thread refreshes the content every `FIML_CONTENT_REFRESH` seconds (default 10), and at once
on SIGHUP: one `git fetch --tags` from `FIML_CONTENT_REMOTE` or the clone's `origin` (when there is
one), then the incremental re-index and the catalogue swap of `LessonContent.refresh`. A failure is
logged and tried again at the next interval; it never stops the bot. Content that has not refreshed
successfully for `STALE_AFTER` intervals is reported by `/readyz`.

The refresh runs beside the updates in flight, never inside one: an action keeps the catalogue it
started with, and the swap is a single assignment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Protocol

from fiml_cms.errors import FimlError

from .periodic import Periodic, on_sighup

log = logging.getLogger("fiml_bot.live")

DEFAULT_INTERVAL = 10.0
STALE_AFTER = 5  # intervals without a successful refresh before /readyz says so


def refresh_interval(env: Mapping[str, str]) -> float:
    """Seconds between refreshes from FIML_CONTENT_REFRESH (0 turns periodic refresh off; SIGHUP still works)."""
    from .settings import CONTENT_REFRESH

    return CONTENT_REFRESH.read(env)


class Refreshable(Protocol):
    """What the refresher needs from the content (`LessonContent`)."""

    max_staleness: float | None

    def refresh(self) -> None: ...


class ContentRefresher:
    """Refreshes `content` every `interval` seconds and whenever `wake()` is called (SIGHUP)."""

    def __init__(self, content: Refreshable, interval: float = DEFAULT_INTERVAL) -> None:
        self.content = content
        self.interval = interval
        self._woken = False
        self._failing: str | None = None  # the last failure, until a refresh works again
        self._periodic = Periodic("content-refresh", interval, self._scheduled)
        self.refreshes = 0  # attempts, for tests and logs
        self.on_refreshed: list[Callable[[], None]] = []  # after each refresh that worked (build info)
        if interval > 0:
            content.max_staleness = STALE_AFTER * interval

    def refresh_now(self) -> bool:
        """One refresh; False (logged) when it failed. Never raises for a content or git problem."""
        self.refreshes += 1
        try:
            self.content.refresh()
        except FimlError as exc:
            # The first failure is a warning; the same failure again (a remote down for hours) only info.
            level = logging.INFO if str(exc) == self._failing else logging.WARNING
            log.log(level, "content refresh failed (trying again in %g s): %s", self.interval, exc)
            self._failing = str(exc)
            return False
        except Exception:  # a bug in a refresh must not take the bot down: the old content keeps serving
            log.exception("content refresh failed unexpectedly")
            return False
        if self._failing is not None:
            log.warning("content refresh works again")
            self._failing = None
        for follow in self.on_refreshed:
            try:
                follow()
            except Exception:  # reporting must never stop the refreshes
                log.exception("after the content refresh")
        return True

    def _scheduled(self) -> None:
        if self._woken:
            self._woken = False
            log.info("refreshing the content now (SIGHUP)")
        self.refresh_now()

    def wake(self) -> None:
        self._woken = True
        self._periodic.wake()

    def start(self) -> ContentRefresher:
        self._periodic.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._periodic.stop(timeout)

    def install_sighup(self) -> Callable[[], None]:
        """SIGHUP refreshes at once (main thread only); returns a function that restores the old handler."""
        return on_sighup(self.wake)

    def __enter__(self) -> ContentRefresher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
