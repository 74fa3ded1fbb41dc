"""Builds the bot from settings: the only module that knows every piece."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fiml_cms.config import load_settings
from fiml_cms.gitrepo import OutsideRepository

from .content import LessonContent
from .live import ContentRefresher
from .periodic import Periodic
from .settings import Settings, load
from .tutor.engine import Tutor
from .tutor.policy import PolicySettings

if TYPE_CHECKING:
    from .ops.runtime import Operations
    from .storage.unit_of_work import Storage

log = logging.getLogger("fiml_bot")


@dataclass(frozen=True)
class BotSettings:
    """Where the content and the database are; from options, then FIML_* variables, then defaults."""

    content: Path = Path(".")
    lessons: Path | None = None  # --lessons: overrides the content repository's `lessons` setting
    database_url: str = "sqlite:///var/fiml.db"
    preview: bool | None = None  # None: preview only when the repository has no published version
    content_remote: str | None = None  # where new tags are fetched from (None: the clone's origin, if any)
    content_refresh: float = 10.0  # seconds between content refreshes while the bot runs (0: only on SIGHUP)
    event_retention: dt.timedelta = dt.timedelta(hours=48)  # processed update ids are kept this long
    env: Settings = field(default_factory=lambda: load({}))  # every FIML_* setting, checked

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> BotSettings:
        """From options (`overrides`), then the checked FIML_* settings, then defaults. `env` is what
        the entry point read (`os.environ`), or a `Settings` already loaded; None: no variables."""
        from .live import refresh_interval
        from .retention import event_retention
        from .settings import CONTENT_REMOTE, CONTENT_REPO, DATABASE_URL
        from .storage.database import DEFAULT_URL

        checked = env if isinstance(env, Settings) else load({} if env is None else env)
        values: dict[str, object] = {
            "content": Path(checked.value(CONTENT_REPO)),
            "database_url": checked.value(DATABASE_URL) or DEFAULT_URL,
            "content_remote": checked.value(CONTENT_REMOTE) or None,
            "content_refresh": refresh_interval(checked),
            "event_retention": event_retention(checked),
            "env": checked,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if overrides.get("database_url") is None and not checked.is_set(DATABASE_URL):
            values["database_url"] = default_database_url(Path(str(values["content"])))
        return cls(**values)  # type: ignore[arg-type]


def default_database_url(content: Path) -> str:
    """The default SQLite file, under the content repository's root (found like git finds its own), so
    `fiml-bot chat` run from `content/` uses the same progress as from the root."""
    from fiml_cms.config import find_root

    return f"sqlite:///{find_root(content) / 'var' / 'fiml.db'}"


def open_content(settings: BotSettings) -> LessonContent:
    """The lessons to serve; a content path that does not exist is a usage error."""
    from fiml_cms.errors import UsageError

    if not settings.content.is_dir():
        raise UsageError(
            f"{settings.content}: no such content folder (give the content repository with --content or FIML_CONTENT_REPO)"
        )
    return _open_lessons(settings)


def require_lessons(content: LessonContent) -> LessonContent:
    """A bot with nothing to teach is a mistake in its settings: say which folder was empty."""
    from fiml_cms.errors import UsageError

    if not content.lesson_ids():
        settings = content.settings
        where = (
            f"`lessons` in {settings.config_file}"
            if settings.config_file is not None
            else f"`lessons` in {settings.root / '.fiml-cms.toml'} (default content/lessons)"
        )
        raise UsageError(
            f"{settings.lessons}: no lessons to serve in {settings.root}: the lessons folder is set by {where} or --lessons; "
            "write one with `fiml-cms new ID --title TITLE`, or point --content at a content repository"
        )
    return content


def _open_lessons(settings: BotSettings) -> LessonContent:
    repo = load_settings(settings.content, settings.lessons)
    preview = settings.preview
    if preview is None:
        try:
            published = (
                LessonContent.open(repo.root, repo, preview=False, remote=settings.content_remote)
                if (repo.root / ".git").exists() or (repo.archive / "index.json").is_file()
                else None
            )
        except OutsideRepository as exc:  # lessons git cannot track have no published versions
            log.warning("%s", exc)
            published = None
        if published is not None and published.lesson_ids():
            return published
        log.warning("no published lesson versions in %s: serving the lessons folder as a preview", repo.root)
        preview = True
    return LessonContent.open(repo.root, repo, preview=preview, remote=settings.content_remote)


def chat_fetches(asked: bool, settings: BotSettings) -> bool:
    """Whether `chat` fetches from the content remote: only when asked (--fetch) or when a remote is
    configured (FIML_CONTENT_REMOTE). An author's clone is theirs: chat pulls no tags into it by
    itself (`run` always fetches: its clone is the bot's)."""
    return asked or settings.content_remote is not None


def policy_settings(content: LessonContent) -> PolicySettings:
    table = dict(content.settings.policy)
    known = {k: table[k] for k in ("notify_minor_steps", "choice_on_major") if k in table}
    return PolicySettings(**known)


def open_units(settings: BotSettings, auto_upgrade: bool) -> Storage:
    from .storage import open_storage

    return open_storage(settings.database_url, auto_upgrade=auto_upgrade)


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
