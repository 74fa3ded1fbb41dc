"""What both command lines (`fiml-cms`, `fiml-bot`) share: how an app is made (plain help that wraps
instead of cutting words, completion on the root), how it runs (a closed stdout ends it quietly, as git
does), `--version` and the `Example:` epilog."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer


def new_app(name: str | None = None, *, root: bool = False, **settings: Any) -> typer.Typer:
    """A Typer app with the conventions of both tools.

    Help is Click's plain formatter (`rich_markup_mode=None`): it wraps at the terminal's width where
    rich's option table cuts long words with "…" at 80 columns (a default URL, a variable's name).
    The root app offers `--install-completion` / `--show-completion` (bash, zsh, fish).
    """
    settings.setdefault("no_args_is_help", True)
    return typer.Typer(
        name=name,
        add_completion=root,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        **settings,
    )


def run_app(app: typer.Typer) -> None:
    """Run `app` as a console script; a reader that closed stdout (`| head -1`) ends it quietly.

    Each command's error handler deals with a closed pipe while it writes; this catches what is still
    buffered when the command returns. Like git: no message, status 141 (128 + SIGPIPE).
    """
    import sys

    from .error_handler import PIPE_CLOSED, silence_stdout

    try:
        try:
            app()
        except SystemExit as exit_:
            # Click ends an eager option (--help, --version) that met a closed pipe with a quiet exit 1
            if exit_.code == 1 and stdout_closed():
                raise SystemExit(PIPE_CLOSED) from None
            raise
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
        raise SystemExit(PIPE_CLOSED) from None


def stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone (poll reports an error on its write end)."""
    import select
    import sys

    try:
        poller = select.poll()
        poller.register(sys.__stdout__.fileno(), select.POLLOUT)  # type: ignore[union-attr]
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return False


def example(command: str) -> str:
    """The `Example:` epilog every command's --help ends with."""
    return f"Example:  {command}"


def version_option(program: str, version: str) -> Any:
    """An eager `--version` option that prints `PROGRAM VERSION` and exits 0."""

    def show(value: bool) -> None:
        if value:
            print(f"{program} {version}")
            raise typer.Exit()

    callback: Callable[[bool], None] = show
    return typer.Option(
        False, "--version", callback=callback, is_eager=True, help="Print the version and exit."
    )
