"""Builds the bot from settings: the only module that knows every piece.

Imported by entry points only (the CLI, launch.py); BotSettings and open_content are re-exported
from bot_settings.py and opening.py for them and for tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .bot_settings import BotSettings as BotSettings
from .bot_settings import default_database_url as default_database_url
from .content import LessonContent
from .live import ContentRefresher
from .opening import open_content as open_content
from .opening import open_units, policy_settings, require_lessons
from .periodic import Periodic
from .tutor.engine import Tutor

if TYPE_CHECKING:
    from .ops.runtime import Operations
    from .storage.unit_of_work import Storage


def chat_fetches(asked: bool, settings: BotSettings) -> bool:
    """Whether `chat` fetches from the content remote: only when asked (--fetch) or when a remote is
    configured (FIML_CONTENT_REMOTE). An author's clone is theirs: chat pulls no tags into it by
    itself (`run` always fetches: its clone is the bot's)."""
    return asked or settings.content_remote is not None


@dataclass(frozen=True)
class BotParts:
    """The built bot: the tutor, and the concrete content and storage it was built on (the tutor sees
    them through its ports; the refresher, the pruner and notify need what the ports leave out)."""

    tutor: Tutor
    content: LessonContent
    storage: Storage


@dataclass
class Background:
    """The running bot's housekeeping threads: content refresh (and SIGHUP), pruning of old update ids."""

    refresher: ContentRefresher
    pruner: Periodic | None = None

    def stop(self) -> None:
        self.refresher.stop()
        if self.pruner is not None:
            self.pruner.stop()


def start_background(parts: BotParts, settings: BotSettings, *, prune_events: bool = False) -> Background:
    """Refresh the content in the background and on SIGHUP (and prune old update ids); `stop()` after."""
    from .rescore_watch import RescoreAfterRefresh
    from .retention import start_pruning
    from .storage.timestamps import utc_now

    refresher = ContentRefresher(RescoreAfterRefresh(parts.content, parts.tutor), settings.content_refresh)
    refresher.start()
    try:
        refresher.install_sighup()
    except ValueError:  # not the main thread (an embedding test): periodic refresh only
        pass
    pruner = start_pruning(parts.storage, settings.event_retention, utc_now) if prune_events else None
    return Background(refresher, pruner)


def build(settings: BotSettings, *, auto_upgrade: bool = False, ops: Operations | None = None) -> BotParts:
    """The tutor on the settings' content and database; with `ops` it reports metrics and follows the flags."""
    content = require_lessons(open_content(settings))
    storage = open_units(settings, auto_upgrade)
    if ops is None:
        return BotParts(Tutor(content, storage, policy=policy_settings(content)), content, storage)
    ops.metrics.watch_content(content.refresh_age)
    ops.rollout.published = content.canaries  # content canaries travel with the content (issue 22)
    tutor = Tutor(
        content,
        storage,
        policy=policy_settings(content),
        observer=ops.observer,
        features=ops.flags,
        rollout=ops.rollout,
    )
    return BotParts(tutor, content, storage)
