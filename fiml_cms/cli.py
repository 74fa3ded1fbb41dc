"""The `fiml-cms` command line: parse options, call one command, render, exit.

Errors a user can act on (`FimlError`) become a one-line message and an exit code; every
command's heavy imports happen inside it, so `fiml-cms --help` stays fast.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any, Callable, List, Optional, TypeVar

import typer

from .errors import FimlError, UsageError

app = typer.Typer(
    name="fiml-cms",
    help="Lesson content in git: validate, version, tag and archive lessons.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """Turn a FimlError into its message on stderr and its exit code; no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FimlError as exc:
            print(f"fiml-cms: error: {exc}", file=sys.stderr)
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


LessonsOption = typer.Option(None, "--lessons", help="Lessons folder (default: from .fiml-cms.toml / [tool.fiml-cms], else content/lessons).")


@app.command()
@user_errors
def validate(
    paths: Optional[List[Path]] = typer.Argument(None, help="Lesson or path files, or folders (default: the repository's lessons and paths)."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help="text | json | github | sarif (default: github under GitHub Actions, else text)."),
    strict: bool = typer.Option(False, "--strict", help="Fail on warnings too."),
    lessons: Optional[Path] = LessonsOption,
) -> None:
    """Check lessons against the schema and the semantic rules. Exit 0 clean, 1 findings, 2 usage error."""
    from . import report
    from .commands.validate import validate as run_validate
    from .config import load_settings

    chosen = fmt or report.default_format()
    if chosen not in report.FORMATS:
        raise UsageError(f"unknown format {chosen!r}; choose one of {', '.join(report.FORMATS)}")
    start = paths[0] if paths else Path.cwd()
    settings = load_settings(start, lessons)
    result = run_validate(list(paths or []), settings)
    output = report.render(result, chosen, color=chosen == "text" and _stdout_is_terminal())
    if output:
        print(output)
    raise typer.Exit(result.exit_code(strict))


@app.command()
@user_errors
def new(
    lesson_id: str = typer.Argument(..., metavar="ID", help="The new lesson's id, e.g. bond_basics."),
    title: str = typer.Option(..., "--title", "-t", help="The lesson's title."),
    category: str = typer.Option("general", "--category", help="Topic group."),
    difficulty: str = typer.Option("beginner", "--difficulty", help="beginner | intermediate | advanced."),
    lessons: Optional[Path] = LessonsOption,
) -> None:
    """Write a valid lesson skeleton to <lessons>/<ID>.yaml."""
    from .commands.new import new_lesson
    from .config import load_settings

    target = new_lesson(lesson_id, title, load_settings(Path.cwd(), lessons), category, difficulty)
    print(f"created {target}")


def _stdout_is_terminal() -> bool:
    import os

    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def main() -> None:
    """Console entry point."""
    app()
