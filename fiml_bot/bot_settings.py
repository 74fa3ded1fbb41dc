"""The bot's settings: where the content and the database are, from options, FIML_* variables, defaults.

A module of its own (it was in bootstrap.py) so the services and the CLI can take settings without
importing the module that builds the bot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .settings import Settings, load


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
    pg_bindir: str = ""  # where pg_dump and pg_restore are (FIML_PG_BINDIR; "": on PATH)
    env: Settings = field(default_factory=lambda: load({}))  # every FIML_* setting, checked

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> BotSettings:
        """From options (`overrides`), then the checked FIML_* settings, then defaults. `env` is what
        the entry point read (`os.environ`), or a `Settings` already loaded; None: no variables."""
        from .live import refresh_interval
        from .retention import event_retention
        from .settings import CONTENT_REMOTE, CONTENT_REPO, DATABASE_URL, PG_BINDIR
        from .storage.database import DEFAULT_URL

        checked = env if isinstance(env, Settings) else load({} if env is None else env)
        values: dict[str, object] = {
            "content": Path(checked.value(CONTENT_REPO)),
            "database_url": checked.value(DATABASE_URL) or DEFAULT_URL,
            "content_remote": checked.value(CONTENT_REMOTE) or None,
            "content_refresh": refresh_interval(checked),
            "event_retention": event_retention(checked),
            "pg_bindir": checked.value(PG_BINDIR),
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
