"""Content canaries judged by what their learners learn: one look (`canary status`) or a watch that
rolls the canary back, or promotes it, on the verdict (`canary watch`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..bot_settings import BotSettings
from ..opening import open_units
from ..ops.canary_stats import ROLLBACK
from ..ops.canary_stats import Settings as Thresholds
from ..ops.canary_watch import CanaryWatch, Check
from ..ops.runtime import flags_path


@dataclass(frozen=True)
class CanaryJudge:
    """How the canary is judged: the statistics' thresholds and when an attempt counts as abandoned
    (the defaults are the CLI options')."""

    confidence: float
    min_learners: int
    margin: float
    abandon_hours: float


def _watch(
    settings: BotSettings, lesson: str, flags: Path | None, judge: CanaryJudge, promote: bool
) -> CanaryWatch:
    path = flags if flags is not None else flags_path(settings.content, settings.env)
    return CanaryWatch(
        open_units(settings, auto_upgrade=False),
        lesson,
        path,
        settings.content,
        settings=Thresholds(judge.confidence, judge.min_learners, judge.margin),
        abandon_after=dt.timedelta(hours=judge.abandon_hours),
        promote=promote,
    )


def is_worse(check: Check) -> bool:
    """The verdict is to roll back a canary that still serves learners (`canary status` exits 1)."""
    return check.verdict.action == ROLLBACK and check.canary.percent > 0


def canary_status(settings: BotSettings, lesson: str, *, flags: Path | None, judge: CanaryJudge) -> Check:
    """The lesson's canary against the stable version; changes nothing."""
    watch = _watch(settings, lesson, flags, judge, promote=False)
    try:
        return watch.check(act=False)
    finally:
        watch.storage.close()


def canary_watch(
    settings: BotSettings,
    lesson: str,
    *,
    flags: Path | None,
    judge: CanaryJudge,
    promote: bool,
    interval: float,
    max_checks: int | None,
    on_check: Callable[[Check], None],
) -> Check:
    """Check every `interval` seconds (at most `max_checks` times) and act on each verdict, telling
    `on_check` each look; the last look (its `done` says "rolled back ..." when it rolled back)."""
    watcher = _watch(settings, lesson, flags, judge, promote)
    try:
        return watcher.run(interval, max_checks, on_check)
    finally:
        watcher.storage.close()
