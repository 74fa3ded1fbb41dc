"""Opening what the bot's settings name: the lessons to serve and the progress store.

Shared by bootstrap (which builds the bot) and the operations' services, which open the content and
the store without building a bot.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fiml_cms.config import load_settings
from fiml_cms.gitrepo import OutsideRepository

from .bot_settings import BotSettings
from .content import LessonContent
from .tutor.policy import PolicySettings

if TYPE_CHECKING:
    from .storage.unit_of_work import Storage

log = logging.getLogger("fiml_bot")


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


def policy_settings(content: LessonContent) -> PolicySettings:
    table = dict(content.settings.policy)
    known = {k: table[k] for k in ("notify_minor_steps", "choice_on_major") if k in table}
    return PolicySettings(**known)


def open_units(settings: BotSettings, auto_upgrade: bool) -> Storage:
    from .storage import open_storage

    return open_storage(settings.database_url, auto_upgrade=auto_upgrade)
