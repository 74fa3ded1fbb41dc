"""What every `fiml-bot` command module shares (bot.py, flags.py, ops.py, ...): the common options,
the error handler, and the settings they build. A module of its own, so the command modules import it
instead of each other (flags used to import the root app, which imported flags back)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fiml_cms.error_handler import handle_errors

from ..settings import DEBUG, METRICS_PORT, option_help

if TYPE_CHECKING:
    from ..bot_settings import BotSettings
    from ..settings import Settings


def debug_requested() -> bool:
    """FIML_DEBUG, read from this process's environment only when a bug is reported."""
    return DEBUG.read(os.environ)


user_errors = handle_errors(
    "fiml-bot", debug_requested
)  # FimlError -> message and exit code; a bug -> exit 3

ContentOption = typer.Option(
    None, "--content", help="The content repository (default: FIML_CONTENT_REPO, else the current folder)."
)
LessonsOption = typer.Option(
    None,
    "--lessons",
    help="The lessons folder (default: `lessons` in the content repository's .fiml-cms.toml or pyproject.toml tool.fiml-cms table, as for fiml-cms; else content/lessons).",
)
DatabaseOption = typer.Option(
    None,
    "--database",
    help="Database URL (default: FIML_DATABASE_URL, else var/fiml.db under the content repository's root).",
)
MetricsPortOption = typer.Option(
    None,
    "--metrics-port",
    envvar=METRICS_PORT.name,
    min=1,
    max=65535,
    help=option_help(METRICS_PORT),
)


def environment() -> Settings:
    """Every FIML_* variable of this process, read and checked once (SettingsError, exit 2, listing
    each bad one): the entry points' one reader of `os.environ`. The crash tests' fault injector
    (FIML_KILL_AT) is armed here, so the kill points deep in `db restore` never read the environment."""
    from ..ops import killpoints
    from ..settings import KILL_AT, load

    loaded = load(os.environ)
    killpoints.arm(loaded.value(KILL_AT))
    return loaded


def bot_settings(
    content: Path | None, database: str | None, *, preview: bool | None = None, lessons: Path | None = None
) -> BotSettings:
    """The bot's settings: these options first, then FIML_* variables, then defaults.

    Every command that touches the database gets its URL here, so this is where an interrupted
    `db restore`'s leftovers are cleared, before the command does anything (`ops/recovery.py`)."""
    from ..bot_settings import BotSettings
    from ..ops.recovery import recover_quietly

    settings = BotSettings.from_env(
        environment(), content=content, database_url=database, preview=preview, lessons=lessons
    )
    recover_quietly(settings.database_url)
    return settings
