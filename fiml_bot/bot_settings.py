"""The bot's settings: where the content and the database are, from options, FIML_* variables, defaults.

A module of its own (it was in bootstrap.py) so the services and the CLI can take settings without
importing the module that builds the bot.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


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
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> BotSettings:
        from .live import REMOTE_VARIABLE, refresh_interval
        from .retention import event_retention
        from .storage.database import URL_VARIABLE, database_url

        env = os.environ if env is None else env
        values: dict[str, object] = {
            "content": Path(env.get("FIML_CONTENT_REPO", ".")),
            "database_url": database_url(env),
            "content_remote": env.get(REMOTE_VARIABLE, "").strip() or None,
            "content_refresh": refresh_interval(env),
            "event_retention": event_retention(env),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if overrides.get("database_url") is None and not env.get(URL_VARIABLE, "").strip():
            values["database_url"] = default_database_url(Path(str(values["content"])))
        return cls(**values)  # type: ignore[arg-type]


def default_database_url(content: Path) -> str:
    """The default SQLite file, under the content repository's root (found like git finds its own), so
    `fiml-bot chat` run from `content/` uses the same progress as from the root."""
    from fiml_cms.config import find_root

    return f"sqlite:///{find_root(content) / 'var' / 'fiml.db'}"
