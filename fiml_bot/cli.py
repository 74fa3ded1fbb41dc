"""The `fiml-bot` command line: the terminal chat, database migrations, progress documents."""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

import typer

app = typer.Typer(name="fiml-bot", help="The FIML learning bot: chat, database and progress tools.", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema migrations (Alembic).", no_args_is_help=True)
app.add_typer(db_app, name="db")

F = TypeVar("F", bound=Callable[..., Any])

ContentOption = typer.Option(None, "--content", help="The content repository (default: FIML_CONTENT_REPO, else the current folder).")
DatabaseOption = typer.Option(None, "--database", help="Database URL (default: FIML_DATABASE_URL, else sqlite:///var/fiml.db).")


def user_errors(func: F) -> F:
    """Known failures become a one-line message and an exit code, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from fiml_cms.errors import FimlError

        from .storage.database import DatabaseUrlError
        from .tutor.ports import StorageUnavailable

        try:
            return func(*args, **kwargs)
        except FimlError as exc:
            print(f"fiml-bot: error: {exc}", file=sys.stderr)
            raise typer.Exit(exc.exit_code) from None
        except (StorageUnavailable, DatabaseUrlError) as exc:
            print(f"fiml-bot: error: {exc}", file=sys.stderr)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _settings(content: Optional[Path], database: Optional[str], **extra: object) -> Any:
    from .bootstrap import BotSettings

    return BotSettings.from_env(content=content, database_url=database, **extra)


@app.command()
@user_errors
def chat(
    content: Optional[Path] = ContentOption,
    database: Optional[str] = DatabaseOption,
    user: str = typer.Option("local", "--user", help="The learner to chat as (progress is kept per user)."),
    preview: Optional[bool] = typer.Option(None, "--preview/--published", help="Serve the lessons folder as it is, or only published versions (default: preview when nothing is published)."),
) -> None:
    """Chat with the tutor in the terminal; reads lines from stdin (a number picks a button)."""
    from .adapters.console import ConsoleChat
    from .bootstrap import build_tutor

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    tutor = build_tutor(_settings(content, database, preview=preview), auto_upgrade=True)
    learner = f"console:{user}"
    chat_ = ConsoleChat(lambda event: tutor.handle(learner, event, name=user))
    raise typer.Exit(chat_.run(sys.stdin, interactive=sys.stdin.isatty()))


@db_app.command("upgrade")
@user_errors
def db_upgrade(revision: str = typer.Argument("head"), database: Optional[str] = DatabaseOption) -> None:
    """Migrate the database up to REVISION (default: the newest)."""
    from .storage import migrations_api

    url = _settings(None, database).database_url
    migrations_api.upgrade(url, revision)
    print(f"database at {migrations_api.current(url)}")


@db_app.command("downgrade")
@user_errors
def db_downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. -1 or base."), database: Optional[str] = DatabaseOption) -> None:
    """Migrate the database down to REVISION."""
    from .storage import migrations_api

    url = _settings(None, database).database_url
    migrations_api.downgrade(url, revision)
    print(f"database at {migrations_api.current(url) or 'base (empty)'}")


@db_app.command("current")
@user_errors
def db_current(database: Optional[str] = DatabaseOption) -> None:
    """Print the database's schema revision and the newest one."""
    from .storage import migrations_api

    url = _settings(None, database).database_url
    current, head = migrations_api.current(url), migrations_api.head()
    state = "up to date" if current == head else "run `fiml-bot db upgrade`"
    print(f"current: {current or 'base (empty)'}\nhead: {head}\n{state}")


def main() -> None:
    app()
