"""Processed update ids are kept for a window, then pruned, so `processed_events` stays bounded.

Telegram redelivers an update for at most 24 hours (it keeps undelivered updates that long), so an
update id older than that can never arrive again: keeping each id for a longer window
(`FIML_EVENT_RETENTION_HOURS`, default 48) keeps "at most once" for every update that can still
come, and the table holds about one window of updates instead of every update ever. Only update
ids (`telegram:<update_id>`) are pruned: the keys `notify` records ("this notice was sent") are
one per learner, lesson and version, and keep a rerun from messaging anyone twice, however late.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable

from .periodic import Periodic

log = logging.getLogger("fiml_bot.retention")

REDELIVERY_HORIZON = dt.timedelta(hours=24)
DEFAULT_RETENTION = dt.timedelta(hours=48)
PRUNE_EVERY = 3600.0  # seconds between prunes in a running bot
UPDATE_KEY_PREFIX = "telegram:"  # the tutor's event key of a Telegram update: telegram:<update_id>


@runtime_checkable
class Prunable(Protocol):
    """A store that keeps processed update ids (the SQL store; the in-memory one keeps none)."""

    def prune_events(self, before: dt.datetime, prefix: str) -> int: ...


def event_retention(env: Mapping[str, str]) -> dt.timedelta:
    """The window from FIML_EVENT_RETENTION_HOURS; it must be longer than Telegram's 24 h redelivery horizon."""
    from .settings import EVENT_RETENTION_HOURS

    return dt.timedelta(hours=min(EVENT_RETENTION_HOURS.read(env), 24 * 365 * 100))


def prune_old_updates(storage: Prunable, retention: dt.timedelta, now: dt.datetime) -> int:
    """Forget update ids processed more than `retention` before `now`; the number forgotten."""
    removed = storage.prune_events(now - retention, UPDATE_KEY_PREFIX)
    if removed:
        log.info("forgot %d processed update id(s) older than %s", removed, retention)
    return removed


def start_pruning(
    storage: object, retention: dt.timedelta, clock: Callable[[], dt.datetime], every: float = PRUNE_EVERY
) -> Periodic | None:
    """Prune now and every `every` seconds on a daemon thread; None for a store that keeps no update ids."""
    if not isinstance(storage, Prunable):  # an attribute check, as runtime_checkable protocols do
        return None
    prunable = storage
    periodic = Periodic(
        "event-pruning", every, lambda: prune_old_updates(prunable, retention, clock()), run_first=True
    )
    periodic.start()
    return periodic
