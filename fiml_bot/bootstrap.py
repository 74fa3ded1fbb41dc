"""Builds the bot from settings: the only module that knows every piece."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from fiml_cms.config import load_settings

from .content import LessonContent
from .tutor.engine import Tutor
from .tutor.policy import PolicySettings
from .tutor.ports import UnitOfWork

log = logging.getLogger("fiml_bot")


@dataclass(frozen=True)
class BotSettings:
    """Where the content and the database are; from options, then FIML_* variables, then defaults."""

    content: Path = Path(".")
    database_url: str = "sqlite:///var/fiml.db"
    preview: bool | None = None  # None: preview only when the repository has no published version
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> "BotSettings":
        from .storage.database import database_url

        env = os.environ if env is None else env
        values: dict[str, object] = {
            "content": Path(env.get("FIML_CONTENT_REPO", ".")),
            "database_url": database_url(env),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def open_content(settings: BotSettings) -> LessonContent:
    repo = load_settings(settings.content)
    preview = settings.preview
    if preview is None:
        published = LessonContent.open(repo.root, repo, preview=False) if (repo.root / ".git").exists() or (repo.archive / "index.json").is_file() else None
        if published is not None and published.lesson_ids():
            return published
        log.warning("no published lesson versions in %s: serving the lessons folder as a preview", repo.root)
        preview = True
    return LessonContent.open(repo.root, repo, preview=preview)


def policy_settings(content: LessonContent) -> PolicySettings:
    table = dict(content.settings.policy)
    known = {k: table[k] for k in ("notify_minor_steps", "choice_on_major") if k in table}
    return PolicySettings(**known)


def open_units(settings: BotSettings, auto_upgrade: bool) -> Callable[[], UnitOfWork]:
    from .storage import open_storage

    return open_storage(settings.database_url, auto_upgrade=auto_upgrade)


def build_tutor(settings: BotSettings, *, auto_upgrade: bool = False, ops: Any = None) -> Tutor:
    """The tutor; with `ops` (fiml_bot.ops.runtime.Operations) it reports metrics and follows the flags."""
    content = open_content(settings)
    units = open_units(settings, auto_upgrade)
    if ops is None:
        return Tutor(content, units, policy=policy_settings(content))
    ops.metrics.watch_content(lambda: content.refreshed_at)
    return Tutor(content, units, policy=policy_settings(content), observer=ops.observer, features=ops.flags, rollout=ops.rollout)
